# h003: LAN DNS.
{ config, lib, ... }:
{
  imports = [ ../../services/adguardhome.nix ];
  networking.hostName = "h003";
  migen.address = "100.64.0.3";
}
