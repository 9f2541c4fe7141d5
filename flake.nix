{
  description = "migen: generate reviewable NixOS service migrations (modules, runbooks, plans)";

  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-24.11";

  outputs = { self, nixpkgs }:
    let
      # lib.nixosModule { generatedDir } -> a NixOS module that declares migen's options and
      # imports generatedDir/default.nix when it exists. Host modules in generated/ guard
      # themselves with `lib.mkIf (config.networking.hostName == "<host>")`, so every host can
      # import the same directory. A missing directory (nothing generated yet) is fine.
      nixosModule = { generatedDir ? null }:
        let
          generatedDefault = if generatedDir == null then null else generatedDir + "/default.nix";
          hasGenerated = generatedDefault != null && builtins.pathExists generatedDefault;
        in
        { lib, ... }: {
          _file = "${toString ./flake.nix}#lib.nixosModule";
          imports = [ ./nix/module.nix ] ++ (if hasGenerated then [ generatedDefault ] else [ ]);
          config.migen.generatedDir = lib.mkIf (generatedDir != null) generatedDir;
        };
    in
    {
      # These outputs never touch nixpkgs: evaluating them does not fetch it.
      lib = {
        inventory = import ./nix/inventory.nix { };
        inventoryWith = import ./nix/inventory.nix;
        inherit nixosModule;
        # ---- reserved for the lead: lib.mkApps (runbooks as flake apps) goes here ----
      };

      nixosModules.default = ./nix/module.nix;

      # ---- reserved for the lead: packages.<system>.default (buildNpmPackage of migen) and
      # ---- apps.<system>.* (migen, migrate-<name>) go here. They are the only outputs that
      # ---- need nixpkgs (nixpkgs.legacyPackages.<system>).
    };
}
