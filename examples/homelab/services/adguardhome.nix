# Shared by h003 (today) and h002 (migration target): the same module on both hosts.
{ config, lib, ... }:
{
  services.adguardhome = {
    enable = true;
    openFirewall = true;
    port = 3000;
  };
  networking.firewall.allowedUDPPorts = [ 53 ];
  networking.firewall.allowedTCPPorts = [ 53 ];
}
