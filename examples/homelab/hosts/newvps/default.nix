# newvps: the VPS that takes over Headscale from l001. Deployed with deploy-rs.
{ config, lib, ... }:
{
  # The same service module as on l001; migen keeps it stopped here until the cutover.
  imports = [ ../../services/headscale.nix ];
  networking.hostName = "newvps";
  migen.address = "100.64.0.30";
  migen.deploy = "deploy-rs";
  networking.firewall.allowedTCPPorts = [ 80 443 ];

  # Clients reach headscale by its DNS record, which the migration points here: TLS on this
  # host, with a certificate from the DNS-01 challenge (HTTP-01 would need the record first).
  services.nginx = {
    enable = true;
    virtualHosts."headscale.joshuabell.xyz" = {
      forceSSL = true;
      enableACME = true;
      acmeRoot = null;
      locations."/" = { proxyPass = "http://127.0.0.1:8080"; proxyWebsockets = true; };
    };
  };
  security.acme.certs."headscale.joshuabell.xyz" = { dnsProvider = "rfc2136"; environmentFile = "/etc/nixos/acme-rfc2136.env"; };
  # pinned ahead of the move so that /var/lib/headscale keeps its owner
  users.users.headscale = { isSystemUser = true; uid = 990; group = "headscale"; };
  users.groups.headscale.gid = 990;
}
