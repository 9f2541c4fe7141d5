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
      # false: the container shares the host's network namespace (its ports are the host's)
      privateNetwork = c.privateNetwork or false;
      # containers.<n>.config is the container's evaluated NixOS config; a container defined
      # by `path` has none. A container pins its own stateVersion (not the host's).
      services = try (enabledServices c.config) [ ];
      stateVersion = try (tryStr (c.config.system.stateVersion or null)) null;
      postgresql = try (postgresql c.config) { enable = false; port = 5432; version = null; };
      listen = try (listen c.config) [ ];
    })
    (cfg.containers or { });

  # What the probed services listen on, from their options (nixpkgs' defaults where unset), so
  # that migen can tell which ports would collide on a host. Addresses as the option gives them.
  listen = cfg:
    let
      s = cfg.services;
      on = name: (try ((s.${name}.enable or false) == true) false);
      l = service: protocol: port: addresses: { inherit service protocol port; addresses = sort addresses; };
      fj = s.forgejo.settings.server or { };
      ag = s.adguardhome;
      agDns = try (ag.settings.dns or { }) { };
      vw = s.vaultwarden.config or { };
      pg = s.postgresql.settings or { };
      ng = s.nginx;
      split = str: b.filter (x: b.isString x && x != "") (b.split " *, *" str);
      raw = b.concatLists [
        (if on "forgejo" && !(b.match ".*\\+unix" (fj.PROTOCOL or "http") != null)
          then [ (l "forgejo" "tcp" (fj.HTTP_PORT or 3000) [ (fj.HTTP_ADDR or "0.0.0.0") ]) ] else [ ])
        (if on "adguardhome" then [
          (l "adguardhome" "tcp" (ag.port or 3000) [ (ag.host or "0.0.0.0") ])
          (l "adguardhome" "udp" (agDns.port or 53) (agDns.bind_hosts or [ "0.0.0.0" ]))
          (l "adguardhome" "tcp" (agDns.port or 53) (agDns.bind_hosts or [ "0.0.0.0" ]))
        ] else [ ])
        (if on "vaultwarden" then [ (l "vaultwarden" "tcp" (vw.ROCKET_PORT or 8222) [ (vw.ROCKET_ADDRESS or "::1") ]) ] else [ ])
        (if on "headscale" then [ (l "headscale" "tcp" (s.headscale.port or 8080) [ (s.headscale.address or "127.0.0.1") ]) ] else [ ])
        (if on "zitadel" then [ (l "zitadel" "tcp" (s.zitadel.settings.Port or 8080) [ "0.0.0.0" ]) ] else [ ])
        (if on "postgresql" then [ (l "postgresql" "tcp" (pg.port or 5432) (split (pg.listen_addresses or "localhost"))) ] else [ ])
        (if on "nginx" && (ng.virtualHosts or { }) != { } then [
          (l "nginx" "tcp" (ng.defaultHTTPListenPort or 80) (ng.defaultListenAddresses or [ "0.0.0.0" ]))
          (l "nginx" "tcp" (ng.defaultSSLListenPort or 443) (ng.defaultListenAddresses or [ "0.0.0.0" ]))
        ] else [ ])
      ];
      key = x: "${x.service}\n${x.protocol}\n${toString x.port}";
    in
    b.sort (x: y: key x < key y) (b.filter (x: b.isInt x.port) (map (x: x // { addresses = b.filter b.isString x.addresses; }) raw));

  # impermanence (nix-community/impermanence): environment.persistence.<storage>.directories,
  # each a string or { directory; ... }. Hosts without the module have none.
  persistence = cfg:
    let
      stores = b.filter (v: v.enable or true) (b.attrValues (try (cfg.environment.persistence or { }) { }));
      dirOf' = d: if b.isString d then d else d.directory or null;
    in
    {
      enable = stores != [ ];
      directories = sort (b.filter b.isString (b.concatMap (v: map dirOf' (v.directories or [ ])) stores));
    };

  users = cfg: b.mapAttrs (_: u: { uid = u.uid or null; group = u.group or ""; }) (cfg.users.users or { });
  groups = cfg: b.mapAttrs (_: g: { gid = g.gid or null; }) (cfg.users.groups or { });

  postgresql = cfg:
    let pg = cfg.services.postgresql or { }; in
    {
      enable = try (pg.enable or false) false;
      port = try (pg.settings.port or pg.port or 5432) 5432;
      version = tryStr (pg.package.version or null);
    };

  # The options of a vhost (location) besides those the inventory carries, set to other than
  # nixpkgs' default: what a copy of it elsewhere would have to carry too (TLS, a root, auth, ...).
  vhostOthers = [ "addSSL" "basicAuth" "basicAuthFile" "default" "enableACME" "forceSSL" "globalRedirect" "listen" "listenAddresses" "onlySSL" "rejectSSL" "root" "useACMEHost" ];
  locationOthers = [ "alias" "basicAuth" "basicAuthFile" "fastcgiParams" "index" "return" "root" "tryFiles" "uwsgiPass" ];
  setOptions = names: set: b.filter
    (n: let v = try (set.${n} or null) null; in !(v == null || v == false || v == [ ] || v == { }))
    names;

  nginx = cfg:
    let ng = cfg.services.nginx or { }; in
    {
      enable = try (ng.enable or false) false;
      virtualHosts = b.mapAttrs
        (_: vh: {
          # proxy_pass written by hand (websocket paths, nested locations) is in extraConfig
          extraConfig = try (vh.extraConfig or "") "";
          serverAliases = sort (try (vh.serverAliases or [ ]) [ ]);
          others = setOptions vhostOthers vh;
          locations = b.mapAttrs
            (_: l: {
              proxyPass = l.proxyPass or null;
              proxyWebsockets = try (l.proxyWebsockets or false) false;
              recommendedProxySettings = l.recommendedProxySettings or false;
              extraConfig = try (l.extraConfig or "") "";
              others = setOptions locationOthers l;
            })
            (vh.locations or { });
        })
        (ng.virtualHosts or { });
      # a proxyPass of http://NAME goes to services.nginx.upstreams.NAME's servers
      upstreams = b.mapAttrs
        (_: u: {
          extraConfig = try (u.extraConfig or "") "";
          servers = b.mapAttrs (_: sv: b.removeAttrs sv [ "_module" ]) (try (u.servers or { }) { });
        })
        (try (ng.upstreams or { }) { });
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
      # the other names a proxy may use for this host (networking.fqdn throws without a domain)
      domain = tryStr (cfg.networking.domain or null);
      fqdn = tryStr (cfg.networking.fqdn or null);
      # headscale's MagicDNS domain: every node is <hostName>.<baseDomain> on the mesh
      magicDnsDomain =
        let d = try (cfg.services.headscale.settings.dns or { }) { }; in
        if serviceEnabled cfg "headscale" && (d.magic_dns or false) && (d.base_domain or "") != "" then d.base_domain else null;
      listen = try (listen cfg) [ ];
      persistence = persistence cfg;
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
