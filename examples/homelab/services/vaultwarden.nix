# Shared by o001 (today) and h002 (migration target): the same module on both hosts.
{ config, lib, ... }:
{
  services.vaultwarden = {
    enable = true;
    environmentFile = config.age.secrets.vaultwarden-env.path;
    config = {
      DOMAIN = "https://vault.joshuabell.xyz";
      ROCKET_ADDRESS = "127.0.0.1";
      ROCKET_PORT = 8222;
      SIGNUPS_ALLOWED = false;
    };
  };
  age.secrets.vaultwarden-env = { file = ../secrets/vaultwarden-env.age; owner = "vaultwarden"; };
}
