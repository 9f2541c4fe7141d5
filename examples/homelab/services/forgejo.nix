# Shared by h001 (today) and h002 (migration target): the same module on both hosts.
{ config, lib, ... }:
{
  containers.forgejo = {
    autoStart = true;
    privateNetwork = false;
    bindMounts."/var/lib/forgejo" = { hostPath = "/var/lib/forgejo/data"; isReadOnly = false; };
    bindMounts."/var/lib/postgresql" = { hostPath = "/var/lib/forgejo/postgres"; isReadOnly = false; };
    config = { config, lib, pkgs, ... }: {
      system.stateVersion = "23.11";
      services.forgejo = {
        enable = true;
        database.type = "postgres";
        settings.server = {
          DOMAIN = "git.joshuabell.xyz";
          ROOT_URL = "https://git.joshuabell.xyz/";
          HTTP_PORT = 3000;
        };
      };
      services.postgresql.enable = true;
      # the zitadel container shares the host's network too, and its PostgreSQL has 5432
      # (Forgejo's database.port follows this)
      services.postgresql.settings.port = 5433;
      # Pinned so that the container's owner ids survive a move to another host.
      users.users.forgejo.uid = 986;
      users.groups.forgejo.gid = 986;
    };
  };
}
