# migen as a Nix package: buildNpmPackage with the npm dependencies taken from package-lock.json
# by importNpmLock (one fixed-output fetch per tarball, hashed by the lock's `integrity`, so no
# npmDepsHash to maintain). `npm run build` (tsc) writes dist/; npm's install hook copies the
# package to $out/lib/node_modules/migen and wraps package.json's bin as $out/bin/migen.
{ pkgs, root ? ../. }:
let
  b = builtins;
  package = b.fromJSON (b.readFile (root + "/package.json"));
  lock = b.fromJSON (b.readFile (root + "/package-lock.json"));

  # npm omits `resolved` from the lock when `omit-lockfile-registry-resolved` is set (it is on our
  # development machines). importNpmLock then has nothing to fetch and the offline `npm install`
  # in the build fails (ENOTCACHED). For registry packages npm derives the URL from name and
  # version exactly like this, so fill it in; `integrity` (always present) still pins the bytes.
  baseName = name: let parts = b.split "/" name; in b.elemAt parts (b.length parts - 1);
  nameOf = key: module:
    module.name or (let m = b.match "(.*/)?node_modules/((@[^/]+/)?[^/]+)" key; in b.elemAt m 1);
  withResolved = key: module:
    if key == "" || module ? resolved || module.link or false || !(module ? version) then module
    else module // {
      resolved = "https://registry.npmjs.org/${nameOf key module}/-/${baseName (nameOf key module)}-${module.version}.tgz";
    };
  packageLock = lock // { packages = b.mapAttrs withResolved lock.packages; };

  # Only what the build and the installed package need (nix/source.nix).
  src = import ./source.nix { inherit root; };
in
pkgs.buildNpmPackage {
  pname = package.name;
  inherit (package) version;
  inherit src;
  nodejs = pkgs.nodejs_24;

  npmDeps = pkgs.importNpmLock {
    npmRoot = src;
    inherit package packageLock;
  };
  npmConfigHook = pkgs.importNpmLock.npmConfigHook;

  npmBuildScript = "build";
  # `npm pack --dry-run` (file list for the install) would otherwise run `prepare` = tsc again.
  npmPackFlags = [ "--ignore-scripts" ];

  meta = {
    description = package.description;
    license = pkgs.lib.licenses.mit;
    mainProgram = "migen";
  };
}
