# migen's NixOS module: the per-host facts migen needs that NixOS itself does not hold.
# Options only; the generated modules are imported by `migen.lib.nixosModule { generatedDir; }`
# (imports cannot depend on `config`, so they cannot be switched on by an option here).
{ config, lib, ... }:
let
  inherit (lib) mkOption types;
in
{
  options.migen = {
    address = mkOption {
      type = types.nullOr types.str;
      default = null;
      example = "100.64.0.13";
      description = "The host's mesh (Tailscale) IPv4 address, used for proxy backends, replication and rsync. null when not declared.";
    };
    ssh.target = mkOption {
      type = types.str;
      default = "root@${config.networking.hostName}";
      defaultText = lib.literalExpression ''"root@''${config.networking.hostName}"'';
      example = "root@100.64.0.13";
      description = "What `ssh` is given to reach this host.";
    };
    deploy = mkOption {
      type = types.enum [ "nixos-rebuild" "colmena" "deploy-rs" ];
      default = "nixos-rebuild";
      description = "How configurations reach this host.";
    };
    migrations = mkOption {
      type = types.attrsOf (types.submodule {
        options = {
          description = mkOption { type = types.str; default = ""; description = "The manifest's description of the migration."; };
          role = mkOption { type = types.listOf (types.enum [ "old" "new" "proxy" ]); default = [ ]; description = "What this host is to the migration."; };
          status = mkOption { type = types.enum [ "planned" "done" ]; default = "planned"; };
          from = mkOption { type = types.str; };
          to = mkOption { type = types.str; };
          verify = mkOption { type = types.listOf types.str; default = [ ]; description = "The verification checks, as written in the manifest."; };
        };
      });
      default = { };
      description = "Informational, set by the generated modules: the migrations that touch this host.";
    };
    generated.enable = mkOption {
      type = types.bool;
      default = true;
      description = "Apply the generated modules. migen's inventory evaluation turns this off to read the configuration as written by hand.";
    };
    generatedDir = mkOption {
      type = types.nullOr types.path;
      default = null;
      description = "Informational: the generated/ directory whose modules this host imports (set by migen.lib.nixosModule).";
    };
  };
}
