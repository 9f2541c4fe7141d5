# TEST DOUBLE of nixpkgs nixos/modules/virtualisation/nixos-containers.nix (options, `path`, and
# the assertions). As in nixpkgs, `containers.<name>.config` is a module whose merge evaluates a
# whole NixOS system (eval-config with the container's definitions), so
# `config.containers.<name>.config.services.x.enable` reads the container's own config; the
# container's name assertions are part of that system's assertions, checked by its toplevel,
# which is the container's `path`. The container@<name> units are not created (see README).
{ config, lib, pkgs, ... }:
let
  inherit (lib) mkOption mkDefault types;
  # boot.kernelPackages.kernel.version: nixos-26.05's default kernel (linuxPackages) is 6.12
  kernelVersion = pkgs.linux.version;
  networkOptions = {
    hostBridge = mkOption { type = types.nullOr types.str; default = null; description = "Put the host side of the veth pair into this bridge."; };
    forwardPorts = mkOption {
      type = types.listOf (types.submodule {
        options = {
          protocol = mkOption { type = types.str; default = "tcp"; description = "The protocol."; };
          hostPort = mkOption { type = types.port; description = "Source port on the host."; };
          containerPort = mkOption { type = types.nullOr types.port; default = null; description = "Target port of the container."; };
        };
      });
      default = [ ];
      description = "Ports forwarded from host to container.";
    };
    hostAddress = mkOption { type = types.nullOr types.str; default = null; description = "The IPv4 address assigned to the host interface."; };
    hostAddress6 = mkOption { type = types.nullOr types.str; default = null; description = "The IPv6 address assigned to the host interface."; };
    localAddress = mkOption { type = types.nullOr types.str; default = null; description = "The IPv4 address assigned to the interface in the container."; };
    localAddress6 = mkOption { type = types.nullOr types.str; default = null; description = "The IPv6 address assigned to the interface in the container."; };
  };
  containerOpts = { config, options, name, ... }: {
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
                  boot.isNspawnContainer = true;
                  networking.hostName = mkDefault name;
                  networking.useDHCP = false;
                  assertions = [
                    {
                      assertion = (builtins.compareVersions kernelVersion "5.8" <= 0) -> config.privateNetwork -> lib.stringLength name <= 11;
                      message = ''
                        Container name `${name}` is too long: When `privateNetwork` is enabled, container names can
                        not be longer than 11 characters, because the container's interface name is derived from it.
                        You should either make the container name shorter or upgrade to a more recent kernel that
                        supports interface altnames (i.e. at least Linux 5.8 - please see https://github.com/NixOS/nixpkgs/issues/38509
                        for details).
                      '';
                    }
                    {
                      assertion = !lib.hasInfix "_" name;
                      message = ''
                        Names containing underscores are not allowed in nixos-containers. Please rename the container '${name}'
                      '';
                    }
                  ];
                };
              }
            ] ++ map (x: x.value) defs;
            prefix = [ "containers" name ];
            inherit (config) specialArgs;
            system = null;
          }).config;
        };
      };
      path = mkOption { type = types.path; description = "The evaluated system to run instead of config."; };
      specialArgs = mkOption { type = types.attrsOf types.unspecified; default = { }; description = "specialArgs for the container's evaluation."; };
      autoStart = mkOption { type = types.bool; default = false; description = "Whether the container is started at boot."; };
      ephemeral = mkOption { type = types.bool; default = false; description = "Whether the container's root is ephemeral."; };
      enableTun = mkOption { type = types.bool; default = false; description = "Allow /dev/net/tun."; };
      copyResolvConf = mkOption { type = types.bool; default = true; description = "Copy the host's /etc/resolv.conf."; };
      privateNetwork = mkOption { type = types.bool; default = false; description = "Whether to give the container its own network."; };
      networkNamespace = mkOption { type = types.nullOr types.path; default = null; description = "Network namespace to run in."; };
      privateUsers = mkOption { type = types.either types.ints.u32 (types.enum [ "no" "identity" "pick" ]); default = "no"; description = "User namespacing."; };
      interfaces = mkOption { type = types.listOf types.str; default = [ ]; description = "Interfaces moved into the container."; };
      macvlans = mkOption { type = types.listOf types.str; default = [ ]; description = "Host interfaces to create macvlans from."; };
      extraVeths = mkOption { type = types.attrsOf (types.submodule { options = networkOptions; }); default = { }; description = "Extra veth pairs."; };
      restartIfChanged = mkOption { type = types.bool; default = true; description = "Restart when the definition changed."; };
      timeoutStartSec = mkOption { type = types.str; default = "1min"; description = "Start timeout."; };
      bindMounts = mkOption {
        type = types.attrsOf (types.submodule ({ name, ... }: {
          options = {
            mountPoint = mkOption { type = types.str; description = "Mount point on the container file system."; };
            hostPath = mkOption { type = types.nullOr types.str; default = null; description = "Location of the host path to be mounted."; };
            isReadOnly = mkOption { type = types.bool; default = true; description = "Whether the mounted path is read-only."; };
          };
          config.mountPoint = mkDefault name;
        }));
        default = { };
        description = "Extra directories bound into the container.";
      };
      allowedDevices = mkOption {
        type = types.listOf (types.submodule {
          options.node = mkOption { type = types.str; description = "Path to device node."; };
          options.modifier = mkOption { type = types.str; description = "Device node access modifier."; };
        });
        default = [ ];
        description = "Device nodes the container may access.";
      };
      tmpfs = mkOption { type = types.listOf types.str; default = [ ]; description = "tmpfs mounts."; };
      extraFlags = mkOption { type = types.listOf types.str; default = [ ]; description = "Extra systemd-nspawn flags."; };
      additionalCapabilities = mkOption { type = types.listOf types.str; default = [ ]; description = "Capabilities granted."; };
      flake = mkOption { type = types.nullOr types.str; default = null; description = "Flake URI of the container's configuration."; };
    } // networkOptions;

    config.path = lib.mkMerge [
      (lib.mkIf options.config.isDefined config.config.system.build.toplevel)
      (lib.mkIf (config.flake != null) "/nix/var/nix/profiles/per-container/${name}")
    ];
  };
in
{
  options.boot.enableContainers = mkOption { type = types.bool; default = config.containers != { }; description = "Whether to enable support for NixOS containers."; };
  options.containers = mkOption {
    type = types.attrsOf (types.submodule containerOpts);
    default = { };
    description = "A set of NixOS system configurations to be run as lightweight containers.";
  };

  config = {
    warnings = lib.optional (!config.boot.enableContainers && config.containers != { })
      "containers.<name> is used, but boot.enableContainers is false. To use containers.<name>, set boot.enableContainers to true.";
    assertions = lib.concatLists (lib.mapAttrsToList
      (name: cfg: lib.optional (cfg.networkNamespace != null && (cfg.privateNetwork || cfg.interfaces != [ ])) {
        assertion = false;
        message = "containers.${name}.networkNamespace is mutally exclusive to containers.${name}.privateNetwork and containers.${name}.interfaces.";
      })
      config.containers);
  };
}
