# newvps: the VPS that takes over Headscale from l001. Deployed with deploy-rs.
{ config, lib, ... }:
{
  # The same service module as on l001; migen keeps it stopped here until the cutover.
  imports = [ ../../services/headscale.nix ];
  networking.hostName = "newvps";
  migen.address = "100.64.0.30";
  migen.deploy = "deploy-rs";
  networking.firewall.allowedTCPPorts = [ 80 443 ];
  # pinned ahead of the move so that /var/lib/headscale keeps its owner
  users.users.headscale = { isSystemUser = true; uid = 990; group = "headscale"; };
  users.groups.headscale.gid = 990;
}
