{
  description = "Example homelab fleet managed with migen";

  inputs = {
    nixpkgs.url = "github:NixOS/nixpkgs/nixos-26.05";
    agenix.url = "github:ryantm/agenix";
    agenix.inputs.nixpkgs.follows = "nixpkgs";
    migen.url = "path:../..";
    migen.inputs.nixpkgs.follows = "nixpkgs";
  };

  outputs = { self, nixpkgs, agenix, migen }:
    let
      mkHost = name: hostDir: nixpkgs.lib.nixosSystem {
        specialArgs = { inherit migen; };
        modules = [
          agenix.nixosModules.default
          # migen options plus the committed generated/ of this repository (evaluate the example as
          # git+file:<repo>?dir=examples/homelab so that ../../generated is part of its source)
          (migen.lib.nixosModule { generatedDir = ../../generated; })
          ./hosts/common.nix
          hostDir
        ];
      };
      hosts = {
        h001 = ./hosts/h001; # home server: forgejo, zitadel (containers), llm, notes, chat
        h002 = ./hosts/h002; # new home server (migration target)
        h003 = ./hosts/h003; # adguardhome
        l001 = ./hosts/l001; # headscale
        newvps = ./hosts/newvps; # new VPS (headscale target)
        o001 = ./hosts/oracle/o001; # Oracle VPS: public nginx proxy, vaultwarden
      };
    in
    {
      nixosConfigurations = builtins.mapAttrs mkHost hosts;
    };
}
