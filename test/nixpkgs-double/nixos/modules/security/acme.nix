# TEST DOUBLE of nixpkgs nixos/modules/security/acme/default.nix: the options of
# security.acme.{defaults,certs.<name>} (inheritable ones defaulting to security.acme.defaults),
# the acme user and group, and the assertions, which nixpkgs checks only when a cert exists.
# No lego units are created.
{ config, lib, ... }:
let
  inherit (lib) mkOption types;
  cfg = config.security.acme;

  inheritableModule = isDefaults: { config, ... }:
    let
      inherit' = name: default:
        if isDefaults || !config.inheritDefaults then default else cfg.defaults.${name};
      opt = name: type: default: description: mkOption { inherit type description; default = inherit' name default; };
    in
    {
      options = {
        validMinDays = opt "validMinDays" types.int 30 "Minimum remaining validity before renewal in days.";
        renewInterval = opt "renewInterval" types.str "daily" "Systemd calendar expression when to check for renewal.";
        enableDebugLogs = opt "enableDebugLogs" types.bool true "Whether to enable debug logging for this certificate.";
        webroot = opt "webroot" (types.nullOr types.str) null "Where the webroot of the HTTP vhost is located.";
        server = opt "server" (types.nullOr types.str) null "ACME Directory Resource URI.";
        email = opt "email" (types.nullOr types.str) null "Email address for account creation and correspondence from the CA.";
        group = opt "group" types.str "acme" "Group running the ACME client.";
        reloadServices = opt "reloadServices" (types.listOf types.str) [ ] "Services to try-reload-or-restart.";
        postRun = opt "postRun" types.lines "" "Commands to run after new certificates go live.";
        keyType = opt "keyType" types.str "ec256" "Key type to use for private keys.";
        dnsProvider = opt "dnsProvider" (types.nullOr types.str) null "DNS Challenge provider.";
        dnsResolver = opt "dnsResolver" (types.nullOr types.str) null "Resolver for recursive DNS queries.";
        environmentFile = opt "environmentFile" (types.nullOr types.path) null "EnvironmentFile for the cert's service.";
        credentialFiles = opt "credentialFiles" (types.attrsOf types.path) { } "Environment variables suffixed by _FILE.";
        dnsPropagationCheck = opt "dnsPropagationCheck" types.bool true "Toggles lego DNS propagation check.";
        ocspMustStaple = opt "ocspMustStaple" types.bool false "Turns on the OCSP Must-Staple TLS extension.";
        extraLegoFlags = opt "extraLegoFlags" (types.listOf types.str) [ ] "Additional global flags to pass to all lego commands.";
        extraLegoRenewFlags = opt "extraLegoRenewFlags" (types.listOf types.str) [ ] "Additional flags to pass to lego renew.";
        extraLegoRunFlags = opt "extraLegoRunFlags" (types.listOf types.str) [ ] "Additional flags to pass to lego run.";
      };
    };

  certOpts = { name, ... }: {
    options = {
      directory = mkOption { type = types.str; readOnly = true; default = "/var/lib/acme/${name}"; description = "Directory where certificate and other state is stored."; };
      domain = mkOption { type = types.str; default = name; description = "Domain to fetch certificate for (defaults to the entry name)."; };
      extraDomainNames = mkOption { type = types.listOf types.str; default = [ ]; description = "Extra domain names included in the certificate."; };
      listenHTTP = mkOption { type = types.nullOr types.str; default = null; description = "Interface and port to listen on to solve HTTP challenges."; };
      s3Bucket = mkOption { type = types.nullOr types.str; default = null; description = "S3 bucket name to use for HTTP-01 based challenges."; };
      inheritDefaults = mkOption { type = types.bool; default = true; description = "Whether to inherit values set in security.acme.defaults or not."; };
    };
  };
in
{
  options.security.acme = {
    preliminarySelfsigned = mkOption { type = types.bool; default = true; description = "Generate a self-signed certificate before doing ACME requests."; };
    acceptTerms = mkOption { type = types.bool; default = false; description = "Accept the CA's terms of service."; };
    useRoot = mkOption { type = types.bool; default = false; description = "Whether to use the root user when generating certs."; };
    defaults = mkOption { type = types.submodule (inheritableModule true); default = { }; description = "Default values inheritable by all configured certs."; };
    certs = mkOption {
      type = types.attrsOf (types.submodule [ (inheritableModule false) certOpts ]);
      default = { };
      description = "Attribute set of certificates to get signed and renewed.";
    };
    maxConcurrentRenewals = mkOption { type = types.int; default = 5; description = "Maximum number of concurrent certificate renewals."; };
  };

  imports = [
    (lib.mkRenamedOptionModule [ "security" "acme" "email" ] [ "security" "acme" "defaults" "email" ])
    (lib.mkRenamedOptionModule [ "security" "acme" "server" ] [ "security" "acme" "defaults" "server" ])
  ];

  config = lib.mkIf (cfg.certs != { }) {
    assertions =
      let certs = lib.attrValues cfg.certs; in
      [
        {
          assertion = cfg.defaults.email != null || lib.all (certOpts: certOpts.email != null) certs;
          message = ''
            You must define `security.acme.certs.<name>.email` or
            `security.acme.defaults.email` to register with the CA. Note that using
            many different addresses for certs may trigger account rate limits.
          '';
        }
        {
          assertion = cfg.acceptTerms;
          message = ''
            You must accept the CA's terms of service before using
            the ACME module by setting `security.acme.acceptTerms`
            to `true`. For Let's Encrypt's ToS see https://letsencrypt.org/repository/
          '';
        }
      ] ++ lib.concatLists (lib.mapAttrsToList
        (cert: data: [
          {
            assertion = !lib.hasInfix "*" cert;
            message = ''
              The cert option path `security.acme.certs.${cert}.dnsProvider`
              cannot contain a * character.
              Instead, set `security.acme.certs.${cert}.domain = "${cert}";`
              and remove the wildcard from the path.
            '';
          }
          (let exclusiveAttrs = { inherit (data) dnsProvider webroot listenHTTP s3Bucket; }; in {
            assertion = lib.length (lib.filter (x: x != null) (lib.attrValues exclusiveAttrs)) == 1;
            message = ''
              Exactly one of the options
              `security.acme.certs.${cert}.dnsProvider`,
              `security.acme.certs.${cert}.webroot`,
              `security.acme.certs.${cert}.listenHTTP` and
              `security.acme.certs.${cert}.s3Bucket`
              is required.
              Current values: ${lib.generators.toPretty { } exclusiveAttrs}.
            '';
          })
          {
            assertion = lib.all (lib.hasSuffix "_FILE") (lib.attrNames data.credentialFiles);
            message = ''
              Option `security.acme.certs.${cert}.credentialFiles` can only be
              used for variables suffixed by "_FILE".
            '';
          }
        ])
        cfg.certs);

    users.users.acme = { home = "/var/lib/acme"; group = "acme"; isSystemUser = true; };
    users.groups.acme = { };
  };
}
