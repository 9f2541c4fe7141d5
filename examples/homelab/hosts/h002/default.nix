# h002: the new home server that takes over services from h001, o001 and h003. It imports the
# same service modules as their current hosts; migen's generated module keeps each one installed
# but stopped until its migration's cutover. Secrets are already rekeyed to its host key.
{ config, lib, ... }:
{
  imports = [
    ../../services/forgejo.nix
    ../../services/zitadel.nix
    ../../services/vaultwarden.nix
    ../../services/adguardhome.nix
  ];

  networking.hostName = "h002";
  migen.address = "100.64.0.20";
  migen.ssh.target = "root@100.64.0.20";
  networking.firewall.interfaces.tailscale0.allowedTCPPorts = [ 80 3000 8080 ];

  age.secrets.forgejo-db-password = { file = ../../secrets/forgejo-db-password.age; owner = "forgejo"; };
  age.secrets.zitadel-masterkey.file = ../../secrets/zitadel-masterkey.age;
  age.secrets.migen-replication-zitadel = { file = ../../secrets/migen-replication-zitadel.age; owner = "postgres"; };
  # the restic password of the backup jobs that follow the moved state here
  age.secrets.restic-password.file = ../../secrets/restic-password.age;
}
