# TEST DOUBLE of github:ryantm/agenix (cannot be fetched here): only the `age.secrets` options
# of agenix's NixOS module, with agenix's names and defaults. Nothing is decrypted.
{
  description = "TEST DOUBLE of agenix for migen's offline tests (not agenix)";
  outputs = { self }: {
    nixosModules.default = self.nixosModules.age;
    nixosModules.age = { config, lib, ... }: {
      options.age = {
        identityPaths = lib.mkOption { type = lib.types.listOf lib.types.path; default = [ "/etc/ssh/ssh_host_ed25519_key" ]; description = "Identities used to decrypt."; };
        secretsDir = lib.mkOption { type = lib.types.path; default = "/run/agenix"; description = "Where secrets are linked."; };
        secrets = lib.mkOption {
          default = { };
          description = "Attrset of secrets.";
          type = lib.types.attrsOf (lib.types.submodule ({ name, ... }: {
            options = {
              name = lib.mkOption { type = lib.types.str; default = name; description = "Name of the file used in secretsDir."; };
              file = lib.mkOption { type = lib.types.path; description = "Age file the secret is loaded from."; };
              path = lib.mkOption { type = lib.types.str; default = "${config.age.secretsDir}/${name}"; description = "Path where the decrypted secret is installed."; };
              mode = lib.mkOption { type = lib.types.str; default = "0400"; description = "Permissions mode."; };
              owner = lib.mkOption { type = lib.types.str; default = "0"; description = "User of the decrypted secret."; };
              group = lib.mkOption { type = lib.types.str; default = "0"; description = "Group of the decrypted secret."; };
              symlink = lib.mkOption { type = lib.types.bool; default = true; description = "Symlink instead of copy."; };
            };
          }));
        };
      };
    };
  };
}
