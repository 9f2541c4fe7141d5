# TEST DOUBLE of assorted nixpkgs NixOS core modules with their types and defaults:
# misc/version.nix (system.stateVersion), misc/assertions.nix, misc/meta.nix,
# system/activation/top-level.nix (system.build.toplevel), config/system-path.nix,
# system/etc/etc.nix, config/nix.nix, config/locale.nix.
{ config, lib, pkgs, ... }:
let
  inherit (lib) mkOption types;
  release = "26.05";
  # STAND-IN for the system derivation of top-level.nix (`nixos-system-<name>-<label>`): it is
  # never built. Its inputs are the specialisations' and containers' toplevels, as in nixpkgs
  # (specialisation.nix links them into $out/specialisation, nixos-containers.nix names each
  # container's system in /etc/nixos-containers/<n>.conf), so instantiating it checks theirs too.
  baseSystem = builtins.derivation {
    name = "nixos-system-${config.system.name}-${config.system.nixos.label}";
    system = pkgs.stdenv.hostPlatform.system;
    builder = "/bin/sh";
    args = [ "-c" "echo 'nixpkgs test double: not buildable' >&2; exit 1" ];
    specialisations = lib.mapAttrsToList (_: s: s.configuration.system.build.toplevel) config.specialisation;
    containers = map (c: c.path) (lib.attrValues config.containers);
  };
in
{
  options = {
    # nixos/modules/system/activation/activation-script.nix: run at boot and by every
    # switch-to-configuration before units are restarted (the double keeps the texts; nothing runs them).
    system.activationScripts = mkOption {
      default = { };
      description = "A set of shell script fragments that are executed when a NixOS system configuration is activated.";
      type = types.attrsOf (types.either types.str (types.submodule {
        options = {
          deps = mkOption { type = types.listOf types.str; default = [ ]; description = "List of dependencies. The script will run after these."; };
          text = mkOption { type = types.lines; description = "The content of the script."; };
          supportsDryActivation = mkOption { type = types.bool; default = false; description = "Whether this activation script supports being dry-activated."; };
        };
      }));
    };
    system.stateVersion = mkOption {
      type = types.str;
      default = release;
      description = "The NixOS release with which stateful data was created.";
    };
    system.nixos.release = mkOption { type = types.str; default = release; readOnly = true; description = "The NixOS release."; };
    system.nixos.label = mkOption { type = types.strMatching "[a-zA-Z0-9:_\\.-]*"; default = release; description = "NixOS version name (nixpkgs adds the version suffix)."; };
    system.name = mkOption {
      type = types.str;
      default = if config.networking.hostName == "" then "unnamed" else config.networking.hostName;
      description = "The name of the system used in the system.build.toplevel derivation.";
    };
    # nixos/modules/system/build.nix: a freeform set of lazy, unique values
    system.build = mkOption {
      default = { };
      internal = true;
      description = "Attribute set of derivations used to set up the system.";
      type = types.submoduleWith {
        modules = [{
          freeformType = types.lazyAttrsOf (types.uniq types.unspecified);
          options.toplevel = mkOption {
            type = types.package;
            readOnly = true;
            description = "The store path that represents the NixOS system.";
          };
        }];
      };
    };

    # nixos/modules/misc/assertions.nix
    assertions = mkOption {
      type = types.listOf types.unspecified;
      internal = true;
      default = [ ];
      description = "List of assertions (`{ assertion; message; }`) checked when the system is built.";
    };
    warnings = mkOption {
      type = types.listOf types.str;
      internal = true;
      default = [ ];
      description = "List of warnings shown when the system is built.";
    };

    # nixos/modules/misc/meta.nix
    meta = {
      maintainers = mkOption { type = types.listOf types.raw; internal = true; default = [ ]; description = "Maintainers of the module."; };
      doc = mkOption { type = types.path; internal = true; description = "Documentation prologue."; };
      buildDocsInSandbox = mkOption { type = types.bool; internal = true; default = true; description = "Build docs in the sandbox."; };
    };

    boot.isNspawnContainer = mkOption { type = types.bool; default = false; description = "Whether the machine is running in an nspawn container."; };
    boot.isContainer = mkOption { type = types.bool; default = config.boot.isNspawnContainer; description = "Whether this NixOS machine is a lightweight container."; };
    environment.systemPackages = mkOption { type = types.listOf types.package; default = [ ]; description = "Packages in the system profile."; };
    environment.pathsToLink = mkOption { type = types.listOf types.str; default = [ ]; description = "Directories to link into the system profile."; };
    environment.etc = mkOption {
      type = types.attrsOf (types.submodule ({ name, config, ... }: {
        options = {
          enable = mkOption { type = types.bool; default = true; description = "Whether this /etc file should be generated."; };
          target = mkOption { type = types.str; default = name; description = "Name of symlink (relative to /etc)."; };
          text = mkOption { type = types.nullOr types.lines; default = null; description = "Text of the file."; };
          source = mkOption { type = types.path; description = "Path of the source file."; };
          mode = mkOption { type = types.str; default = "symlink"; description = "File mode."; };
          uid = mkOption { type = types.int; default = 0; description = "UID of created file."; };
          gid = mkOption { type = types.int; default = 0; description = "GID of created file."; };
          user = mkOption { type = types.str; default = "+${toString config.uid}"; description = "User name of file owner."; };
          group = mkOption { type = types.str; default = "+${toString config.gid}"; description = "Group name of file owner."; };
        };
        config.source = lib.mkIf (config.text != null) (lib.mkDefault (pkgs.writeText "etc-${lib.replaceStrings [ "/" ] [ "-" ] name}" config.text));
      }));
      default = { };
      description = "Files in /etc.";
    };
    time.timeZone = mkOption { type = types.nullOr (types.addCheck types.str (s: !lib.hasInfix " " s)); default = null; description = "The time zone."; };
    nix.settings = mkOption {
      type = types.submodule { freeformType = types.attrsOf types.anything; };
      default = { };
      description = "nix.conf settings (freeform here; nixpkgs declares some of them).";
    };
  };

  # nixpkgs top-level.nix: `baseSystemAssertWarn = lib.asserts.checkAssertWarn config.assertions
  # config.warnings baseSystem;` — so evaluating the toplevel throws "\nFailed assertions:\n- ...".
  config.system.build.toplevel = lib.asserts.checkAssertWarn config.assertions config.warnings baseSystem;
}
