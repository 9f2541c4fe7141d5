# TEST DOUBLE of nixpkgs nixos/modules/services/web-servers/nginx/default.nix: its options (the
# ones listed here) with nixpkgs' types and defaults, the ACME certs its vhosts create, its users
# and its assertions. No nginx.conf is rendered and no unit is created (see README).
{ config, lib, pkgs, ... }:
let
  inherit (lib) mkOption mkIf types;
  cfg = config.services.nginx;
  lines = description: mkOption { type = types.lines; default = ""; inherit description; };
  bool = default: description: mkOption { type = types.bool; inherit default description; };
  str = default: description: mkOption { type = types.str; inherit default description; };

  # as nixpkgs computes them (serverName, certName; sslCertificate when ACME is on)
  virtualHosts = lib.mapAttrs
    (vhostName: vhost:
      let
        serverName = if vhost.serverName != null then vhost.serverName else vhostName;
        certName = if vhost.useACMEHost != null then vhost.useACMEHost else serverName;
      in
      vhost // { inherit serverName certName; })
    cfg.virtualHosts;
  acmeEnabledVhosts = lib.filter (v: v.enableACME || v.useACMEHost != null) (lib.attrValues virtualHosts);
  vhostCertNames = lib.unique (map (v: v.certName) acmeEnabledVhosts);
  hostOrAliasIsNull = l: l.root == null || l.alias == null;
  # nixos/modules/security/acme/mk-cert-ownership-assertion.nix
  mkCertOwnershipAssertion = { cert, group, groups, user }: {
    assertion = cert.group == group || builtins.any (u: u == user) groups.${cert.group}.members;
    message = "Group for certificate ${cert.domain} must be ${group}, or user ${user} must be a member of group ${cert.group}";
  };
in
{
  options.services.nginx = {
    enable = lib.mkEnableOption "Nginx Web Server";
    package = mkOption { type = types.package; default = pkgs.nginx; description = "Nginx package to use."; };
    additionalModules = mkOption { type = types.listOf (types.attrsOf types.anything); default = [ ]; description = "Additional third-party nginx modules."; };
    appendConfig = lines "Configuration lines appended to the generated Nginx configuration file.";
    appendHttpConfig = lines "Configuration lines to be appended to the generated http block.";
    clientMaxBodySize = str "10m" "Set nginx global client_max_body_size.";
    commonHttpConfig = lines "Common http context definitions.";
    config = str "" "Verbatim nginx.conf configuration.";
    defaultHTTPListenPort = mkOption { type = types.port; default = 80; description = "Default HTTP port."; };
    defaultSSLListenPort = mkOption { type = types.port; default = 443; description = "Default SSL port."; };
    defaultListenAddresses = mkOption {
      type = types.listOf types.str;
      default = [ "0.0.0.0" ] ++ lib.optional config.networking.enableIPv6 "[::0]";
      description = "If vhosts do not specify listenAddresses, use these addresses by default.";
    };
    defaultListen = mkOption {
      type = types.listOf (types.submodule {
        options = {
          addr = mkOption { type = types.str; description = "IP address."; };
          extraParameters = mkOption { type = types.listOf types.str; default = [ ]; description = "Extra parameters of this listen directive."; };
          port = mkOption { type = types.nullOr types.port; default = null; description = "Port number."; };
          proxyProtocol = bool false "Enable PROXY protocol.";
          ssl = mkOption { type = types.nullOr types.bool; default = null; description = "Enable SSL."; };
        };
      });
      default = [ ];
      description = "If vhosts do not specify listen, use these addresses by default.";
    };
    enableReload = bool false "Reload nginx when the configuration file changes (instead of restart).";
    enableQuicBPF = bool false "Route QUIC packets using eBPF.";
    eventsConfig = lines "Configuration lines inside the events block.";
    group = str "nginx" "Group account under which nginx runs.";
    httpConfig = lines "Configuration lines inside the http block.";
    logError = str "stderr" "Configures logging.";
    preStart = lines "Shell commands executed before the service's nginx is started.";
    prependConfig = lines "Configuration lines prepended to the generated Nginx configuration file.";
    proxyResolveWhileRunning = bool false "Resolve domains of proxyPass targets at runtime.";
    proxyTimeout = str "60s" "Proxy related timeouts in recommendedProxySettings.";
    recommendedBrotliSettings = bool false "Enable recommended brotli settings.";
    recommendedGzipSettings = bool false "Enable recommended gzip settings.";
    recommendedOptimisation = bool false "Enable recommended optimisation settings.";
    recommendedProxySettings = bool false "Whether to enable recommended proxy settings if a vhost does not specify the option manually.";
    recommendedTlsSettings = bool false "Enable recommended TLS settings.";
    recommendedUwsgiSettings = bool false "Whether to enable recommended uwsgi settings if a vhost does not specify the option manually.";
    recommendedZstdSettings = bool false "Enable recommended zstd settings.";
    resolver = mkOption {
      type = types.submodule {
        options = {
          addresses = mkOption { type = types.listOf types.str; default = [ ]; description = "List of resolvers to use."; };
          ipv4 = bool true "Look up IPv4 addresses.";
          ipv6 = bool config.networking.enableIPv6 "Look up IPv6 addresses.";
          valid = str "" "Override the TTL of answers.";
        };
      };
      default = { };
      description = "Name servers used to resolve names of upstream servers into addresses.";
    };
    serverTokens = bool false "Show nginx version in headers and error pages.";
    sslCiphers = mkOption { type = types.nullOr (types.either types.str (types.listOf types.str)); default = [ "ECDHE-ECDSA-AES128-GCM-SHA256" "ECDHE-RSA-AES128-GCM-SHA256" "ECDHE-ECDSA-AES256-GCM-SHA384" "ECDHE-RSA-AES256-GCM-SHA384" "ECDHE-ECDSA-CHACHA20-POLY1305" "ECDHE-RSA-CHACHA20-POLY1305" ]; description = "Cipher suites."; };
    sslProtocols = str "TLSv1.2 TLSv1.3" "Allowed TLS protocol versions.";
    statusPage = bool false "Enable status page reachable from localhost on http://127.0.0.1/nginx_status.";
    streamConfig = lines "Configuration lines inside the stream block.";
    upstreams = mkOption {
      type = types.attrsOf (types.submodule {
        options = {
          extraConfig = lines "These lines go to the end of the upstream verbatim.";
          servers = mkOption {
            type = types.attrsOf (types.submodule {
              freeformType = types.attrsOf (types.oneOf [ types.bool types.int types.str ]);
              options.backup = bool false "Marks the server as a backup server.";
            });
            default = { };
            description = "The address and other parameters of the upstream servers.";
          };
        };
      });
      default = { };
      description = "Defines a group of servers to use as proxy target.";
    };
    user = str "nginx" "User account under which nginx runs.";
    validateConfigFile = bool true "Whether to validate the configuration with pkgs.writeNginxConfig.";
    virtualHosts = mkOption {
      type = types.attrsOf (types.submodule (import ./nginx-vhost.nix { inherit config lib; }));
      # nixpkgs: a vhost named localhost unless the user defines any
      default = { localhost = { }; };
      description = "Declarative vhost config.";
    };
  };

  config = mkIf cfg.enable {
    assertions = [
      {
        assertion = lib.all (host: lib.all hostOrAliasIsNull (lib.attrValues host.locations)) (lib.attrValues virtualHosts);
        message = "Only one of nginx root or alias can be specified on a location.";
      }
      {
        assertion = lib.all (host: lib.count lib.id [ host.addSSL host.onlySSL host.forceSSL host.rejectSSL ] <= 1) (lib.attrValues virtualHosts);
        message = ''
          Options services.nginx.service.virtualHosts.<name>.addSSL,
          services.nginx.virtualHosts.<name>.onlySSL,
          services.nginx.virtualHosts.<name>.forceSSL and
          services.nginx.virtualHosts.<name>.rejectSSL are mutually exclusive.
        '';
      }
      {
        assertion = lib.all (host: !(host.enableACME && host.useACMEHost != null)) (lib.attrValues virtualHosts);
        message = ''
          Options services.nginx.service.virtualHosts.<name>.enableACME and
          services.nginx.virtualHosts.<name>.useACMEHost are mutually exclusive.
        '';
      }
      {
        assertion = lib.all (host: lib.all (l: !(l.proxyPass != null && l.uwsgiPass != null)) (lib.attrValues host.locations)) (lib.attrValues virtualHosts);
        message = ''
          Options services.nginx.service.virtualHosts.<name>.proxyPass and
          services.nginx.virtualHosts.<name>.uwsgiPass are mutually exclusive.
        '';
      }
      {
        assertion =
          let
            hasAtLeastHttpListener = ls: lib.any (l: if l ? proxyProtocol then !l.proxyProtocol else true) ls;
            hasAtLeastDefaultHttpListener =
              if cfg.defaultListen != [ ] then hasAtLeastHttpListener cfg.defaultListen else cfg.defaultListenAddresses != [ ];
          in
          lib.all
            (host:
              let
                hasAtLeastVhostHttpListener = if host.listen != [ ] then hasAtLeastHttpListener host.listen else host.listenAddresses != [ ];
                vhostAuthority = host.listen != [ ] || (cfg.defaultListen == [ ] && host.listenAddresses != [ ]);
              in
              host.enableACME -> ((vhostAuthority && hasAtLeastVhostHttpListener) || (!vhostAuthority && hasAtLeastDefaultHttpListener)))
            (lib.attrValues virtualHosts);
        message = ''
          services.nginx.virtualHosts.<name>.enableACME requires a HTTP listener
          to answer to ACME requests.
        '';
      }
      {
        assertion = cfg.resolver.ipv4 || cfg.resolver.ipv6;
        message = ''
          At least one of services.nginx.resolver.ipv4 and services.nginx.resolver.ipv6 must be true.
        '';
      }
    ] ++ map
      (name: mkCertOwnershipAssertion {
        cert = config.security.acme.certs.${name};
        group = cfg.group;
        groups = config.users.groups;
        user = cfg.user;
      })
      vhostCertNames;

    # vhosts with enableACME create their certificate, useACMEHost only adds the reload
    security.acme.certs = lib.listToAttrs (
      map
        (v:
          let hasRoot = v.acmeRoot != null; in
          lib.nameValuePair v.serverName {
            dnsProvider = lib.mkOverride (if hasRoot then 1000 else 2000) null;
            extraDomainNames = v.serverAliases;
            group = lib.mkDefault cfg.group;
            reloadServices = [ "nginx.service" ];
            webroot = lib.mkOverride (if hasRoot then 1000 else 2000) v.acmeRoot;
          })
        (lib.filter (v: v.useACMEHost == null) acmeEnabledVhosts)
      ++ map (v: lib.nameValuePair v.useACMEHost { reloadServices = [ "nginx.service" ]; })
        (lib.filter (v: v.useACMEHost != null) acmeEnabledVhosts));

    services.nginx.virtualHosts.localhost = mkIf cfg.statusPage {
      listenAddresses = lib.mkDefault ([ "0.0.0.0" ] ++ lib.optional config.networking.enableIPv6 "[::]");
      locations."/nginx_status".extraConfig = ''
        stub_status on;
        access_log off;
        allow 127.0.0.1;
        ${lib.optionalString config.networking.enableIPv6 "allow ::1;"}
        deny all;
      '';
      serverAliases = [ "127.0.0.1" ] ++ lib.optional config.networking.enableIPv6 "[::1]";
    };

    users.users = lib.optionalAttrs (cfg.user == "nginx") { nginx = { group = cfg.group; isSystemUser = true; uid = 60; }; };
    users.groups = lib.optionalAttrs (cfg.group == "nginx") { nginx.gid = 60; };
  };
}
