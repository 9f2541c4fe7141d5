# TEST DOUBLE of nixpkgs systemd unit options (systemd.services / timers / tmpfiles).
{ config, lib, ... }:
let
  inherit (lib) mkOption types;
  unitList = description: mkOption { type = types.listOf types.str; default = [ ]; inherit description; };
  serviceOpts = { name, ... }: {
    options = {
      enable = mkOption { type = types.bool; default = true; description = "Whether to enable the unit."; };
      description = mkOption { type = types.str; default = ""; description = "Description of the unit."; };
      wantedBy = unitList "Units that want this unit.";
      requiredBy = unitList "Units that require this unit.";
      after = unitList "Order after these units.";
      before = unitList "Order before these units.";
      wants = unitList "Weak dependencies.";
      requires = unitList "Strong dependencies.";
      bindsTo = unitList "Bound units.";
      partOf = unitList "partOf units.";
      conflicts = unitList "Conflicting units.";
      serviceConfig = mkOption { type = types.attrsOf types.anything; default = { }; description = "[Service] section."; };
      unitConfig = mkOption { type = types.attrsOf types.anything; default = { }; description = "[Unit] section."; };
      environment = mkOption { type = types.attrsOf (types.nullOr (types.oneOf [ types.str types.path types.package ])); default = { }; description = "Environment variables."; };
      path = mkOption { type = types.listOf (types.oneOf [ types.package types.str ]); default = [ ]; description = "Packages added to PATH."; };
      script = mkOption { type = types.lines; default = ""; description = "Shell commands executed as the service's main process."; };
      preStart = mkOption { type = types.lines; default = ""; description = "Shell commands executed before the main process."; };
      postStart = mkOption { type = types.lines; default = ""; description = "Shell commands executed after the main process."; };
      startAt = mkOption { type = types.either types.str (types.listOf types.str); default = [ ]; description = "Calendar events."; };
      restartIfChanged = mkOption { type = types.bool; default = true; description = "Restart when changed."; };
      stopIfChanged = mkOption { type = types.bool; default = true; description = "Stop then start when changed."; };
      reloadIfChanged = mkOption { type = types.bool; default = false; description = "Reload when changed."; };
    };
  };
in
{
  options.systemd = {
    services = mkOption { type = types.attrsOf (types.submodule serviceOpts); default = { }; description = "Definition of systemd service units."; };
    timers = mkOption { type = types.attrsOf (types.attrsOf types.anything); default = { }; description = "Definition of systemd timer units."; };
    tmpfiles.rules = mkOption { type = types.listOf types.str; default = [ ]; description = "tmpfiles.d rules."; };
    tmpfiles.settings = mkOption { type = types.attrsOf types.anything; default = { }; description = "tmpfiles.d settings."; };
  };
}
