# TEST DOUBLE of nixpkgs nixos/modules/services/misc/forgejo.nix: options (settings is a freeform
# INI submodule with nixpkgs' declared sub-options and defaults), the settings and the PostgreSQL
# wiring the module adds, its user and group, and its assertions. No unit is created (see README).
{ config, lib, pkgs, ... }:
let
  inherit (lib) mkOption mkDefault mkIf types;
  cfg = config.services.forgejo;
  useMysql = cfg.database.type == "mysql";
  usePostgresql = cfg.database.type == "postgres";
  useSqlite = cfg.database.type == "sqlite3";
  opt = type: default: description: mkOption { inherit type default description; };
in
{
  imports = [
    (lib.mkRenamedOptionModule [ "services" "forgejo" "httpPort" ] [ "services" "forgejo" "settings" "server" "HTTP_PORT" ])
    (lib.mkRenamedOptionModule [ "services" "forgejo" "httpAddress" ] [ "services" "forgejo" "settings" "server" "HTTP_ADDR" ])
    (lib.mkRenamedOptionModule [ "services" "forgejo" "domain" ] [ "services" "forgejo" "settings" "server" "DOMAIN" ])
    (lib.mkRenamedOptionModule [ "services" "forgejo" "rootUrl" ] [ "services" "forgejo" "settings" "server" "ROOT_URL" ])
  ];

  options.services.forgejo = {
    enable = lib.mkEnableOption "Forgejo, a software forge";
    package = lib.mkPackageOption pkgs "forgejo-lts" { };
    useWizard = opt types.bool false "Whether to use the built-in installation wizard.";
    stateDir = opt types.str "/var/lib/forgejo" "Forgejo data directory.";
    customDir = opt types.str "${cfg.stateDir}/custom" "Base directory for custom templates and other options.";
    user = opt types.str "forgejo" "User account under which Forgejo runs.";
    group = opt types.str "forgejo" "Group under which Forgejo runs.";
    database = {
      type = opt (types.enum [ "sqlite3" "mysql" "postgres" ]) "sqlite3" "Database engine to use.";
      host = opt types.str "127.0.0.1" "Database host address.";
      port = opt types.port (if usePostgresql then config.services.postgresql.settings.port else 3306) "Database host port.";
      name = opt types.str "forgejo" "Database name.";
      user = opt types.str "forgejo" "Database user.";
      passwordFile = opt (types.nullOr types.path) null "A file containing the database password.";
      socket = opt (types.nullOr types.path)
        (if cfg.database.createDatabase && usePostgresql then "/run/postgresql"
        else if cfg.database.createDatabase && useMysql then "/run/mysqld/mysqld.sock"
        else null) "Path to the unix socket file to use for authentication.";
      path = opt types.str "${cfg.stateDir}/data/forgejo.db" "Path to the sqlite3 database file.";
      createDatabase = opt types.bool (!(lib.versionAtLeast config.system.stateVersion "25.11")) "Whether to create a local database automatically.";
    };
    dump = {
      enable = lib.mkEnableOption "periodic dumps via the built-in dump command";
      interval = opt types.str "04:31" "Run a Forgejo dump at this interval.";
      backupDir = opt types.str "${cfg.stateDir}/dump" "Path to the directory where the dump archives will be stored.";
      type = opt (types.enum [ "zip" "tar" "tar.sz" "tar.gz" "tar.xz" "tar.bz2" "tar.br" "tar.lz4" "tar.zst" ]) "zip" "Archive format.";
      file = opt (types.nullOr types.str) null "Filename to be used for the dump.";
    };
    lfs = {
      enable = opt types.bool false "Enables git-lfs support.";
      contentDir = opt types.str "${cfg.stateDir}/data/lfs" "Where to store LFS files.";
    };
    repositoryRoot = opt types.str "${cfg.stateDir}/repositories" "Path to the git repositories.";
    settings = mkOption {
      default = { };
      description = "Free-form settings written directly to the app.ini configfile file.";
      type = types.submodule {
        freeformType = (pkgs.formats.ini { }).type;
        options = {
          log = {
            ROOT_PATH = opt types.str "${cfg.stateDir}/log" "Root path for log files.";
            LEVEL = opt (types.enum [ "Trace" "Debug" "Info" "Warn" "Error" "Critical" ]) "Info" "General log level.";
          };
          server = {
            PROTOCOL = opt (types.enum [ "http" "https" "fcgi" "http+unix" "fcgi+unix" ]) "http" "Listen protocol.";
            HTTP_ADDR = opt (types.either types.str types.path)
              (if lib.hasSuffix "+unix" cfg.settings.server.PROTOCOL then "/run/forgejo/forgejo.sock" else "0.0.0.0")
              "Listen address. Must be a path when using a unix socket.";
            HTTP_PORT = opt types.port 3000 "Listen port. Ignored when using a unix socket.";
            DOMAIN = opt types.str "localhost" "Domain name of your server.";
            ROOT_URL = opt types.str "http://${cfg.settings.server.DOMAIN}:${toString cfg.settings.server.HTTP_PORT}/" "Full public URL of Forgejo server.";
            # nixpkgs: cfg.package.data (the double's packages have no data output)
            STATIC_ROOT_PATH = opt (types.either types.str types.path) "${cfg.package}/share/forgejo" "Upper level of template and static files path.";
            DISABLE_SSH = opt types.bool false "Disable external SSH feature.";
            SSH_PORT = opt types.port 22 "SSH port displayed in clone URL.";
          };
          session.COOKIE_SECURE = opt types.bool false "Marks session cookies as secure.";
        };
      };
    };
    secrets = mkOption {
      default = { };
      description = "Settings read from files (systemd LoadCredential).";
      type = types.submodule { freeformType = types.attrsOf (types.attrsOf types.path); };
    };
  };

  config = mkIf cfg.enable {
    assertions = [
      {
        assertion = cfg.database.createDatabase -> useSqlite || cfg.database.user == cfg.user;
        message = "services.forgejo.database.user must match services.forgejo.user if the database is to be automatically provisioned";
      }
      {
        assertion = cfg.database.createDatabase && usePostgresql -> cfg.database.user == cfg.database.name;
        message = ''
          When creating a database via NixOS, the db user and db name must be equal!
          If you already have an existing DB+user and this assertion is new, you can safely set
          `services.forgejo.createDatabase` to `false` because removal of `ensureUsers`
          and `ensureDatabases` doesn't have any effect.
        '';
      }
    ];

    services.forgejo.settings = {
      DEFAULT = { RUN_MODE = mkDefault "prod"; RUN_USER = mkDefault cfg.user; WORK_PATH = mkDefault cfg.stateDir; };
      database = lib.mkMerge [
        { DB_TYPE = cfg.database.type; }
        (mkIf (useMysql || usePostgresql) {
          HOST = if cfg.database.socket != null then cfg.database.socket else cfg.database.host + ":" + toString cfg.database.port;
          NAME = cfg.database.name;
          USER = cfg.database.user;
        })
        (mkIf useSqlite { PATH = cfg.database.path; })
        (mkIf usePostgresql { SSL_MODE = "disable"; })
      ];
      repository.ROOT = cfg.repositoryRoot;
      server = mkIf cfg.lfs.enable { LFS_START_SERVER = true; };
      session.COOKIE_NAME = mkDefault "session";
      security.INSTALL_LOCK = true;
      lfs = mkIf cfg.lfs.enable { PATH = cfg.lfs.contentDir; };
    };
    services.forgejo.secrets = {
      security = { SECRET_KEY = "${cfg.customDir}/conf/secret_key"; INTERNAL_TOKEN = "${cfg.customDir}/conf/internal_token"; };
      oauth2.JWT_SECRET = "${cfg.customDir}/conf/oauth2_jwt_secret";
      database = mkIf (cfg.database.passwordFile != null) { PASSWD = cfg.database.passwordFile; };
      server = mkIf cfg.lfs.enable { LFS_JWT_SECRET = "${cfg.customDir}/conf/lfs_jwt_secret"; };
    };

    services.postgresql = lib.optionalAttrs (usePostgresql && cfg.database.createDatabase) {
      enable = mkDefault true;
      ensureDatabases = [ cfg.database.name ];
      ensureUsers = [ { name = cfg.database.user; ensureDBOwnership = true; } ];
    };

    services.openssh.settings.AcceptEnv = mkIf (!cfg.settings.server.START_SSH_SERVER or false) "GIT_PROTOCOL";

    users.users = mkIf (cfg.user == "forgejo") {
      forgejo = { home = cfg.stateDir; useDefaultShell = true; group = cfg.group; isSystemUser = true; };
    };
    users.groups = mkIf (cfg.group == "forgejo") { forgejo = { }; };
  };
}
