# l001: Headscale, the coordination server of the mesh, behind its own nginx.
{ config, lib, ... }:
{
  imports = [ ../../services/headscale.nix ];
  networking.hostName = "l001";
  migen.address = "100.64.0.2";
  networking.firewall.allowedTCPPorts = [ 80 443 ];

  services.nginx = {
    enable = true;
    virtualHosts."headscale.joshuabell.xyz" = {
      forceSSL = true;
      enableACME = true;
      locations."/" = { proxyPass = "http://127.0.0.1:8080"; proxyWebsockets = true; };
    };
  };
  # The TSIG key that signs updates of the joshuabell.xyz zone (migration headscale: dns.provider).
  age.secrets.dns-update-key.file = ../../secrets/dns-update-key.age;

  services.restic.backups.headscale = {
    repository = "/backup/l001";
    paths = [ "/var/lib/headscale" ];
    passwordFile = "/etc/nixos/restic-password";
  };
}
