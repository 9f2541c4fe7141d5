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
  postgresql = postgresql_16;
  forgejo = mkPkg { pname = "forgejo"; version = "9.0.3"; mainProgram = "gitea"; };
  forgejo-lts = forgejo;
  vaultwarden = mkPkg { pname = "vaultwarden"; version = "1.32.7"; };
  headscale = mkPkg { pname = "headscale"; version = "0.23.0"; };
  adguardhome = mkPkg { pname = "adguardhome"; version = "0.107.55"; };
  zitadel = mkPkg { pname = "zitadel"; version = "2.58.3"; };
  restic = mkPkg { pname = "restic"; version = "0.17.3"; };
  nginx = mkPkg { pname = "nginx"; version = "1.26.2"; };
  prometheus = mkPkg { pname = "prometheus"; version = "2.55.0"; };
  openssh = mkPkg { pname = "openssh"; version = "9.9p1"; mainProgram = "ssh"; };
  rsync = mkPkg { pname = "rsync"; version = "3.3.0"; };
  sqlite = mkPkg { pname = "sqlite"; version = "3.46.1"; mainProgram = "sqlite3"; };
  curl = mkPkg { pname = "curl"; version = "8.11.0"; };
  tailscale = mkPkg { pname = "tailscale"; version = "1.76.6"; };
  nodejs_20 = mkPkg { pname = "nodejs"; version = "20.18.1"; mainProgram = "node"; };
  nodejs = nodejs_20;
  bash = mkPkg { pname = "bash"; version = "5.2p37"; };
  coreutils = mkPkg { pname = "coreutils"; version = "9.5"; mainProgram = "ls"; };

  inherit writeShellApplication;
  writeShellScriptBin = name: text: writeShellApplication { inherit name text; };
  writeShellScript = name: text: writeShellApplication { inherit name text; };
  writeText = name: text: b.derivation { inherit name system text; builder = "/bin/sh"; args = [ "-c" "exit 1" ]; };
  symlinkJoin = { name, paths, meta ? { }, ... }:
    (b.derivation {
      inherit name system;
      builder = "/bin/sh";
      args = [ "-c" "exit 1" ];
      paths = map toString paths;
    }) // { inherit meta; };
  buildNpmPackage = { pname, version, src ? null, npmDepsHash ? lib.fakeHash, meta ? { }, ... }:
    (b.derivation {
      name = "${pname}-${version}";
      inherit system pname version npmDepsHash;
      builder = "/bin/sh";
      args = [ "-c" "exit 1" ];
    }) // { meta = { mainProgram = pname; } // meta; };
}
