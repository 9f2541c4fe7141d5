# TEST DOUBLE of nixpkgs nixos/modules/misc/nixpkgs.nix: hostPlatform / legacy system, and
# the `pkgs` module argument (the double's small package set).
{ config, options, lib, ... }:
let
  cfg = config.nixpkgs;
  opt = options.nixpkgs;
  effectiveSystem =
    if opt.hostPlatform.isDefined then cfg.hostPlatform.system
    else cfg.system;
in
{
  options.nixpkgs = {
    hostPlatform = lib.mkOption {
      type = lib.types.either lib.types.str lib.types.attrs;
      apply = lib.systems.elaborate;
      description = "Specifies the platform where the NixOS configuration will run.";
    };
    buildPlatform = lib.mkOption {
      type = lib.types.either lib.types.str lib.types.attrs;
      default = cfg.hostPlatform;
      apply = lib.systems.elaborate;
      description = "Specifies the platform on which NixOS should be built.";
    };
    system = lib.mkOption {
      type = lib.types.str;
      default =
        if opt.hostPlatform.isDefined then
          throw "Neither ${lib.showOption opt.system.loc} nor any other option in nixpkgs.* is meant to be read by modules and configurations.\nUse pkgs.stdenv.hostPlatform instead."
        else
          throw "Neither nixpkgs.hostPlatform nor the legacy option nixpkgs.system has been set.";
      description = "Legacy: the Nix platform type on which NixOS should be built.";
    };
    config = lib.mkOption { type = lib.types.attrs; default = { }; description = "The configuration of the Nix Packages collection."; };
    overlays = lib.mkOption { type = lib.types.listOf lib.types.unspecified; default = [ ]; description = "List of overlays (ignored by the double)."; };
    pkgs = lib.mkOption { type = lib.types.attrs; description = "An externally created package set."; };
  };

  config._module.args.pkgs = lib.mkOverride lib.defaultOverridePriority
    (if opt.pkgs.isDefined then cfg.pkgs else import ../../../pkgs { inherit lib; system = effectiveSystem; });
}
