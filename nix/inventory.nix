# migen's inventory helper: nixosConfigurations -> the JSON of schemas/inventory.schema.json.
#
#   nix eval --json path:<flake>#nixosConfigurations --apply 'import <migen>/nix/inventory.nix {}'
#
# Works with real nixpkgs and without migen's module: every option that may be absent (migen.*,
# age.secrets from agenix, sops.secrets from sops-nix, services.*) is read with `or` / tryEval,
# only plain values are read (package versions through tryEval, no derivation is forced), and
# every list is sorted so that the output is deterministic.
# It reads option values only and never evaluates `system.build.toplevel`: a host whose nixpkgs
# assertions fail still has an inventory (its deploy refuses it, not the planning of other
# migrations), and a toplevel costs a whole system evaluation per host and container. The tests
# instantiate the example fleet's and the fixtures' toplevels instead.
{ services ? [ "forgejo" "zitadel" "vaultwarden" "headscale" "adguardhome" "postgresql" "nginx" "restic" ] }:
nixosConfigurations:
let
  b = builtins;
  sort = b.sort (x: y: x < y);
  try = v: default: let r = b.tryEval v; in if r.success then r.value else default;
  tryStr = v: let r = b.tryEval (b.deepSeq v v); in if r.success && b.isString r.value then r.value else null;
  namesOf = set: if b.isAttrs set then sort (b.attrNames set) else [ ];

  # services.restic has no `enable`: a host "runs restic" when it declares a backup or the
  # REST server.
  serviceEnabled = cfg: name:
    if name == "restic" then
      (try ((cfg.services.restic.backups or { }) != { }) false)
      || (try (cfg.services.restic.server.enable or false) false)
    else try ((cfg.services.${name}.enable or false) == true) false;
  enabledServices = cfg: sort (b.filter (serviceEnabled cfg) services);

  containers = cfg: b.mapAttrs
    (name: c: {
      autoStart = c.autoStart or false;
      localAddress = c.localAddress or null;
      # containers.<n>.config is the container's evaluated NixOS config; a container defined
      # by `path` has none.
      services = try (enabledServices c.config) [ ];
    })
    (cfg.containers or { });

  users = cfg: b.mapAttrs (_: u: { uid = u.uid or null; group = u.group or ""; }) (cfg.users.users or { });
  groups = cfg: b.mapAttrs (_: g: { gid = g.gid or null; }) (cfg.users.groups or { });

  postgresql = cfg:
    let pg = cfg.services.postgresql or { }; in
    {
      enable = try (pg.enable or false) false;
      port = try (pg.settings.port or pg.port or 5432) 5432;
      version = tryStr (pg.package.version or null);
    };

  nginx = cfg:
    let ng = cfg.services.nginx or { }; in
    {
      enable = try (ng.enable or false) false;
      virtualHosts = b.mapAttrs
        (_: vh: { locations = b.mapAttrs (_: l: { proxyPass = l.proxyPass or null; recommendedProxySettings = l.recommendedProxySettings or false; }) (vh.locations or { }); })
        (ng.virtualHosts or { });
    };

  backups = cfg: {
    restic = b.mapAttrs
      (_: r: {
        repository = r.repository or null;
        paths = let p = r.paths or [ ]; in if p == null then [ ] else sort p;
        # A path, not a secret: where the host keeps the repository's password.
        passwordFile = let f = r.passwordFile or null; in if f == null then null else toString f;
      })
      (try (cfg.services.restic.backups or { }) { });
  };

  scrapeTargets = cfg:
    let
      scrapeConfigs = try (cfg.services.prometheus.scrapeConfigs or [ ]) [ ];
      flat = b.concatMap
        (sc: b.concatMap
          (st: map (t: { job = sc.job_name; target = t; }) (st.targets or [ ]))
          (let s = sc.static_configs or [ ]; in if s == null then [ ] else s))
        scrapeConfigs;
      key = x: "${x.job}\n${x.target}";
    in
    b.sort (x: y: key x < key y) flat;

  system = sys:
    let cfg = sys.config; in
    try cfg.nixpkgs.hostPlatform.system
      (try cfg.nixpkgs.system
        (try sys.pkgs.stdenv.hostPlatform.system "x86_64-linux"));

  # The configuration as the user wrote it: without migen's own generated modules, which
  # would otherwise feed back (a finalized migration disables the service on the old host).
  userView = sys:
    if sys ? extendModules && (sys.options.migen.generated.enable or null) != null
    then sys.extendModules { modules = [ { migen.generated.enable = false; } ]; }
    else sys;

  host = name: sys0:
    let
      sys = userView sys0;
      cfg = sys.config;
      hostName = cfg.networking.hostName;
    in
    {
      inherit hostName;
      address = cfg.migen.address or null;
      sshTarget = cfg.migen.ssh.target or "root@${hostName}";
      system = system sys;
      stateVersion = tryStr (cfg.system.stateVersion or null);
      deploy = cfg.migen.deploy or "nixos-rebuild";
      services = enabledServices cfg;
      containers = containers cfg;
      users = users cfg;
      groups = groups cfg;
      postgresql = postgresql cfg;
      secrets = {
        agenix = namesOf (try (cfg.age.secrets or { }) { });
        sops = namesOf (try (cfg.sops.secrets or { }) { });
      };
      nginx = nginx cfg;
      backups = backups cfg;
      monitoring.scrapeTargets = scrapeTargets cfg;
    };
in
{
  formatVersion = 1;
  hosts = b.mapAttrs host nixosConfigurations;
}
