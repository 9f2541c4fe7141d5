# TEST DOUBLE of nixpkgs nixos/modules/config/users-groups.nix (+ the built-in root/nobody
# users and a few built-in groups with their ids from nixos/modules/misc/ids.nix).
{ config, lib, ... }:
let
  inherit (lib) mkOption types;
  userOpts = { name, config, ... }: {
    options = {
      name = mkOption { type = types.str; default = name; description = "The name of the user account."; };
      uid = mkOption { type = types.nullOr types.int; default = null; description = "The account UID; null lets the host allocate one."; };
      group = mkOption { type = types.str; default = ""; description = "The user's primary group."; };
      extraGroups = mkOption { type = types.listOf types.str; default = [ ]; description = "Supplementary groups."; };
      description = mkOption { type = types.str; default = ""; description = "A short description of the user account."; };
      home = mkOption { type = types.path; default = "/var/empty"; description = "The user's home directory."; };
      createHome = mkOption { type = types.bool; default = false; description = "Whether to create the home directory."; };
      isSystemUser = mkOption { type = types.bool; default = false; description = "Whether this is a system user."; };
      isNormalUser = mkOption { type = types.bool; default = false; description = "Whether this is a real user."; };
      useDefaultShell = mkOption { type = types.bool; default = false; description = "Use the default shell."; };
      shell = mkOption { type = types.nullOr (types.either types.path types.package); default = null; description = "The login shell."; };
      hashedPassword = mkOption { type = types.nullOr types.str; default = null; description = "Hashed password."; };
      openssh.authorizedKeys.keys = mkOption { type = types.listOf types.str; default = [ ]; description = "Authorized SSH keys."; };
    };
  };
  groupOpts = { name, ... }: {
    options = {
      name = mkOption { type = types.str; default = name; description = "The name of the group."; };
      gid = mkOption { type = types.nullOr types.int; default = null; description = "The group GID; null lets the host allocate one."; };
      members = mkOption { type = types.listOf types.str; default = [ ]; description = "The user names of the group members."; };
    };
  };
in
{
  options.users = {
    mutableUsers = mkOption { type = types.bool; default = true; description = "Whether users can be changed imperatively."; };
    users = mkOption { type = types.attrsOf (types.submodule userOpts); default = { }; description = "Additional user accounts."; };
    groups = mkOption { type = types.attrsOf (types.submodule groupOpts); default = { }; description = "Additional groups."; };
  };
  config.users = {
    users.root = { uid = 0; group = "root"; home = "/root"; };
    users.nobody = { uid = 65534; group = "nogroup"; isSystemUser = true; };
    groups.root.gid = 0;
    groups.wheel.gid = 1;
    groups.users.gid = 100;
    groups.nogroup.gid = 65534;
  };
}
