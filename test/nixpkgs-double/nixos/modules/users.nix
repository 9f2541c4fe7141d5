# TEST DOUBLE of nixpkgs nixos/modules/config/users-groups.nix: its options, the built-in root and
# nobody users and built-in groups (ids from nixos/modules/misc/ids.nix), and its assertions.
{ config, lib, ... }:
let
  inherit (lib) mkOption types;
  cfg = config.users;
  userOpts = { name, config, ... }: {
    options = {
      enable = mkOption { type = types.bool; default = true; description = "Whether the user account is created."; };
      name = mkOption { type = types.str; description = "The name of the user account."; };
      uid = mkOption { type = types.nullOr types.int; default = null; description = "The account UID; null lets the host allocate one."; };
      group = mkOption { type = types.str; default = ""; description = "The user's primary group."; };
      extraGroups = mkOption { type = types.listOf types.str; default = [ ]; description = "Supplementary groups."; };
      description = mkOption { type = types.str; default = ""; description = "A short description of the user account."; };
      home = mkOption { type = types.path; default = "/var/empty"; description = "The user's home directory."; };
      homeMode = mkOption { type = types.strMatching "[0-7]{1,5}"; default = "700"; description = "Mode of the home directory."; };
      createHome = mkOption { type = types.bool; default = false; description = "Whether to create the home directory."; };
      isSystemUser = mkOption { type = types.bool; default = false; description = "Whether this is a system user."; };
      isNormalUser = mkOption { type = types.bool; default = false; description = "Whether this is a real user."; };
      useDefaultShell = mkOption { type = types.bool; default = false; description = "Use the default shell."; };
      shell = mkOption { type = types.nullOr (types.either types.path types.package); default = null; description = "The login shell."; };
      hashedPassword = mkOption { type = types.nullOr types.str; default = null; description = "Hashed password."; };
      hashedPasswordFile = mkOption { type = types.nullOr types.str; default = null; description = "File with the hashed password."; };
      password = mkOption { type = types.nullOr types.str; default = null; description = "Clear-text password."; };
      initialPassword = mkOption { type = types.nullOr types.str; default = null; description = "Initial password."; };
      packages = mkOption { type = types.listOf types.package; default = [ ]; description = "Packages of the user."; };
      linger = mkOption { type = types.nullOr types.bool; default = null; description = "Whether the user lingers."; };
      openssh.authorizedKeys.keys = mkOption { type = types.listOf types.singleLineStr; default = [ ]; description = "Authorized SSH keys."; };
      openssh.authorizedKeys.keyFiles = mkOption { type = types.listOf types.path; default = [ ]; description = "Files of authorized SSH keys."; };
    };
    config = lib.mkMerge [
      { name = lib.mkDefault name; }
      (lib.mkIf config.isNormalUser {
        group = lib.mkDefault "users";
        createHome = lib.mkDefault true;
        home = lib.mkDefault "/home/${config.name}";
        homeMode = lib.mkDefault "700";
        useDefaultShell = lib.mkDefault true;
      })
    ];
  };
  groupOpts = { name, ... }: {
    options = {
      name = mkOption { type = types.str; default = name; description = "The name of the group."; };
      gid = mkOption { type = types.nullOr types.int; default = null; description = "The group GID; null lets the host allocate one."; };
      members = mkOption { type = types.listOf types.str; default = [ ]; description = "The user names of the group members."; };
    };
  };
  idsAreUnique = set: idAttr:
    let ids = map (v: toString v.${idAttr}) (lib.attrValues (lib.filterAttrs (_: v: v.${idAttr} != null) set));
    in lib.length ids == lib.length (lib.unique ids);
  usersWithoutExistingGroup = lib.filterAttrs (_: u: u.group != "" && !(cfg.groups ? ${u.group})) cfg.users;
in
{
  options.users = {
    mutableUsers = mkOption { type = types.bool; default = true; description = "Whether users can be changed imperatively."; };
    enforceIdUniqueness = mkOption { type = types.bool; default = true; description = "Whether to require that no two users/groups share the same id."; };
    allowNoPasswordLogin = mkOption { type = types.bool; default = false; description = "Disable the lock-out check."; };
    users = mkOption { type = types.attrsOf (types.submodule userOpts); default = { }; description = "Additional user accounts."; };
    groups = mkOption { type = types.attrsOf (types.submodule groupOpts); default = { }; description = "Additional groups."; };
  };

  config = {
    users.users.root = { uid = 0; description = "System administrator"; home = "/root"; group = "root"; };
    users.users.nobody = { uid = 65534; isSystemUser = true; description = "Unprivileged account (don't use!)"; group = "nogroup"; };
    users.groups = { root.gid = 0; wheel.gid = 1; users.gid = 100; nogroup.gid = 65534; };

    # users-groups.nix's assertions (those about options declared here), with nixpkgs' messages
    assertions = [
      { assertion = !cfg.enforceIdUniqueness || (idsAreUnique cfg.users "uid" && idsAreUnique cfg.groups "gid"); message = "UIDs and GIDs must be unique!"; }
      {
        assertion = usersWithoutExistingGroup == { };
        message =
          let
            missingGroups = lib.unique (lib.mapAttrsToList (_: u: u.group) usersWithoutExistingGroup);
          in
          ''
            The following users have a primary group that is undefined: ${lib.concatStringsSep " " (lib.attrNames usersWithoutExistingGroup)}
            Hint: Add this to your NixOS configuration:
              ${lib.concatStringsSep "\n  " (map (g: "users.groups.${g} = {};") missingGroups)}
          '';
      }
    ] ++ lib.concatLists (lib.mapAttrsToList
      (_: user: [
        {
          assertion = builtins.match "[a-zA-Z0-9_.][a-zA-Z0-9_.-]*" user.name != null;
          message = "The username \"${user.name}\" is not valid, it does not match the regex \"[a-zA-Z0-9_.][a-zA-Z0-9_.-]*\".";
        }
        {
          assertion = user.isNormalUser && user.uid != null -> user.uid >= 1000;
          message = ''
            A user cannot have a users.users.${user.name}.uid set below 1000 and set users.users.${user.name}.isNormalUser.
            Either users.users.${user.name}.isSystemUser must be set to true instead of users.users.${user.name}.isNormalUser
            or users.users.${user.name}.uid must be changed to 1000 or above.
          '';
        }
        {
          assertion =
            let isEffectivelySystemUser = user.isSystemUser || (user.uid != null && user.uid < 1000 && !user.isNormalUser);
            in lib.xor isEffectivelySystemUser user.isNormalUser;
          message = ''
            Exactly one of users.users.${user.name}.isSystemUser and users.users.${user.name}.isNormalUser must be set.
          '';
        }
        {
          assertion = user.group != "";
          message = ''
            users.users.${user.name}.group is unset. This used to default to
            nogroup, but this is unsafe. For example you can create a group
            for this user with:
            users.users.${user.name}.group = "${user.name}";
            users.groups.${user.name} = {};
          '';
        }
      ])
      cfg.users);
  };
}
