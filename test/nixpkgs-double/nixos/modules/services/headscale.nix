# TEST DOUBLE of nixpkgs nixos/modules/services/networking/headscale.nix: options (settings is a
# freeform YAML submodule with nixpkgs' declared sub-options and defaults), the settings the
# module adds, its user and group, and its assertions. No unit is created (see README).
{ config, lib, pkgs, ... }:
let
  inherit (lib) mkOption types;
  cfg = config.services.headscale;
  dataDir = "/var/lib/headscale";
  runDir = "/run/headscale";
  opt = type: default: description: mkOption { inherit type default description; };
  nullStr = opt (types.nullOr types.str) null;
  assertRemovedOption = option: message: {
    assertion = !lib.hasAttrByPath option cfg;
    message = "The option `services.headscale.${lib.options.showOption option}` was removed. " + message;
  };
in
{
  options.services.headscale = {
    enable = lib.mkEnableOption "headscale, Open Source coordination server for Tailscale";
    package = lib.mkPackageOption pkgs "headscale" { };
    user = opt types.str "headscale" "User account under which headscale runs.";
    group = opt types.str "headscale" "Group under which headscale runs.";
    address = opt types.str "127.0.0.1" "Listening address of headscale.";
    port = opt types.port 8080 "Listening port of headscale.";
    settings = mkOption {
      description = "Overrides to config.yaml as a Nix attribute set.";
      type = types.submodule {
        freeformType = (pkgs.formats.yaml { }).type;
        options = {
          server_url = opt types.str "http://127.0.0.1:8080" "The url clients will connect to.";
          noise.private_key_path = opt types.path "${dataDir}/noise_private.key" "Path to noise private key file.";
          prefixes = {
            v4 = opt types.str "100.64.0.0/10" "IPv4 prefix.";
            v6 = opt types.str "fd7a:115c:a1e0::/48" "IPv6 prefix.";
            allocation = opt (types.enum [ "sequential" "random" ]) "sequential" "Strategy used for allocation of IPs to nodes.";
          };
          derp = {
            urls = opt (types.listOf types.str) [ "https://controlplane.tailscale.com/derpmap/default" ] "List of urls containing DERP maps.";
            paths = opt (types.listOf types.path) [ ] "List of file paths containing DERP maps.";
            auto_update_enabled = opt types.bool true "Whether to automatically update DERP maps.";
            update_frequency = opt types.str "24h" "Frequency to update DERP maps.";
            server.private_key_path = opt types.path "${dataDir}/derp_server_private.key" "Path to derp private key file.";
          };
          ephemeral_node_inactivity_timeout = opt types.str "30m" "Time before an inactive ephemeral node is deleted.";
          database = {
            type = opt (types.enum [ "sqlite" "sqlite3" "postgres" ]) "sqlite" "Database engine to use.";
            sqlite.path = opt (types.nullOr types.str) "${dataDir}/db.sqlite" "Path to the sqlite3 database file.";
            sqlite.write_ahead_log = opt types.bool true "Enable WAL mode for SQLite.";
            postgres = {
              host = nullStr "Database host address.";
              port = opt (types.nullOr types.port) null "Database host port.";
              name = nullStr "Database name.";
              user = nullStr "Database user.";
              password_file = opt (types.nullOr types.path) null "A file containing the database password.";
            };
          };
          log.level = opt types.str "info" "headscale log level.";
          log.format = opt types.str "text" "headscale log format.";
          dns = {
            magic_dns = opt types.bool true "Whether to use MagicDNS.";
            base_domain = opt types.str "" "The base domain to create the hostnames for MagicDNS; must differ from the server_url domain.";
            nameservers.global = opt (types.listOf types.str) [ ] "Nameservers to pass to Tailscale clients.";
            search_domains = opt (types.listOf types.str) [ ] "Search domains to inject to Tailscale clients.";
          };
          oidc = {
            issuer = opt types.str "" "URL to OpenID issuer.";
            client_id = opt types.str "" "OpenID Connect client ID.";
            client_secret_path = nullStr "Path to OpenID Connect client secret file.";
            scope = opt (types.listOf types.str) [ "openid" "profile" "email" ] "Scopes used in the OIDC flow.";
            extra_params = opt (types.attrsOf types.str) { } "Custom query parameters.";
            allowed_domains = opt (types.listOf types.str) [ ] "Allowed principal domains.";
            allowed_users = opt (types.listOf types.str) [ ] "Users allowed to authenticate.";
          };
          tls_letsencrypt_hostname = opt (types.nullOr types.str) "" "Domain name to request a TLS certificate for.";
          tls_letsencrypt_challenge_type = opt (types.enum [ "TLS-ALPN-01" "HTTP-01" ]) "HTTP-01" "Type of ACME challenge to use.";
          tls_letsencrypt_listen = opt (types.nullOr types.str) ":http" "Listen address of the HTTP-01 verification endpoint.";
          tls_cert_path = opt (types.nullOr types.path) null "Path to already created certificate.";
          tls_key_path = opt (types.nullOr types.path) null "Path to key for already created certificate.";
          policy.mode = opt (types.enum [ "file" "database" ]) "file" "Where the ACL policies are stored.";
          policy.path = opt (types.nullOr types.path) null "Path to a HuJSON file containing ACL policies.";
        };
      };
      default = { };
    };
  };

  config = lib.mkIf cfg.enable {
    assertions = [
      {
        assertion = with cfg.settings; dns.magic_dns -> dns.base_domain != "";
        message = "dns.base_domain must be set when using MagicDNS";
      }
      (assertRemovedOption [ "settings" "acl_policy_path" ] "Use `policy.path` instead.")
      (assertRemovedOption [ "settings" "db_host" ] "Use `database.postgres.host` instead.")
      (assertRemovedOption [ "settings" "db_name" ] "Use `database.postgres.name` instead.")
      (assertRemovedOption [ "settings" "db_password_file" ] "Use `database.postgres.password_file` instead.")
      (assertRemovedOption [ "settings" "db_path" ] "Use `database.sqlite.path` instead.")
      (assertRemovedOption [ "settings" "db_port" ] "Use `database.postgres.port` instead.")
      (assertRemovedOption [ "settings" "db_type" ] "Use `database.type` instead.")
      (assertRemovedOption [ "settings" "db_user" ] "Use `database.postgres.user` instead.")
      (assertRemovedOption [ "settings" "dns_config" ] "Use `dns` instead.")
      (assertRemovedOption [ "settings" "dns_config" "domains" ] "Use `dns.search_domains` instead.")
      (assertRemovedOption [ "settings" "dns_config" "nameservers" ] "Use `dns.nameservers.global` instead.")
      (assertRemovedOption [ "settings" "oidc" "strip_email_domain" ] "The strip_email_domain option got removed upstream")
    ];

    services.headscale.settings = lib.mkMerge [
      { disable_check_updates = true; unix_socket = "${runDir}/headscale.sock"; }
      {
        listen_addr = lib.mkDefault "${cfg.address}:${toString cfg.port}";
        tls_letsencrypt_cache_dir = "${dataDir}/.cache";
      }
    ];

    environment.systemPackages = [ cfg.package ];
    users.groups.headscale = lib.mkIf (cfg.group == "headscale") { };
    users.users.headscale = lib.mkIf (cfg.user == "headscale") {
      description = "headscale user";
      home = dataDir;
      group = cfg.group;
      isSystemUser = true;
    };
  };
}
