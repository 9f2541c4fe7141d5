# TEST DOUBLE of nixpkgs nixos/modules/services/web-servers/nginx/{vhost,location}-options.nix:
# every option with nixpkgs' type and default.
{ config, lib }:
let
  inherit (lib) mkOption types;
  cfg = config.services.nginx;
  nullStr = description: mkOption { type = types.nullOr types.str; default = null; inherit description; };
  nullPath = description: mkOption { type = types.nullOr types.path; default = null; inherit description; };
  bool = default: description: mkOption { type = types.bool; inherit default description; };

  locationOptions = {
    options = {
      alias = nullPath "Alias directory for requests.";
      basicAuth = mkOption { type = types.attrsOf types.str; default = { }; description = "Basic Auth protection for a location."; };
      basicAuthFile = nullPath "Basic Auth password file.";
      extraConfig = mkOption { type = types.lines; default = ""; description = "These lines go to the end of the location verbatim."; };
      fastcgiParams = mkOption { type = types.attrsOf (types.either types.str types.path); default = { }; description = "FastCGI parameters to override."; };
      index = nullStr "Adds index directive.";
      priority = mkOption { type = types.int; default = 1000; description = "Order of this location block in the vhost."; };
      proxyPass = nullStr "Adds proxy_pass directive and sets recommended proxy headers if recommendedProxySettings is enabled.";
      proxyWebsockets = bool false "Whether to support proxying websocket connections with HTTP/1.1.";
      recommendedProxySettings = bool cfg.recommendedProxySettings "Enable recommended proxy settings.";
      recommendedUwsgiSettings = bool cfg.recommendedUwsgiSettings "Enable recommended uwsgi settings.";
      return = mkOption { type = types.nullOr (types.oneOf [ types.str types.int ]); default = null; description = "Adds a return directive."; };
      root = nullPath "Root directory for requests.";
      tryFiles = nullStr "Adds try_files directive.";
      uwsgiPass = nullStr "Adds uwsgi_pass directive.";
    };
  };
in
{
  options = {
    acmeFallbackHost = nullStr "Host to proxy requests to if the ACME challenge is not found.";
    acmeRoot = mkOption { type = types.nullOr types.str; default = "/var/lib/acme/acme-challenge"; description = "Directory for the ACME challenge."; };
    addSSL = bool false "Whether to enable HTTPS in addition to plain HTTP.";
    basicAuth = mkOption { type = types.attrsOf types.str; default = { }; description = "Basic Auth protection for a vhost."; };
    basicAuthFile = nullPath "Basic Auth password file for a vhost.";
    default = bool false "Makes this vhost the default.";
    enableACME = bool false "Whether to ask Let's Encrypt to sign a certificate for this vhost.";
    extraConfig = mkOption { type = types.lines; default = ""; description = "These lines go to the end of the vhost verbatim."; };
    forceSSL = bool false "Whether to redirect all plain HTTP traffic to HTTPS.";
    globalRedirect = nullStr "Redirect all requests for this host to the given hostname.";
    http2 = bool true "Whether to enable the HTTP/2 protocol.";
    http3 = bool true "Whether to enable the HTTP/3 protocol (needs quic).";
    http3_hq = bool false "Whether to enable HTTP/0.9 negotiation over QUIC.";
    kTLS = bool false "Whether to enable kTLS support.";
    listen = mkOption {
      type = types.listOf (types.submodule {
        options = {
          addr = mkOption { type = types.str; description = "Listen address."; };
          extraParameters = mkOption { type = types.listOf types.str; default = [ ]; description = "Extra parameters of this listen directive."; };
          port = mkOption { type = types.nullOr types.port; default = null; description = "Port number to listen on."; };
          proxyProtocol = bool false "Enable PROXY protocol.";
          ssl = bool false "Enable SSL.";
        };
      });
      default = [ ];
      description = "Listen addresses and ports for this virtual host.";
    };
    listenAddresses = mkOption { type = types.listOf types.str; default = [ ]; description = "Listen addresses for this virtual host."; };
    locations = mkOption { type = types.attrsOf (types.submodule locationOptions); default = { }; description = "Declarative location config."; };
    onlySSL = bool false "Whether to enable HTTPS and reject plain HTTP connections.";
    quic = bool false "Whether to enable the QUIC transport protocol.";
    redirectCode = mkOption { type = types.ints.between 300 399; default = 301; description = "HTTP status used by globalRedirect and forceSSL."; };
    rejectSSL = bool false "Whether to listen for and reject all HTTPS connections to this vhost.";
    reuseport = bool false "Create an individual listening socket.";
    root = nullPath "The path of the web root directory.";
    serverAliases = mkOption { type = types.listOf types.str; default = [ ]; description = "Additional names of virtual hosts served by this virtual host configuration."; };
    serverName = nullStr "Name of this virtual host. Defaults to attribute name in virtualHosts.";
    sslCertificate = mkOption { type = types.path; description = "Path to server SSL certificate."; };
    sslCertificateKey = mkOption { type = types.path; description = "Path to server SSL certificate key."; };
    sslTrustedCertificate = nullPath "Path to root SSL certificate for stapling and client certificates.";
    useACMEHost = nullStr "A host of an existing Let's Encrypt certificate to use.";
  };
}
