# Shared by h003 (today) and h002 (migration target): the same module on both hosts.
{ config, lib, ... }:
{
  services.adguardhome = {
    enable = true;
    openFirewall = true;
    # not 3000: Forgejo's container shares h002's network and listens there
    port = 3001;
  };
  networking.firewall.allowedUDPPorts = [ 53 ];
  networking.firewall.allowedTCPPorts = [ 53 ];
}
