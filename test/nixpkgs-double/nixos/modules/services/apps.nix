# TEST DOUBLE of nixpkgs' vaultwarden (services/security/vaultwarden), zitadel
# (services/web-apps/zitadel.nix) and adguardhome (services/networking/adguardhome.nix) modules:
# options with nixpkgs' types and defaults, what they add (users, firewall ports) and their
# assertions. No units are created (see README).
{ config, lib, pkgs, ... }:
let
  inherit (lib) mkOption mkIf types;
  opt = type: default: description: mkOption { inherit type default description; };
  vw = config.services.vaultwarden;
  zt = config.services.zitadel;
  ag = config.services.adguardhome;
  yaml = (pkgs.formats.yaml { }).type;
  vwDataDir = "/var/lib/${if lib.versionOlder config.system.stateVersion "24.11" then "bitwarden_rs" else "vaultwarden"}";
  agSettings =
    if ag.settings == null then null
    else lib.recursiveUpdate ag.settings (
      if ag.settings.schema_version < 23 then { bind_host = ag.host; bind_port = ag.port; }
      else { http.address = "${ag.host}:${toString ag.port}"; });
in
{
  options.services.vaultwarden = {
    enable = lib.mkEnableOption "vaultwarden";
    dbBackend = opt (types.enum [ "sqlite" "mysql" "postgresql" ]) "sqlite" "Which database backend vaultwarden will be using.";
    backupDir = opt (types.nullOr types.str) null "The directory under which vaultwarden will backup its persistent data.";
    config = opt (types.attrsOf (types.nullOr (types.oneOf [ types.bool types.int types.str ])))
      { ROCKET_ADDRESS = "::1"; ROCKET_PORT = 8222; }
      "The configuration of vaultwarden (environment variables).";
    environmentFile = opt (types.nullOr types.path) null "Additional environment file as defined in systemd.exec(5).";
    package = lib.mkPackageOption pkgs "vaultwarden" { };
    webVaultPackage = opt types.package pkgs.vaultwarden.webvault "Web vault package to use.";
  };

  options.services.zitadel = {
    enable = lib.mkEnableOption "ZITADEL, a user and identity access management platform";
    package = lib.mkPackageOption pkgs "ZITADEL" { default = [ "zitadel" ]; };
    user = opt types.str "zitadel" "The user to run ZITADEL under.";
    group = opt types.str "zitadel" "The group to run ZITADEL under.";
    openFirewall = opt types.bool false "Whether to open the port specified in listenPort in the firewall.";
    masterKeyFile = mkOption { type = types.path; description = "Path to a file containing a master encryption key for ZITADEL."; };
    tlsMode = opt (types.enum [ "external" "enabled" "disabled" ]) "external" "The TLS mode to use.";
    settings = mkOption {
      type = types.submodule {
        freeformType = yaml;
        options = {
          Port = opt types.port 8080 "The port that ZITADEL listens on.";
          TLS = {
            KeyPath = opt (types.nullOr types.path) null "Path to the TLS certificate private key.";
            Key = mkOption { type = types.nullOr types.str; description = "The TLS certificate private key, as a base64-encoded string."; };
            CertPath = opt (types.nullOr types.path) null "Path to the TLS certificate.";
            Cert = mkOption { type = types.nullOr types.str; description = "The TLS certificate, as a base64-encoded string."; };
          };
        };
      };
      default = { };
      description = "Contents of the runtime configuration file.";
    };
    extraSettingsPaths = opt (types.listOf types.path) [ ] "Paths to extra settings files.";
    steps = opt yaml { } "Contents of the database initialization config file.";
    extraStepsPaths = opt (types.listOf types.path) [ ] "Paths to extra steps files.";
  };

  options.services.adguardhome = {
    enable = lib.mkEnableOption "AdGuard Home network-wide ad blocker";
    package = opt types.package pkgs.adguardhome "The package that runs adguardhome.";
    openFirewall = opt types.bool false "Open ports in the firewall for the AdGuard Home web interface.";
    allowDHCP = opt types.bool (agSettings.dhcp.enabled or false) "Allows AdGuard Home to open raw sockets (CAP_NET_RAW).";
    mutableSettings = opt types.bool true "Allow changes made on the web interface to persist between service restarts.";
    host = opt types.str "0.0.0.0" "Host address to bind HTTP server to.";
    port = opt types.port 3000 "Port to serve HTTP pages on.";
    settings = opt
      (types.nullOr (types.submodule {
        freeformType = yaml;
        options.schema_version = opt types.int ag.package.schema_version "Schema version for the configuration.";
      }))
      null "AdGuard Home configuration (null: not declarative).";
    extraArgs = opt (types.listOf types.str) [ ] "Extra command line parameters to be passed to the adguardhome binary.";
  };

  config = lib.mkMerge [
    (mkIf vw.enable {
      assertions = [
        { assertion = vw.backupDir != null -> vw.dbBackend == "sqlite"; message = "Backups for database backends other than sqlite will need customization"; }
        { assertion = vw.backupDir != null -> !(lib.hasPrefix vwDataDir vw.backupDir); message = "Backup directory can not be in ${vwDataDir}"; }
      ];
      users.users.vaultwarden = { group = config.users.groups.vaultwarden.name; isSystemUser = true; };
      users.groups.vaultwarden = { };
    })
    (mkIf zt.enable {
      assertions = [{
        assertion = zt.tlsMode == "enabled" -> ((zt.settings.TLS.Key != null || zt.settings.TLS.KeyPath != null) && (zt.settings.TLS.Cert != null || zt.settings.TLS.CertPath != null));
        message = ''
          A TLS certificate and key must be configured in
          services.zitadel.settings.TLS if services.zitadel.tlsMode is enabled.
        '';
      }];
      networking.firewall.allowedTCPPorts = mkIf zt.openFirewall [ zt.settings.Port ];
      users.users.zitadel = mkIf (zt.user == "zitadel") { isSystemUser = true; group = zt.group; };
      users.groups.zitadel = mkIf (zt.group == "zitadel") { };
    })
    (mkIf ag.enable {
      assertions = [
        { assertion = ag.settings != null -> !(lib.hasAttrByPath [ "bind_host" ] ag.settings); message = "AdGuard option `settings.bind_host' has been superseded by `services.adguardhome.host'"; }
        { assertion = ag.settings != null -> !(lib.hasAttrByPath [ "bind_port" ] ag.settings); message = "AdGuard option `settings.bind_port' has been superseded by `services.adguardhome.port'"; }
        { assertion = agSettings != null -> ag.mutableSettings || lib.hasAttrByPath [ "dns" "bootstrap_dns" ] agSettings; message = "AdGuard setting dns.bootstrap_dns needs to be configured for a minimal working configuration"; }
        { assertion = agSettings != null -> ag.mutableSettings || lib.hasAttrByPath [ "dns" "bootstrap_dns" ] agSettings && lib.isList agSettings.dns.bootstrap_dns; message = "AdGuard setting dns.bootstrap_dns needs to be a list"; }
      ];
      # DynamicUser=true: no user or group
      networking.firewall.allowedTCPPorts = mkIf ag.openFirewall [ ag.port ];
    })
  ];
}
