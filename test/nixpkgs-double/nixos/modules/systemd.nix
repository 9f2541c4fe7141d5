# TEST DOUBLE of nixpkgs' systemd unit options (nixos/lib/systemd-unit-options.nix,
# nixos/lib/systemd-lib.nix, nixos/modules/system/boot/systemd.nix, .../systemd/tmpfiles.nix):
# the same names, types and defaults. Nothing is rendered into unit files.
{ config, lib, ... }:
let
  inherit (lib) mkOption types;

  inherit (import ../lib/systemd-unit-options.nix { inherit lib; }) unitOption unitNameType;
  units = description: mkOption { type = types.listOf unitNameType; default = [ ]; inherit description; };

  commonUnitOptions = {
    options = {
      enable = mkOption { type = types.bool; default = true; description = "If false, the unit is a symlink to /dev/null."; };
      wantedBy = units "Units that want (i.e. depend on) this unit.";
      requiredBy = units "Units that require this unit.";
      upheldBy = units "Units that keep this unit running.";
      aliases = units "Aliases of that unit.";
      description = mkOption { type = types.singleLineStr; default = ""; description = "Description of this unit."; };
      documentation = mkOption { type = types.listOf types.str; default = [ ]; description = "Documentation URIs."; };
      requires = units "Start the specified units when this unit is started.";
      wants = units "Weak dependencies.";
      upholds = units "Keep the specified units running.";
      after = units "Order after these units.";
      before = units "Order before these units.";
      bindsTo = units "Bound units.";
      partOf = units "Stopped or restarted with these units.";
      conflicts = units "Conflicting units.";
      requisite = units "Like requires, without starting them.";
      onFailure = units "Activated when this unit fails.";
      onSuccess = units "Activated when this unit succeeds.";
      unitConfig = mkOption { type = types.attrsOf unitOption; default = { }; description = "Options of the [Unit] section."; };
      startLimitBurst = mkOption { type = types.int; description = "Start rate limiting burst."; };
      startLimitIntervalSec = mkOption { type = types.int; description = "Start rate limiting interval."; };
      restartTriggers = mkOption { type = types.listOf types.unspecified; default = [ ]; description = "Changes of these restart the unit."; };
      reloadTriggers = mkOption { type = types.listOf unitOption; default = [ ]; description = "Changes of these reload the unit."; };
    };
  };

  serviceOptions = { name, ... }: {
    imports = [ commonUnitOptions ];
    options = {
      environment = mkOption { type = types.attrsOf (types.nullOr (types.oneOf [ types.str types.path types.package ])); default = { }; description = "Environment variables."; };
      path = mkOption { type = types.listOf (types.oneOf [ types.package types.str ]); default = [ ]; description = "Packages added to PATH."; };
      serviceConfig = mkOption { type = types.attrsOf unitOption; default = { }; description = "Options of the [Service] section."; };
      script = mkOption { type = types.lines; default = ""; description = "Shell commands executed as the service's main process."; };
      scriptArgs = mkOption { type = types.str; default = ""; description = "Arguments passed to the main process script."; };
      preStart = mkOption { type = types.lines; default = ""; description = "Shell commands executed before the main process."; };
      postStart = mkOption { type = types.lines; default = ""; description = "Shell commands executed after the main process."; };
      reload = mkOption { type = types.lines; default = ""; description = "Shell commands executed on reload."; };
      preStop = mkOption { type = types.lines; default = ""; description = "Shell commands executed to stop the service."; };
      postStop = mkOption { type = types.lines; default = ""; description = "Shell commands executed after the main process exited."; };
      enableStrictShellChecks = mkOption { type = types.bool; default = false; description = "Run shellcheck on the scripts."; };
      restartIfChanged = mkOption { type = types.bool; default = true; description = "Restart when the definition changed."; };
      reloadIfChanged = mkOption { type = types.bool; default = false; description = "Reload when the definition changed."; };
      stopIfChanged = mkOption { type = types.bool; default = true; description = "Stop, then start when changed (else restart)."; };
      startAt = mkOption {
        type = types.either types.str (types.listOf types.str);
        default = [ ];
        apply = v: if lib.isList v then v else [ v ];
        description = "Calendar events that start the unit.";
      };
    };
  };

  timerOptions = {
    imports = [ commonUnitOptions ];
    options.timerConfig = mkOption { type = types.attrsOf unitOption; default = { }; description = "Options of the [Timer] section."; };
  };
  targetOptions = { imports = [ commonUnitOptions ]; };
in
{
  options.systemd = {
    services = mkOption { type = types.attrsOf (types.submodule serviceOptions); default = { }; description = "Definition of systemd service units."; };
    timers = mkOption { type = types.attrsOf (types.submodule timerOptions); default = { }; description = "Definition of systemd timer units."; };
    targets = mkOption { type = types.attrsOf (types.submodule targetOptions); default = { }; description = "Definition of systemd target units."; };
    tmpfiles.rules = mkOption { type = types.listOf types.str; default = [ ]; description = "tmpfiles.d rules."; };
    tmpfiles.settings = mkOption {
      type = types.attrsOf (types.attrsOf (types.attrsOf (types.submodule {
        options = {
          type = mkOption { type = types.str; default = "d"; description = "Type of the path."; };
          mode = mkOption { type = types.str; default = "-"; description = "File access mode."; };
          user = mkOption { type = types.str; default = "-"; description = "Owner."; };
          group = mkOption { type = types.str; default = "-"; description = "Group."; };
          age = mkOption { type = types.str; default = "-"; description = "Age."; };
          argument = mkOption { type = types.str; default = ""; description = "Argument."; };
        };
      })));
      default = { };
      description = "tmpfiles.d settings: <config name>.<path>.<type>.";
    };
  };
}
