# h001: home server behind o001. Forgejo and Zitadel run in nixos-containers, each with its
# own PostgreSQL; state lives under /var/lib/forgejo and /var/lib/zitadel on the host. Its own
# nginx (nginx.nix) routes o001's requests for its domains to them by Host.
{ config, lib, pkgs, ... }:
{
  imports = [ ./nginx.nix ../../services/forgejo.nix ../../services/zitadel.nix ];

  networking.hostName = "h001";
  system.stateVersion = "23.11";
  migen.address = "100.64.0.13";
  migen.ssh.target = "root@100.64.0.13";

  # chat, notes, sec and llm are served from here too (o001 proxies them)
  networking.firewall.interfaces.tailscale0.allowedTCPPorts = [ 80 3000 8080 8095 ];

  age.secrets.forgejo-db-password = { file = ../../secrets/forgejo-db-password.age; owner = "forgejo"; };
  age.secrets.zitadel-masterkey.file = ../../secrets/zitadel-masterkey.age;
  age.secrets.migen-replication-zitadel = { file = ../../secrets/migen-replication-zitadel.age; owner = "postgres"; };
  age.secrets.restic-password.file = ../../secrets/restic-password.age;

  services.restic.backups.forgejo = {
    repository = "/backup/h001";
    paths = [ "/var/lib/forgejo" ];
    passwordFile = config.age.secrets.restic-password.path;
    initialize = true;
  };
}
