# TEST DOUBLE of assorted nixpkgs NixOS core options (system.*, boot.*, environment.*,
# assertions, warnings, nix.settings, time.timeZone) with nixpkgs' types and defaults.
{ config, lib, pkgs, ... }:
let inherit (lib) mkOption types; in
{
  options = {
    system.stateVersion = mkOption {
      type = types.str;
      default = "24.11";
      description = "The NixOS release with which stateful data was created.";
    };
    system.nixos.release = mkOption { type = types.str; default = "24.11"; readOnly = true; description = "The NixOS release."; };
    system.build = mkOption {
      type = types.lazyAttrsOf types.unspecified;
      default = { };
      description = "Attribute set of derivations used to set up the system.";
    };
    boot.isContainer = mkOption { type = types.bool; default = false; description = "Whether this NixOS machine is a lightweight container."; };
    boot.enableContainers = mkOption { type = types.bool; default = true; description = "Whether to enable support for NixOS containers."; };
    environment.systemPackages = mkOption { type = types.listOf types.package; default = [ ]; description = "Packages in the system profile."; };
    environment.etc = mkOption {
      type = types.attrsOf (types.submodule ({ name, ... }: {
        options = {
          enable = mkOption { type = types.bool; default = true; };
          target = mkOption { type = types.str; default = name; };
          text = mkOption { type = types.nullOr types.lines; default = null; };
          source = mkOption { type = types.path; };
          mode = mkOption { type = types.str; default = "symlink"; };
          user = mkOption { type = types.str; default = "+0"; };
          group = mkOption { type = types.str; default = "+0"; };
        };
      }));
      default = { };
      description = "Files in /etc.";
    };
    assertions = mkOption { type = types.listOf types.unspecified; internal = true; default = [ ]; description = "Assertions."; };
    warnings = mkOption { type = types.listOf types.str; internal = true; default = [ ]; description = "Warnings."; };
    time.timeZone = mkOption { type = types.nullOr types.str; default = null; description = "The time zone."; };
    nix.settings = mkOption { type = types.attrsOf types.anything; default = { }; description = "nix.conf settings."; };
  };
}
