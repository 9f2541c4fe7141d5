# TEST DOUBLE of nixpkgs networking options (hostName, firewall, interfaces, nat).
{ config, lib, ... }:
let
  inherit (lib) mkOption types;
  portsOpts = {
    allowedTCPPorts = mkOption { type = types.listOf types.port; default = [ ]; description = "TCP ports open in the firewall."; };
    allowedUDPPorts = mkOption { type = types.listOf types.port; default = [ ]; description = "UDP ports open in the firewall."; };
    allowedTCPPortRanges = mkOption { type = types.listOf (types.attrsOf types.port); default = [ ]; description = "TCP port ranges."; };
    allowedUDPPortRanges = mkOption { type = types.listOf (types.attrsOf types.port); default = [ ]; description = "UDP port ranges."; };
  };
in
{
  options.networking = {
    hostName = mkOption { type = types.strMatching "^$|^[[:alnum:]]([[:alnum:]_-]{0,61}[[:alnum:]])?$"; default = "nixos"; description = "The name of the machine."; };
    domain = mkOption { type = types.nullOr types.str; default = null; description = "The domain."; };
    useDHCP = mkOption { type = types.bool; default = true; description = "Whether to use DHCP."; };
    nameservers = mkOption { type = types.listOf types.str; default = [ ]; description = "Name servers."; };
    firewall = portsOpts // {
      enable = mkOption { type = types.bool; default = true; description = "Whether to enable the firewall."; };
      trustedInterfaces = mkOption { type = types.listOf types.str; default = [ ]; description = "Trusted interfaces."; };
      extraCommands = mkOption { type = types.lines; default = ""; description = "Extra iptables commands."; };
      interfaces = mkOption { type = types.attrsOf (types.submodule { options = portsOpts; }); default = { }; description = "Per-interface firewall rules."; };
    };
    nat = {
      enable = mkOption { type = types.bool; default = false; description = "Whether to enable NAT."; };
      internalInterfaces = mkOption { type = types.listOf types.str; default = [ ]; description = "Internal interfaces."; };
      externalInterface = mkOption { type = types.nullOr types.str; default = null; description = "External interface."; };
    };
  };
}
