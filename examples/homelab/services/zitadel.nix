# Shared by h001 (today) and h002 (migration target): the same module on both hosts.
{ config, lib, ... }:
{
  containers.zitadel = {
    autoStart = true;
    bindMounts."/var/lib/postgresql" = { hostPath = "/var/lib/zitadel/postgres"; isReadOnly = false; };
    bindMounts."/run/agenix/zitadel-masterkey" = { hostPath = config.age.secrets.zitadel-masterkey.path; };
    config = { config, lib, pkgs, ... }: {
      system.stateVersion = "23.11";
      services.zitadel = {
        enable = true;
        masterKeyFile = "/run/agenix/zitadel-masterkey";
        settings.Port = 8080;
        settings.ExternalDomain = "sso.joshuabell.xyz";
      };
      services.postgresql = {
        enable = true;
        ensureDatabases = [ "zitadel" ];
        ensureUsers = [ { name = "zitadel"; ensureDBOwnership = true; } ];
      };
    };
  };
}
