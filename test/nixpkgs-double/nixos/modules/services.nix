# TEST DOUBLE of the nixpkgs service modules migen probes (options with their real names and
# defaults, plus the users/groups and postgresql wiring those modules create). Settings that
# nixpkgs types as freeform submodules are `attrsOf anything` here.
{ config, options, lib, pkgs, ... }:
let
  inherit (lib) mkOption mkEnableOption mkPackageOption mkIf mkDefault mkMerge types;
  freeform = description: mkOption { type = types.attrsOf types.anything; default = { }; inherit description; };
  userOpt = default: mkOption { type = types.str; inherit default; description = "User account under which the service runs."; };
  groupOpt = default: mkOption { type = types.str; inherit default; description = "Group under which the service runs."; };
  cfg = config.services;

  locationOpts = { name, ... }: {
    options = {
      proxyPass = mkOption { type = types.nullOr types.str; default = null; description = "Adds proxy_pass directive."; };
      proxyWebsockets = mkOption { type = types.bool; default = false; description = "Support proxying websocket connections."; };
      recommendedProxySettings = mkOption { type = types.bool; default = cfg.nginx.recommendedProxySettings; description = "Enable recommended proxy settings."; };
      root = mkOption { type = types.nullOr types.path; default = null; description = "Root directory."; };
      alias = mkOption { type = types.nullOr types.path; default = null; description = "Alias directory."; };
      index = mkOption { type = types.nullOr types.str; default = null; description = "Index files."; };
      tryFiles = mkOption { type = types.nullOr types.str; default = null; description = "try_files directive."; };
      return = mkOption { type = types.nullOr (types.oneOf [ types.str types.int ]); default = null; description = "return directive."; };
      basicAuthFile = mkOption { type = types.nullOr types.path; default = null; description = "Basic auth file."; };
      extraConfig = mkOption { type = types.lines; default = ""; description = "Extra location config."; };
      priority = mkOption { type = types.int; default = 1000; description = "Order of this location block."; };
    };
  };
  vhostOpts = { name, ... }: {
    options = {
      serverName = mkOption { type = types.nullOr types.str; default = null; description = "Name of this virtual host (defaults to the attribute name)."; };
      serverAliases = mkOption { type = types.listOf types.str; default = [ ]; description = "Additional names."; };
      listen = mkOption { type = types.listOf (types.attrsOf types.anything); default = [ ]; description = "Listen addresses."; };
      listenAddresses = mkOption { type = types.listOf types.str; default = [ ]; description = "Listen addresses."; };
      enableACME = mkOption { type = types.bool; default = false; description = "Get a certificate from Let's Encrypt."; };
      useACMEHost = mkOption { type = types.nullOr types.str; default = null; description = "Use another host's certificate."; };
      forceSSL = mkOption { type = types.bool; default = false; description = "Redirect HTTP to HTTPS."; };
      addSSL = mkOption { type = types.bool; default = false; description = "Enable HTTPS in addition to HTTP."; };
      onlySSL = mkOption { type = types.bool; default = false; description = "Only HTTPS."; };
      http2 = mkOption { type = types.bool; default = true; description = "Enable HTTP/2."; };
      default = mkOption { type = types.bool; default = false; description = "Default server."; };
      root = mkOption { type = types.nullOr types.path; default = null; description = "Root directory."; };
      extraConfig = mkOption { type = types.lines; default = ""; description = "Extra server config."; };
      locations = mkOption { type = types.attrsOf (types.submodule locationOpts); default = { }; description = "Locations."; };
      basicAuthFile = mkOption { type = types.nullOr types.path; default = null; description = "Basic auth file."; };
    };
  };

  ensureUserOpts = {
    options = {
      name = mkOption { type = types.str; description = "Name of the user to ensure."; };
      ensureDBOwnership = mkOption { type = types.bool; default = false; description = "Grant ownership of the database with the same name."; };
      ensureClauses = mkOption {
        type = types.submodule {
          options = lib.genAttrs [ "superuser" "createrole" "createdb" "inherit" "login" "replication" "bypassrls" ]
            (n: mkOption { type = types.nullOr types.bool; default = null; description = "Role attribute ${n}."; });
        };
        default = { };
        description = "Role attributes.";
      };
      ensurePermissions = mkOption {
        type = types.attrsOf types.str;
        default = { };
        apply = v: if v == { } then v else throw "services.postgresql.ensureUsers.*.ensurePermissions has been removed (NixOS 24.05); use ensureDBOwnership / ensureClauses.";
        description = "Removed in NixOS 24.05.";
      };
    };
  };
  pgDefaultPackage =
    if lib.versionAtLeast config.system.stateVersion "24.11" then pkgs.postgresql_16
    else if lib.versionAtLeast config.system.stateVersion "23.11" then pkgs.postgresql_15
    else if lib.versionAtLeast config.system.stateVersion "22.05" then pkgs.postgresql_14
    else pkgs.postgresql_13;
in
{
  imports = [
    (lib.mkRenamedOptionModule [ "services" "postgresql" "port" ] [ "services" "postgresql" "settings" "port" ])
  ];

  options.services = {
    forgejo = {
      enable = mkEnableOption "Forgejo, a software forge";
      package = mkPackageOption pkgs "forgejo" { };
      user = userOpt "forgejo";
      group = groupOpt "forgejo";
      stateDir = mkOption { type = types.str; default = "/var/lib/forgejo"; description = "Forgejo data directory."; };
      customDir = mkOption { type = types.str; default = "${cfg.forgejo.stateDir}/custom"; description = "Base directory for custom templates."; };
      database = {
        type = mkOption { type = types.enum [ "sqlite3" "mysql" "postgres" ]; default = "sqlite3"; description = "Database engine to use."; };
        host = mkOption { type = types.str; default = "127.0.0.1"; description = "Database host address."; };
        port = mkOption { type = types.port; default = if cfg.forgejo.database.type == "postgres" then cfg.postgresql.settings.port else 3306; description = "Database host port."; };
        name = mkOption { type = types.str; default = "forgejo"; description = "Database name."; };
        user = mkOption { type = types.str; default = "forgejo"; description = "Database user."; };
        passwordFile = mkOption { type = types.nullOr types.path; default = null; description = "A file containing the database password."; };
        socket = mkOption { type = types.nullOr types.path; default = if cfg.forgejo.database.type == "postgres" then "/run/postgresql" else null; description = "Database socket path."; };
        createDatabase = mkOption { type = types.bool; default = true; description = "Whether to create a local database automatically."; };
      };
      lfs.enable = mkEnableOption "Git LFS";
      dump.enable = mkEnableOption "periodic dumps";
      settings = mkOption { type = types.attrsOf (types.attrsOf types.anything); default = { }; description = "Free-form app.ini settings (e.g. settings.server.HTTP_PORT, default 3000)."; };
      secrets = freeform "Secrets read from files.";
    };

    zitadel = {
      enable = mkEnableOption "ZITADEL, a user and identity access management platform";
      package = mkPackageOption pkgs "zitadel" { };
      user = userOpt "zitadel";
      group = groupOpt "zitadel";
      masterKeyFile = mkOption { type = types.nullOr types.path; default = null; description = "Path to a file containing the masterkey."; };
      tlsMode = mkOption { type = types.enum [ "external" "enabled" "disabled" ]; default = "external"; description = "TLS mode."; };
      openFirewall = mkOption { type = types.bool; default = false; description = "Open the port."; };
      settings = freeform "Contents of the runtime configuration file.";
      steps = freeform "Contents of the database initialization config.";
      extraSettingsPaths = mkOption { type = types.listOf types.path; default = [ ]; description = "Extra settings files."; };
      extraStepsPaths = mkOption { type = types.listOf types.path; default = [ ]; description = "Extra steps files."; };
    };

    vaultwarden = {
      enable = mkEnableOption "vaultwarden";
      package = mkPackageOption pkgs "vaultwarden" { };
      dbBackend = mkOption { type = types.enum [ "sqlite" "mysql" "postgresql" ]; default = "sqlite"; description = "Which database backend vaultwarden will be using."; };
      backupDir = mkOption { type = types.nullOr types.str; default = null; description = "The directory under which vaultwarden will backup its persistent data."; };
      config = mkOption {
        type = types.attrsOf (types.nullOr (types.oneOf [ types.bool types.int types.str ]));
        default = { ROCKET_ADDRESS = "::1"; ROCKET_PORT = 8222; };
        description = "The configuration of vaultwarden (environment variables).";
      };
      environmentFile = mkOption { type = types.nullOr types.path; default = null; description = "Additional environment file."; };
    };

    headscale = {
      enable = mkEnableOption "headscale, Open Source coordination server for Tailscale";
      package = mkPackageOption pkgs "headscale" { };
      user = userOpt "headscale";
      group = groupOpt "headscale";
      address = mkOption { type = types.str; default = "127.0.0.1"; description = "Listening address of headscale."; };
      port = mkOption { type = types.port; default = 8080; description = "Listening port of headscale."; };
      settings = freeform "Overrides to config.yaml (server_url, database, dns, ...).";
    };

    adguardhome = {
      enable = mkEnableOption "AdGuard Home network-wide ad blocker";
      package = mkPackageOption pkgs "adguardhome" { };
      host = mkOption { type = types.str; default = "0.0.0.0"; description = "Host address to bind HTTP server to."; };
      port = mkOption { type = types.port; default = 3000; description = "Port to serve HTTP pages on."; };
      openFirewall = mkOption { type = types.bool; default = false; description = "Open ports in the firewall for the AdGuard Home web interface."; };
      mutableSettings = mkOption { type = types.bool; default = true; description = "Allow changes made on the web interface to persist."; };
      allowDHCP = mkOption { type = types.bool; default = false; description = "Allow DHCP."; };
      settings = mkOption { type = types.nullOr (types.attrsOf types.anything); default = null; description = "AdGuard Home configuration."; };
      extraArgs = mkOption { type = types.listOf types.str; default = [ ]; description = "Extra command line parameters."; };
    };

    postgresql = {
      enable = mkEnableOption "PostgreSQL Server";
      package = mkOption { type = types.package; default = pgDefaultPackage; description = "The PostgreSQL package to use (default depends on system.stateVersion)."; };
      dataDir = mkOption { type = types.path; default = "/var/lib/postgresql/${cfg.postgresql.package.psqlSchema}"; description = "The data directory for PostgreSQL."; };
      enableTCPIP = mkOption { type = types.bool; default = false; description = "Whether PostgreSQL should listen on all network interfaces."; };
      authentication = mkOption { type = types.lines; default = ""; description = "Defines how users authenticate themselves to the server (pg_hba.conf)."; };
      identMap = mkOption { type = types.lines; default = ""; description = "pg_ident.conf."; };
      initdbArgs = mkOption { type = types.listOf types.str; default = [ ]; description = "Additional initdb arguments."; };
      initialScript = mkOption { type = types.nullOr types.path; default = null; description = "A file containing SQL statements to execute on first startup."; };
      ensureDatabases = mkOption { type = types.listOf types.str; default = [ ]; description = "Databases to ensure exist."; };
      ensureUsers = mkOption { type = types.listOf (types.submodule ensureUserOpts); default = [ ]; description = "Users to ensure exist."; };
      extensions = mkOption { type = types.either (types.functionTo (types.listOf types.package)) (types.listOf types.package); default = [ ]; description = "Extensions."; };
      settings = mkOption {
        type = types.submodule {
          options.port = mkOption { type = types.port; default = 5432; description = "The port on which PostgreSQL listens."; };
          options.listen_addresses = mkOption { type = types.str; default = if cfg.postgresql.enableTCPIP then "*" else "localhost"; description = "listen_addresses."; };
        };
        default = { };
        description = "PostgreSQL configuration (postgresql.conf), freeform.";
      };
    };

    nginx = {
      enable = mkEnableOption "Nginx Web Server";
      package = mkPackageOption pkgs "nginx" { };
      user = userOpt "nginx";
      group = groupOpt "nginx";
      recommendedProxySettings = mkOption { type = types.bool; default = false; description = "Whether to enable recommended proxy settings."; };
      recommendedTlsSettings = mkOption { type = types.bool; default = false; description = "Whether to enable recommended TLS settings."; };
      recommendedGzipSettings = mkOption { type = types.bool; default = false; description = "Whether to enable recommended gzip settings."; };
      recommendedOptimisation = mkOption { type = types.bool; default = false; description = "Whether to enable recommended optimisation settings."; };
      appendHttpConfig = mkOption { type = types.lines; default = ""; description = "Appended to the http block."; };
      commonHttpConfig = mkOption { type = types.lines; default = ""; description = "Prepended to the http block."; };
      virtualHosts = mkOption { type = types.attrsOf (types.submodule vhostOpts); default = { }; description = "Declarative vhost config."; };
    };

    restic = {
      backups = mkOption {
        type = types.attrsOf (types.submodule ({ name, ... }: {
          options = {
            repository = mkOption { type = types.nullOr types.str; default = null; description = "Repository to backup to."; };
            repositoryFile = mkOption { type = types.nullOr types.path; default = null; description = "Path to the file containing the repository location."; };
            passwordFile = mkOption { type = types.str; description = "Read the repository password from a file."; };
            environmentFile = mkOption { type = types.nullOr types.str; default = null; description = "Environment file."; };
            paths = mkOption { type = types.listOf types.str; default = [ ]; description = "Which paths to backup."; };
            exclude = mkOption { type = types.listOf types.str; default = [ ]; description = "Patterns to exclude."; };
            timerConfig = mkOption { type = types.nullOr (types.attrsOf types.anything); default = { OnCalendar = "daily"; Persistent = true; }; description = "When to run the backup."; };
            user = mkOption { type = types.str; default = "root"; description = "As which user the backup should run."; };
            initialize = mkOption { type = types.bool; default = false; description = "Create the repository if it doesn't exist."; };
            pruneOpts = mkOption { type = types.listOf types.str; default = [ ]; description = "forget options."; };
            extraBackupArgs = mkOption { type = types.listOf types.str; default = [ ]; description = "Extra backup arguments."; };
            backupPrepareCommand = mkOption { type = types.nullOr types.str; default = null; description = "Run before the backup."; };
            backupCleanupCommand = mkOption { type = types.nullOr types.str; default = null; description = "Run after the backup."; };
            package = mkPackageOption pkgs "restic" { };
          };
        }));
        default = { };
        description = "Periodic backups to create with Restic.";
      };
      server.enable = mkEnableOption "Restic REST Server";
    };

    prometheus = {
      enable = mkEnableOption "Prometheus monitoring daemon";
      port = mkOption { type = types.port; default = 9090; description = "Port to listen on."; };
      scrapeConfigs = mkOption {
        type = types.listOf (types.submodule {
          options = {
            job_name = mkOption { type = types.str; description = "The job name."; };
            scrape_interval = mkOption { type = types.nullOr types.str; default = null; description = "Scrape interval."; };
            metrics_path = mkOption { type = types.nullOr types.str; default = null; description = "Metrics path."; };
            scheme = mkOption { type = types.nullOr (types.enum [ "http" "https" ]); default = null; description = "Scheme."; };
            static_configs = mkOption {
              type = types.nullOr (types.listOf (types.submodule {
                options.targets = mkOption { type = types.listOf types.str; default = [ ]; description = "Targets."; };
                options.labels = mkOption { type = types.attrsOf types.str; default = { }; description = "Labels."; };
              }));
              default = null;
              description = "Statically configured targets.";
            };
          };
        });
        default = [ ];
        description = "A list of scrape configurations.";
      };
      exporters.node.enable = mkEnableOption "the node exporter";
    };

    openssh = {
      enable = mkEnableOption "the OpenSSH secure shell daemon";
      ports = mkOption { type = types.listOf types.port; default = [ 22 ]; description = "Ports."; };
      settings = freeform "sshd_config settings.";
    };
    tailscale = {
      enable = mkEnableOption "Tailscale client daemon";
      port = mkOption { type = types.port; default = 41641; description = "UDP port."; };
      useRoutingFeatures = mkOption { type = types.enum [ "none" "client" "server" "both" ]; default = "none"; description = "Routing features."; };
    };
  };

  # What the real service modules add to the system: users/groups and database wiring.
  config = mkMerge [
    (mkIf cfg.forgejo.enable {
      users.users = mkIf (cfg.forgejo.user == "forgejo") {
        forgejo = { home = cfg.forgejo.stateDir; useDefaultShell = true; group = cfg.forgejo.group; isSystemUser = true; };
      };
      users.groups = mkIf (cfg.forgejo.group == "forgejo") { forgejo = { }; };
      services.postgresql = mkIf (cfg.forgejo.database.type == "postgres" && cfg.forgejo.database.createDatabase) {
        enable = mkDefault true;
        ensureDatabases = [ cfg.forgejo.database.name ];
        ensureUsers = [ { name = cfg.forgejo.database.user; ensureDBOwnership = true; } ];
      };
    })
    (mkIf cfg.zitadel.enable {
      users.users = mkIf (cfg.zitadel.user == "zitadel") { zitadel = { isSystemUser = true; group = cfg.zitadel.group; }; };
      users.groups = mkIf (cfg.zitadel.group == "zitadel") { zitadel = { }; };
    })
    (mkIf cfg.vaultwarden.enable {
      users.users.vaultwarden = { group = "vaultwarden"; isSystemUser = true; };
      users.groups.vaultwarden = { };
    })
    (mkIf cfg.headscale.enable {
      users.users.headscale = { home = "/var/lib/headscale"; group = cfg.headscale.group; isSystemUser = true; };
      users.groups.headscale = { };
    })
    (mkIf cfg.postgresql.enable {
      users.users.postgres = { name = "postgres"; uid = 71; group = "postgres"; home = "${cfg.postgresql.dataDir}"; useDefaultShell = true; };
      users.groups.postgres.gid = 71;
    })
    (mkIf cfg.nginx.enable {
      users.users = mkIf (cfg.nginx.user == "nginx") { nginx = { group = cfg.nginx.group; uid = 60; }; };
      users.groups = mkIf (cfg.nginx.group == "nginx") { nginx.gid = 60; };
    })
    (mkIf cfg.prometheus.enable {
      users.users.prometheus = { uid = 255; group = "prometheus"; home = "/var/lib/prometheus2"; };
      users.groups.prometheus.gid = 255;
    })
  ];
}
