# TEST DOUBLE of nixpkgs (github:NixOS/nixpkgs), for tests on a machine that cannot fetch it.
# A flake without inputs that offers the same attribute paths migen and the example fleet use:
# lib (modules, types, nixosSystem), legacyPackages.<system> (a handful of packages), and
# nixosModules-free NixOS evaluation through lib.nixosSystem. See README.md for what differs.
{
  description = "TEST DOUBLE of nixpkgs for migen's offline tests (not nixpkgs)";

  outputs = { self }:
    let
      lib = import ./lib;
      systems = [ "x86_64-linux" "aarch64-linux" ];
      finalLib = lib // {
        nixosSystem = args: import ./nixos/lib/eval-config.nix ({ lib = finalLib; system = null; } // args);
        nixos.evalModules = args: import ./nixos/lib/eval-config.nix ({ lib = finalLib; system = null; } // args);
      };
    in
    {
      lib = finalLib;
      legacyPackages = lib.genAttrs systems (system: import ./pkgs { lib = finalLib; inherit system; });
      nixosModules.notDetected = { };
    };
}
