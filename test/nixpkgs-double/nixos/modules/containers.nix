# TEST DOUBLE of nixpkgs nixos/modules/virtualisation/nixos-containers.nix (options only).
# As in nixpkgs, `containers.<name>.config` is a module whose merge evaluates a whole NixOS
# system (eval-config with the container's definitions), so
# `config.containers.<name>.config.services.x.enable` reads the container's own config.
{ config, lib, pkgs, specialArgs, ... }:
let
  inherit (lib) mkOption mkDefault types;
  host = config;
  containerOpts = { config, name, ... }: {
    options = {
      config = mkOption {
        description = "A specification of the desired configuration of this container, as a NixOS module.";
        type = lib.mkOptionType {
          name = "Toplevel NixOS config";
          merge = loc: defs: (import ../lib/eval-config.nix {
            inherit lib;
            modules = [
              {
                _file = toString ./containers.nix;
                config = {
                  nixpkgs.hostPlatform = mkDefault pkgs.stdenv.hostPlatform.system;
                  boot.isContainer = true;
                  networking.hostName = mkDefault name;
                  networking.useDHCP = false;
                };
              }
            ] ++ map (x: x.value) defs;
            prefix = [ "containers" name ];
            inherit (config) specialArgs;
            system = null;
          }).config;
        };
      };
      path = mkOption { type = types.path; description = "Path to an evaluated system instead of config."; };
      specialArgs = mkOption { type = types.attrsOf types.unspecified; default = { }; description = "specialArgs for the container's evaluation."; };
      autoStart = mkOption { type = types.bool; default = false; description = "Whether the container is started at boot."; };
      ephemeral = mkOption { type = types.bool; default = false; description = "Whether the container's root is ephemeral."; };
      privateNetwork = mkOption { type = types.bool; default = false; description = "Whether to give the container its own network."; };
      hostAddress = mkOption { type = types.nullOr types.str; default = null; description = "The IPv4 address on the host side of the veth pair."; };
      localAddress = mkOption { type = types.nullOr types.str; default = null; description = "The IPv4 address of the container's interface."; };
      hostAddress6 = mkOption { type = types.nullOr types.str; default = null; description = "IPv6 host address."; };
      localAddress6 = mkOption { type = types.nullOr types.str; default = null; description = "IPv6 local address."; };
      hostBridge = mkOption { type = types.nullOr types.str; default = null; description = "Host bridge."; };
      interfaces = mkOption { type = types.listOf types.str; default = [ ]; description = "Interfaces moved into the container."; };
      forwardPorts = mkOption { type = types.listOf (types.attrsOf types.anything); default = [ ]; description = "Ports forwarded to the container."; };
      extraFlags = mkOption { type = types.listOf types.str; default = [ ]; description = "Extra systemd-nspawn flags."; };
      additionalCapabilities = mkOption { type = types.listOf types.str; default = [ ]; description = "Capabilities granted."; };
      enableTun = mkOption { type = types.bool; default = false; description = "Allow /dev/net/tun."; };
      timeoutStartSec = mkOption { type = types.str; default = "1min"; description = "Start timeout."; };
      restartIfChanged = mkOption { type = types.bool; default = true; description = "Restart when changed."; };
      bindMounts = mkOption {
        type = types.attrsOf (types.submodule ({ name, ... }: {
          options = {
            mountPoint = mkOption { type = types.str; default = name; description = "Mount point in the container."; };
            hostPath = mkOption { type = types.nullOr types.str; default = null; description = "Path on the host."; };
            isReadOnly = mkOption { type = types.bool; default = true; description = "Read-only mount."; };
          };
        }));
        default = { };
        description = "Extra mounts.";
      };
    };
  };
in
{
  options.containers = mkOption {
    type = types.attrsOf (types.submodule containerOpts);
    default = { };
    description = "A set of NixOS system configurations to be run as lightweight containers.";
  };
}
