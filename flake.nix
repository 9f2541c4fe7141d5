{
  description = "migen: generate reviewable NixOS service migrations (modules, runbooks, plans)";

  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-26.05";

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

      # Everything below that needs nixpkgs reads it per system, lazily: lib.*, nixosModules and
      # lib.mkApps itself (a function) evaluate without fetching nixpkgs.
      systems = [ "x86_64-linux" "aarch64-linux" ];
      forAllSystems = f: builtins.listToAttrs (map (system: { name = system; value = f system; }) systems);
      mkApps = import ./nix/apps.nix { inherit self; };
    in
    {
      # These outputs never touch nixpkgs: evaluating them does not fetch it.
      lib = {
        inventory = import ./nix/inventory.nix { };
        inventoryWith = import ./nix/inventory.nix;
        inherit nixosModule;
        # lib.mkApps { pkgs, generatedDir, migen ? packages.<system>.default }: the apps below
        # for a user's own flake (migen + migrate-<name> per generatedDir/runbooks/*.mjs).
        inherit mkApps;
      };

      nixosModules.default = ./nix/module.nix;

      # The only outputs that need nixpkgs (nixpkgs.legacyPackages.<system>).
      packages = forAllSystems (system: {
        default = import ./nix/package.nix { pkgs = nixpkgs.legacyPackages.${system}; };
      });

      apps = forAllSystems (system: mkApps {
        pkgs = nixpkgs.legacyPackages.${system};
        generatedDir = ./generated;
        migen = self.packages.${system}.default;
      });
    };
}
