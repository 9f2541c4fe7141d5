# TEST DOUBLE of nixpkgs nixos/modules/services/databases/postgresql.nix (nixos-26.05): options,
# the settings, package, dataDir, authentication, user and group the module defines when
# enabled, and its assertions. No unit is created (see README).
# As in nixpkgs, `package` defaults to pkgs.postgresql and only an enabled PostgreSQL gets the
# stateVersion-dependent package (mkDefault), and dataDir is defined only when enabled.
{ config, lib, pkgs, ... }:
let
  inherit (lib) mkOption mkDefault mkIf types;
  cfg = config.services.postgresql;
  opt = type: default: description: mkOption { inherit type default description; };
  clause = n: mkOption { type = types.nullOr types.bool; default = null; description = "Role attribute ${n}; null: not set."; };
in
{
  imports = [
    (lib.mkRemovedOptionModule [ "services" "postgresql" "extraConfig" ] "Use services.postgresql.settings instead.")
    (lib.mkRenamedOptionModule [ "services" "postgresql" "logLinePrefix" ] [ "services" "postgresql" "settings" "log_line_prefix" ])
    (lib.mkRenamedOptionModule [ "services" "postgresql" "port" ] [ "services" "postgresql" "settings" "port" ])
  ];

  options.services.postgresql = {
    enable = lib.mkEnableOption "PostgreSQL Server";
    enableJIT = lib.mkEnableOption "JIT support";
    package = lib.mkPackageOption pkgs "postgresql" { example = "postgresql_15"; };
    checkConfig = opt types.bool true "Check the syntax of the configuration file at compile time.";
    dataDir = mkOption { type = types.path; description = "The data directory for PostgreSQL."; };
    authentication = opt types.lines "" "Defines how users authenticate themselves to the server (pg_hba.conf).";
    identMap = opt types.lines "" "Defines the mapping from system users to database users (pg_ident.conf).";
    initdbArgs = opt (types.listOf types.str) [ ] "Additional arguments passed to initdb.";
    initialScript = opt (types.nullOr types.path) null "A file containing SQL statements to execute on first startup.";
    ensureDatabases = opt (types.listOf types.str) [ ] "Ensures that the specified databases exist.";
    ensureUsers = opt
      (types.listOf (types.submodule {
        options = {
          name = mkOption { type = types.str; description = "Name of the user to ensure."; };
          ensureDBOwnership = opt types.bool false "Grants the user ownership to a database with the same name.";
          ensureClauses = mkOption {
            type = types.submodule {
              options = lib.genAttrs [ "superuser" "createrole" "createdb" "inherit" "login" "replication" "bypassrls" ] clause;
            };
            default = { };
            description = "Clauses to grant to the user (ALTER USER ... WITH).";
          };
        };
      })) [ ] "Ensures that the specified users exist.";
    enableTCPIP = opt types.bool false "Whether PostgreSQL should listen on all network interfaces.";
    extraPlugins = opt (types.coercedTo (types.listOf types.path) (path: _ignorePg: path) (types.functionTo (types.listOf types.path))) (_: [ ]) "List of PostgreSQL plugins.";
    settings = mkOption {
      type = types.submodule {
        freeformType = types.attrsOf (types.oneOf [ types.bool types.float types.int types.str ]);
        options = {
          log_line_prefix = opt types.str "[%p] " "A printf-style string that is output at the beginning of each log line.";
          port = opt types.port 5432 "The port on which PostgreSQL listens.";
        };
      };
      default = { };
      description = "PostgreSQL configuration (postgresql.conf), freeform.";
    };
    recoveryConfig = opt (types.nullOr types.lines) null "Contents of the recovery.conf file.";
    superUser = mkOption { type = types.str; default = "postgres"; internal = true; readOnly = true; description = "PostgreSQL superuser account."; };
  };

  config = mkIf cfg.enable {
    assertions = map
      ({ name, ensureDBOwnership, ... }: {
        assertion = ensureDBOwnership -> lib.elem name cfg.ensureDatabases;
        message = ''
          For each database user defined with `services.postgresql.ensureUsers` and
          `ensureDBOwnership = true;`, a database with the same name must be defined
          in `services.postgresql.ensureDatabases`.

          Offender: ${name} has not been found among databases.
        '';
      })
      cfg.ensureUsers;

    # nixpkgs also sets hba_file and ident_file (store paths of pg_hba.conf / pg_ident.conf) and
    # declares shared_preload_libraries (default null); the double leaves them out (see README).
    services.postgresql.settings = {
      log_destination = "stderr";
      listen_addresses = if cfg.enableTCPIP then "*" else "localhost";
      jit = mkDefault (if cfg.enableJIT then "on" else "off");
    };

    services.postgresql.package =
      let
        mkThrow = ver: throw "postgresql_${ver} was removed, please upgrade your postgresql version.";
        base =
          if lib.versionAtLeast config.system.stateVersion "25.11" then pkgs.postgresql_17
          else if lib.versionAtLeast config.system.stateVersion "24.11" then pkgs.postgresql_16
          else if lib.versionAtLeast config.system.stateVersion "23.11" then pkgs.postgresql_15
          else if lib.versionAtLeast config.system.stateVersion "22.05" then pkgs.postgresql_14
          else if lib.versionAtLeast config.system.stateVersion "21.11" then pkgs.postgresql_13
          else if lib.versionAtLeast config.system.stateVersion "20.03" then mkThrow "11"
          else if lib.versionAtLeast config.system.stateVersion "17.09" then mkThrow "9_6"
          else mkThrow "9_5";
      in
      mkDefault base;

    services.postgresql.dataDir = mkDefault "/var/lib/postgresql/${cfg.package.psqlSchema}";

    services.postgresql.authentication = lib.mkMerge [
      (lib.mkBefore "# Generated file; do not edit!")
      (lib.mkAfter ''
        # default value of services.postgresql.authentication
        local all all              peer
        host  all all 127.0.0.1/32 md5
        host  all all ::1/128      md5
      '')
    ];

    users.users.postgres = {
      name = "postgres";
      uid = 71;
      group = "postgres";
      description = "PostgreSQL server user";
      home = "${cfg.dataDir}";
      useDefaultShell = true;
    };
    users.groups.postgres.gid = 71;
    environment.systemPackages = [ cfg.package ];
  };
}
