# TEST DOUBLE of github:nix-community/impermanence (not in nixpkgs, cannot be fetched here): the
# option environment.persistence as impermanence's nixos.nix declares it (attrsOf a storage
# submodule: enable, persistentStoragePath, hideMounts, enableDebugging, enableWarnings,
# directories and files as strings coerced to submodules, users), its duplicate-directory and
# duplicate-file assertions and its /var/lib/nixos warning. Not modelled: the bind mounts
# (fileSystems), activation scripts and persist-* units it creates, and the neededForBoot
# assertion (the double has no fileSystems option).
{
  description = "TEST DOUBLE of impermanence for migen's offline tests (not impermanence)";
  outputs = { self }: {
    nixosModules.default = self.nixosModules.impermanence;
    nixosModules.impermanence = { config, lib, ... }:
      let
        inherit (lib) mkOption types;
        cfg = config.environment.persistence;
        enabled = lib.filter (v: v.enable) (lib.attrValues cfg);
        directories = lib.concatMap (v: v.directories) enabled;
        files = lib.concatMap (v: v.files) enabled;
        duplicates = xs: lib.unique (lib.filter (x: lib.count (y: y == x) xs > 1) xs);
        perms = {
          user = mkOption { type = types.str; default = "root"; description = "Owner of the directory when it is created in persistent storage."; };
          group = mkOption { type = types.str; default = "root"; description = "Group of the directory when it is created in persistent storage."; };
          mode = mkOption { type = types.str; default = "0755"; description = "Mode of the directory when it is created in persistent storage."; };
        };
        storage = { name, config, ... }:
          let
            common = {
              persistentStoragePath = mkOption { type = types.path; default = config.persistentStoragePath; description = "The path to persistent storage where the real file or directory should be stored."; };
              enableDebugging = mkOption { type = types.bool; default = config.enableDebugging; internal = true; description = "Enable debug trace output when running scripts."; };
            };
            dir = { config, ... }: {
              options = common // perms // {
                directory = mkOption { type = types.str; description = "The path to the directory."; };
                hideMount = mkOption { type = types.bool; default = cfg.${name}.hideMounts; description = "Whether to hide bind mounts from showing up as mounted drives."; };
                dirPath = mkOption { type = types.path; default = config.directory; internal = true; description = "The directory's path."; };
              };
            };
            file = { config, ... }: {
              options = common // {
                file = mkOption { type = types.str; description = "The path to the file."; };
                filePath = mkOption { type = types.path; default = config.file; internal = true; description = "The file's path."; };
              };
            };
          in
          {
            options = {
              enable = mkOption { type = types.bool; default = true; description = "Whether to enable this persistent storage location."; };
              persistentStoragePath = mkOption { type = types.path; default = name; description = "The path to persistent storage where the real files and directories should be stored."; };
              hideMounts = mkOption { type = types.bool; default = false; description = "Whether to hide bind mounts from showing up as mounted drives."; };
              enableDebugging = mkOption { type = types.bool; default = false; internal = true; description = "Enable debug trace output when running scripts."; };
              enableWarnings = mkOption { type = types.bool; default = true; description = "Enable non-critical warnings."; };
              directories = mkOption { type = types.listOf (types.coercedTo types.str (d: { directory = d; }) (types.submodule dir)); default = [ ]; description = "Directories to bind mount to persistent storage."; };
              files = mkOption { type = types.listOf (types.coercedTo types.str (f: { file = f; }) (types.submodule file)); default = [ ]; description = "Files that should be stored in persistent storage."; };
              users = mkOption { type = types.attrsOf (types.submodule { options = { home = mkOption { type = types.path; default = "/home"; description = "The user's home directory."; }; directories = mkOption { type = types.listOf types.str; default = [ ]; description = "Directories to bind mount to persistent storage."; }; files = mkOption { type = types.listOf types.str; default = [ ]; description = "Files that should be stored in persistent storage."; }; }; }); default = { }; description = "Per-user files and directories."; };
            };
          };
      in
      {
        options.environment.persistence = mkOption {
          default = { };
          type = types.attrsOf (types.submodule storage);
          description = "A set of persistent storage location submodules listing the files and directories to link to their respective persistent storage location.";
        };
        config = lib.mkIf (enabled != [ ]) {
          assertions = [
            {
              assertion = duplicates (map (d: d.dirPath) directories) == [ ];
              message = ''
                environment.persistence:
                    The following directories were specified two or more
                    times:
                      ${lib.concatStringsSep "\n      " (duplicates (map (d: d.dirPath) directories))}
              '';
            }
            {
              assertion = duplicates (map (f: f.filePath) files) == [ ];
              message = ''
                environment.persistence:
                    The following files were specified two or more
                    times:
                      ${lib.concatStringsSep "\n      " (duplicates (map (f: f.filePath) files))}
              '';
            }
          ];
          warnings =
            let
              persistedNixos = lib.any (d: d.dirPath == "/var/lib/nixos" || d.dirPath == "/var/lib" || d.dirPath == "/var" || d.dirPath == "/") directories;
              usersWithoutUid = lib.attrNames (lib.filterAttrs (n: u: u.uid == null) config.users.users);
            in
            lib.optional (lib.any (v: v.enableWarnings) enabled && !persistedNixos && usersWithoutUid != [ ]) ''
              environment.persistence:
                  Neither /var/lib/nixos nor any of its parents are
                  persisted. This means all users/groups without
                  specified uids/gids will have them reassigned on
                  reboot.
            '';
        };
      };
  };
}
