# o001: Oracle VPS, the public entry point. nginx proxies to the home servers over Tailscale;
# Vaultwarden runs here itself.
{ config, lib, pkgs, ... }:
{
  imports = [ ./nginx.nix ../../../services/vaultwarden.nix ];

  networking.hostName = "o001";
  migen.address = "100.64.0.1";
  networking.firewall.allowedTCPPorts = [ 80 443 ];

  services.prometheus = {
    enable = true;
    scrapeConfigs = [
      { job_name = "forgejo"; static_configs = [ { targets = [ "100.64.0.13:3000" ]; } ]; }
    ];
  };
}
