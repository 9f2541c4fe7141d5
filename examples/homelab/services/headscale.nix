# Shared by l001 (today) and newvps (migration target): the same module on both hosts.
{ config, lib, ... }:
{
  services.headscale = {
    enable = true;
    port = 8080;
    settings.server_url = "https://headscale.joshuabell.xyz";
    # MagicDNS is on by default and needs a base domain other than server_url's
    settings.dns.base_domain = "tailnet.joshuabell.xyz";
  };
}
