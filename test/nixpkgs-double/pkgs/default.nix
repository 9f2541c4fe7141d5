# TEST DOUBLE of a tiny slice of nixpkgs' package set (see ../README.md). Every package is a
# real derivation made with builtins.derivation and builder /bin/sh, so it can be evaluated
# (name, version, outPath, lib.getExe) but is never meant to be built.
{ lib, system ? "x86_64-linux" }:
let
  b = builtins;
  mkPkg = { pname, version, mainProgram ? pname, passthru ? { } }:
    let
      drv = b.derivation {
        name = "${pname}-${version}";
        inherit system pname version;
        builder = "/bin/sh";
        args = [ "-c" "echo 'nixpkgs test double: not buildable' >&2; exit 1" ];
      };
    in
    drv // { meta = { inherit mainProgram; description = "test double of ${pname}"; }; } // passthru;
  mkPostgresql = version: mkPkg {
    pname = "postgresql";
    inherit version;
    mainProgram = "postgres";
    passthru = { psqlSchema = lib.head (lib.splitString "." version); };
  };
  writeShellApplication = { name, text, runtimeInputs ? [ ], meta ? { }, ... }:
    let
      drv = b.derivation {
        inherit name system text;
        builder = "/bin/sh";
        args = [ "-c" "echo 'nixpkgs test double: not buildable' >&2; exit 1" ];
        path = lib.makeBinPath runtimeInputs;
      };
    in drv // { meta = { mainProgram = name; } // meta; };
in
rec {
  inherit system lib;
  stdenv.hostPlatform = { inherit system; isLinux = true; };
  stdenv.buildPlatform = stdenv.hostPlatform;
  path = ./..;

  postgresql_13 = mkPostgresql "13.18";
  postgresql_14 = mkPostgresql "14.15";
  postgresql_15 = mkPostgresql "15.10";
  postgresql_16 = mkPostgresql "16.6";
  postgresql_17 = mkPostgresql "17.7";
  postgresql = postgresql_17;
  forgejo = mkPkg { pname = "forgejo"; version = "9.0.3"; mainProgram = "gitea"; };
  forgejo-lts = forgejo;
  vaultwarden = mkPkg { pname = "vaultwarden"; version = "1.32.7"; passthru.webvault = mkPkg { pname = "vaultwarden-webvault"; version = "2024.6.2b"; }; };
  headscale = mkPkg { pname = "headscale"; version = "0.23.0"; };
  # passthru.schema_version as in nixpkgs (the AdGuardHome.yaml schema of this release)
  adguardhome = mkPkg { pname = "adguardhome"; version = "0.107.55"; mainProgram = "AdGuardHome"; passthru.schema_version = 29; };
  # boot.kernelPackages.kernel of nixos-26.05 (linuxPackages = linux_6_12)
  linux = mkPkg { pname = "linux"; version = "6.12.58"; };
  zitadel = mkPkg { pname = "zitadel"; version = "2.58.3"; };
  restic = mkPkg { pname = "restic"; version = "0.17.3"; };
  nginx = mkPkg { pname = "nginx"; version = "1.26.2"; };
  prometheus = mkPkg { pname = "prometheus"; version = "2.55.0"; };
  openssh = mkPkg { pname = "openssh"; version = "9.9p1"; mainProgram = "ssh"; };
  rsync = mkPkg { pname = "rsync"; version = "3.3.0"; };
  sqlite = mkPkg { pname = "sqlite"; version = "3.46.1"; mainProgram = "sqlite3"; };
  curl = mkPkg { pname = "curl"; version = "8.11.0"; };
  # pkgs/by-name/rr/rrsync: rsync's support/rrsync with rsync's version and /usr/bin/rsync patched
  rrsync = mkPkg { pname = "rrsync"; version = rsync.version; };
  # bind.dnsutils (dig, nslookup, nsupdate): all-packages has `dnsutils = bind.dnsutils` and `dig` with mainProgram dig
  dnsutils = mkPkg { pname = "bind"; version = "9.20.4"; mainProgram = "dig"; };
  dig = dnsutils;
  git = mkPkg { pname = "git"; version = "2.47.1"; };
  tailscale = mkPkg { pname = "tailscale"; version = "1.76.6"; };
  # nixos-26.05: "Node.js default version has been updated from 22 LTS to 24 LTS" (rl-2605); 20 is gone (end of life)
  nodejs_22 = mkPkg { pname = "nodejs"; version = "22.21.1"; mainProgram = "node"; };
  nodejs_24 = mkPkg { pname = "nodejs"; version = "24.11.1"; mainProgram = "node"; };
  nodejs = nodejs_24;
  bash = mkPkg { pname = "bash"; version = "5.2p37"; };
  coreutils = mkPkg { pname = "coreutils"; version = "9.5"; mainProgram = "ls"; };

  # nixpkgs pkgs/pkgs-lib/formats.nix: the option types of the settings formats (json and yaml
  # share one type; ini is sections of atoms). `generate` writes JSON for all of them.
  formats =
    let
      t = lib.types;
      jsonType = t.nullOr (t.oneOf [ t.bool t.int t.float t.str t.path (t.attrsOf jsonType) (t.listOf jsonType) ]) // { description = "JSON value"; };
      atom = t.nullOr (t.oneOf [ t.bool t.int t.float t.str ]) // { description = "INI atom (null, bool, int, float or string)"; };
      format = type: { inherit type; generate = name: value: writeText name (b.toJSON value); };
    in
    {
      json = { }: format jsonType;
      yaml = { }: format jsonType;
      ini = { ... }: format (t.attrsOf (t.attrsOf atom));
    };

  inherit writeShellApplication;
  writeShellScriptBin = name: text: writeShellApplication { inherit name text; };
  # As nixpkgs' writeTextFile: the text is a derivation attribute (passAsFile), so it can be
  # read back with `drv.text` / `nix show-derivation` (env.text). writeShellScript's output is
  # the script itself ($out, not $out/bin/<name>), its text starting with #!runtimeShell.
  writeTextFile = { name, text, executable ? false, destination ? "", checkPhase ? "", meta ? { }, ... }:
    (b.derivation {
      inherit name system text executable destination checkPhase;
      passAsFile = [ "text" ];
      builder = "/bin/sh";
      args = [ "-c" "echo 'nixpkgs test double: not buildable' >&2; exit 1" ];
    }) // { inherit meta; };
  writeShellScript = name: text: writeTextFile {
    inherit name;
    executable = true;
    text = "#!${runtimeShell}\n${text}";
  };
  writeText = name: text: writeTextFile { inherit name text; };
  runtimeShell = "${bash}/bin/bash";
  symlinkJoin = { name, paths, meta ? { }, ... }:
    (b.derivation {
      inherit name system;
      builder = "/bin/sh";
      args = [ "-c" "exit 1" ];
      paths = map toString paths;
    }) // { inherit meta; };

  # fetchurl as a fixed-output derivation (so the lock's `integrity` must be a valid SRI hash);
  # never built here.
  fetchurl = { url, hash ? "", sha256 ? "", name ? baseNameOf url, ... }:
    b.derivation {
      inherit name system url;
      builder = "/bin/sh";
      args = [ "-c" "echo 'nixpkgs test double: not buildable' >&2; exit 1" ];
      outputHashMode = "flat";
      outputHash = if hash != "" then hash else if sha256 != "" then sha256 else lib.fakeHash;
    } // (if sha256 != "" && hash == "" then { outputHashAlgo = "sha256"; } else { });

  # nixpkgs' importNpmLock (pkgs/build-support/node/import-npm-lock): a functor; called with
  # { npmRoot ? null, package ? <npmRoot>/package.json, packageLock ? <npmRoot>/package-lock.json,
  # pname, version } it returns "<pname>-<version>-sources" holding package.json and
  # package-lock.json whose modules' `resolved` point at fetched store paths. As in nixpkgs, a
  # module without `resolved` is passed through unchanged (npm would then need the network).
  importNpmLock =
    let
      importJSON = f: b.fromJSON (b.readFile f);
      fetchModule = { module, npmRoot ? null }:
        if module ? resolved && module.resolved != null then
          let m = b.match "(.+)://(.+)" module.resolved; in
          if m == null then { outPath = npmRoot + "/${module.resolved}"; }
          else if b.elem (b.head m) [ "http" "https" ] then fetchurl { url = module.resolved; hash = module.integrity; }
          else throw "Unsupported URL scheme: ${b.head m}"
        else null;
      hook = name: b.derivation {
        inherit name system;
        builder = "/bin/sh";
        args = [ "-c" "exit 1" ];
        # marks which implementation this is (nixpkgs' npmHooks.npmConfigHook has the same name)
        hookOf = "importNpmLock";
      };
      self = {
        importNpmLock =
          { npmRoot ? null
          , package ? importJSON (npmRoot + "/package.json")
          , packageLock ? importJSON (npmRoot + "/package-lock.json")
          , pname ? package.name or "unknown"
          , version ? package.version or "0.0.0"
          }:
          let
            packageLock' = packageLock // {
              packages = b.mapAttrs (_: module:
                let src = fetchModule { inherit module npmRoot; }; in
                b.removeAttrs module [ "link" "funding" ]
                // (if src != null then { resolved = "file:${src}"; } else { }))
                packageLock.packages;
            };
            resolvedOf = name: packageLock'.packages."node_modules/${name}".resolved;
            package' = package
              // (if package ? dependencies then { dependencies = b.mapAttrs (n: _: resolvedOf n) package.dependencies; } else { })
              // (if package ? devDependencies then { devDependencies = b.mapAttrs (n: _: resolvedOf n) package.devDependencies; } else { });
          in
          b.derivation {
            name = "${pname}-${version}-sources";
            inherit system pname version;
            passAsFile = [ "package" "packageLock" ];
            package = b.toJSON package';
            packageLock = b.toJSON packageLock';
            builder = "/bin/sh";
            args = [ "-c" "echo 'nixpkgs test double: not buildable' >&2; exit 1" ];
          };
        npmConfigHook = hook "npm-config-hook";
        linkNodeModulesHook = hook "node-modules-hook.sh";
        hooks = { inherit (self) npmConfigHook linkNodeModulesHook; };
        __functor = s: s.importNpmLock;
      };
    in
    self;

  npmHooks = {
    npmConfigHook = b.derivation { name = "npm-config-hook"; inherit system; builder = "/bin/sh"; args = [ "-c" "exit 1" ]; hookOf = "npmHooks"; };
    npmBuildHook = b.derivation { name = "npm-build-hook"; inherit system; builder = "/bin/sh"; args = [ "-c" "exit 1" ]; };
    npmInstallHook = b.derivation { name = "npm-install-hook"; inherit system; builder = "/bin/sh"; args = [ "-c" "exit 1" ]; };
  };

  # nixpkgs' buildNpmPackage argument shape: npmDeps defaults to fetchNpmDeps (needs
  # npmDepsHash); a custom npmConfigHook (importNpmLock.npmConfigHook) replaces npmHooks'. Like
  # mkDerivation, the other arguments become derivation attributes (readable as pkg.<attr>).
  buildNpmPackage =
    { pname, version, name ? "${pname}-${version}", src ? null
    , npmDepsHash ? ""
    , nodejs ? nodejs_24
    , npmDeps ? b.derivation {
        name = "${name}-npm-deps";
        inherit system;
        builder = "/bin/sh";
        args = [ "-c" "exit 1" ];
        outputHashMode = "recursive";
        outputHash = if npmDepsHash == "" then lib.fakeHash else npmDepsHash;
      }
    , npmConfigHook ? null, npmBuildHook ? null, npmInstallHook ? null
    , nativeBuildInputs ? [ ], buildInputs ? [ ]
    , npmBuildScript ? "build"
    , meta ? { }, passthru ? { }
    , ...
    }@args:
    let
      drvArgs = b.removeAttrs args [ "meta" "passthru" "npmConfigHook" "npmBuildHook" "npmInstallHook" "nodejs" ];
      drv = b.derivation (drvArgs // {
        inherit name system npmDeps npmBuildScript src;
        nativeBuildInputs = nativeBuildInputs ++ [
          nodejs
          (if npmConfigHook != null then npmConfigHook else npmHooks.npmConfigHook)
          (if npmBuildHook != null then npmBuildHook else npmHooks.npmBuildHook)
          (if npmInstallHook != null then npmInstallHook else npmHooks.npmInstallHook)
        ];
        buildInputs = buildInputs ++ [ nodejs ];
        strictDeps = true;
        dontStrip = true;
        builder = "/bin/sh";
        args = [ "-c" "echo 'nixpkgs test double: not buildable' >&2; exit 1" ];
      });
    in
    drv // passthru // { meta = meta // { platforms = meta.platforms or [ "x86_64-linux" "aarch64-linux" ]; }; };
}
