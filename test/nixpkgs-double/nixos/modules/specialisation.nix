# TEST DOUBLE of nixpkgs nixos/modules/system/activation/specialisation.nix: same shape.
# `config.specialisation.<name>.configuration` is the *evaluated config* of the parent system
# extended with the specialisation's definitions (type = (extendModules {...}).type).
{ config, lib, extendModules, noUserModules, ... }:
let inherit (lib) mkOption types; in
{
  options.specialisation = mkOption {
    default = { };
    description = "Additional configurations to build.";
    type = types.attrsOf (types.submodule (local@{ ... }:
      let
        extend =
          if local.config.inheritParentConfig
          then extendModules
          else noUserModules.extendModules;
      in
      {
        options.inheritParentConfig = mkOption {
          type = types.bool;
          default = true;
          description = "Include the entire system's configuration.";
        };
        options.configuration = mkOption {
          default = { };
          description = "Arbitrary NixOS configuration.";
          inherit (extend { modules = [ ./no-clone.nix ]; }) type;
        };
      }));
  };
}
