# TEST DOUBLE of nixpkgs nixos/lib/eval-config.nix (see ../../README.md).
# Returns what the real one returns that migen uses: config, options, pkgs, extendModules,
# _module, type, lib. `pkgs` comes from `_module.args.pkgs`, built from nixpkgs.hostPlatform
# (or the legacy nixpkgs.system / `system` argument) like the real nixpkgs module does.
{ lib
, system ? null
, modules
, specialArgs ? { }
, prefix ? [ ]
, baseModules ? import ../modules/module-list.nix
, extraModules ? [ ]
, pkgs ? null
, ...
}:
let
  pkgsModule = {
    _file = toString ./eval-config.nix;
    key = toString ./eval-config.nix;
    config = lib.mkMerge (
      (lib.optional (system != null) { nixpkgs.system = lib.mkDefault system; })
      ++ (lib.optional (pkgs != null) { _module.args.pkgs = lib.mkForce pkgs; })
    );
  };
  evalArgs = {
    inherit prefix;
    class = "nixos";
    specialArgs = { modulesPath = toString ../modules; } // specialArgs;
  };
  noUserModules = lib.evalModules (evalArgs // { modules = baseModules ++ [ pkgsModule ]; });
  eval = noUserModules.extendModules {
    modules = modules ++ extraModules ++ [ { _module.args.noUserModules = noUserModules; } ];
  };
  withExtraAttrs = configuration: configuration // {
    inherit (configuration._module.args) pkgs;
    inherit lib;
    extendModules = args: withExtraAttrs (configuration.extendModules args);
  };
in
withExtraAttrs eval
