# TEST DOUBLE of nixpkgs networking options: tasks/network-interfaces.nix (hostName, domain,
# enableIPv6, useDHCP, nameservers, extraHosts), services/networking/firewall.nix (+ the
# iptables backend's extraCommands) and services/networking/nat.nix.
{ config, lib, ... }:
let
  inherit (lib) mkOption types;
  cfg = config.networking.firewall;
  # firewall.nix: port lists come out sorted and without duplicates
  canonicalizePortList = ports: lib.unique (builtins.sort builtins.lessThan ports);
  portsOpts = {
    allowedTCPPorts = mkOption { type = types.listOf types.port; default = [ ]; apply = canonicalizePortList; description = "TCP ports open in the firewall."; };
    allowedTCPPortRanges = mkOption { type = types.listOf (types.attrsOf types.port); default = [ ]; description = "TCP port ranges."; };
    allowedUDPPorts = mkOption { type = types.listOf types.port; default = [ ]; apply = canonicalizePortList; description = "UDP ports open in the firewall."; };
    allowedUDPPortRanges = mkOption { type = types.listOf (types.attrsOf types.port); default = [ ]; description = "UDP port ranges."; };
  };
in
{
  options.networking = {
    hostName = mkOption { type = types.strMatching "^$|^[[:alnum:]]([[:alnum:]_-]{0,61}[[:alnum:]])?$"; default = "nixos"; description = "The name of the machine."; };
    domain = mkOption { type = types.nullOr types.str; default = null; description = "The domain."; };
    # nixpkgs tasks/network-interfaces.nix: read-only, throws when there is no domain
    fqdn = mkOption {
      readOnly = true;
      type = types.str;
      default =
        if (config.networking.hostName != "" && config.networking.domain != null) then "${config.networking.hostName}.${config.networking.domain}"
        else throw ''
          The FQDN is required but cannot be determined from `networking.hostName`
          and `networking.domain`. Please ensure these options are set properly or
          set `networking.fqdn` directly.
        '';
      description = "The fully qualified domain name (FQDN) of this host.";
    };
    enableIPv6 = mkOption { type = types.bool; default = true; description = "Whether to enable support for IPv6."; };
    useDHCP = mkOption { type = types.bool; default = true; description = "Whether to use DHCP."; };
    nameservers = mkOption { type = types.listOf types.str; default = [ ]; description = "Name servers."; };
    extraHosts = mkOption { type = types.lines; default = ""; description = "Additional /etc/hosts entries."; };
    firewall = portsOpts // {
      enable = mkOption { type = types.bool; default = true; description = "Whether to enable the firewall."; };
      trustedInterfaces = mkOption { type = types.listOf types.str; default = [ ]; description = "Traffic from these interfaces is accepted."; };
      allowPing = mkOption { type = types.bool; default = true; description = "Whether to respond to ICMPv4 echo requests."; };
      rejectPackets = mkOption { type = types.bool; default = false; description = "Reject rather than drop refused packets."; };
      logRefusedConnections = mkOption { type = types.bool; default = true; description = "Log refused connections."; };
      checkReversePath = mkOption { type = types.either types.bool (types.enum [ "strict" "loose" ]); default = true; description = "Reverse path filter."; };
      extraCommands = mkOption { type = types.lines; default = ""; description = "Extra iptables commands."; };
      extraStopCommands = mkOption { type = types.lines; default = ""; description = "Extra commands when the firewall stops."; };
      interfaces = mkOption { type = types.attrsOf (types.submodule [ { options = portsOpts; } ]); default = { }; description = "Interface-specific open ports."; };
    };
    nat = {
      enable = mkOption { type = types.bool; default = false; description = "Whether to enable NAT."; };
      internalInterfaces = mkOption { type = types.listOf types.str; default = [ ]; description = "Internal interfaces."; };
      externalInterface = mkOption { type = types.nullOr types.str; default = null; description = "External interface."; };
    };
  };

  config = lib.mkIf cfg.enable {
    networking.firewall.trustedInterfaces = [ "lo" ];
  };
}
