# TEST DOUBLE of github:ryantm/agenix (cannot be fetched here): the `age` options of agenix's
# NixOS module (modules/age.nix) with agenix's names, types and defaults, and its assertion.
# Nothing is decrypted: no activation scripts.
{
  description = "TEST DOUBLE of agenix for migen's offline tests (not agenix)";
  outputs = { self }: {
    nixosModules.default = self.nixosModules.age;
    nixosModules.age = { config, lib, ... }:
      let
        inherit (lib) mkOption types;
        cfg = config.age;
        users = config.users.users;
      in
      {
        imports = [ (lib.mkRenamedOptionModule [ "age" "sshKeyPaths" ] [ "age" "identityPaths" ]) ];
        options.age = {
          secrets = mkOption {
            default = { };
            description = "Attrset of secrets.";
            type = types.attrsOf (types.submodule ({ config, ... }: {
              options = {
                name = mkOption { type = types.str; default = config._module.args.name; description = "Name of the file used in secretsDir."; };
                file = mkOption { type = types.path; description = "Age file the secret is loaded from."; };
                path = mkOption { type = types.str; default = "${cfg.secretsDir}/${config.name}"; description = "Path where the decrypted secret is installed."; };
                mode = mkOption { type = types.str; default = "0400"; description = "Permissions mode."; };
                owner = mkOption { type = types.str; default = "0"; description = "User of the decrypted secret."; };
                group = mkOption { type = types.str; default = users.${config.owner}.group or "0"; description = "Group of the decrypted secret."; };
                symlink = lib.mkEnableOption "symlinking secrets to their destination" // { default = true; };
              };
            }));
          };
          secretsDir = mkOption { type = types.path; default = "/run/agenix"; description = "Folder where secrets are symlinked to."; };
          secretsMountPoint = mkOption { type = types.str; default = "/run/agenix.d"; description = "Where secrets are created before they are symlinked."; };
          identityPaths = mkOption {
            type = types.listOf types.path;
            default =
              if (config.services.openssh.enable or false)
              then map (e: e.path) (lib.filter (e: e.type == "rsa" || e.type == "ed25519") config.services.openssh.hostKeys)
              else [ ];
            description = "Path to SSH keys to be used as identities in age decryption.";
          };
        };
        config = lib.mkIf (cfg.secrets != { }) {
          assertions = [ { assertion = cfg.identityPaths != [ ]; message = "age.identityPaths must be set."; } ];
        };
      };
  };
}
