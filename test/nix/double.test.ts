// The nixpkgs test double's module system, evaluated by real nix: merge rules that migen's
// generated modules rely on (priorities, mkIf, lists, nested sets, conflicts, defaults,
// containers, specialisations).
import { describe, it, expect } from 'vitest';
import { nixEvalExpr, NixError } from '../helpers/nix.js';

const evalWith = (modules: string, read: string) =>
  `let r = lib.evalModules { modules = [ ${modules} ]; }; c = r.config; in ${read}`;
const decl = `{ options.x = lib.mkOption { type = lib.types.str; default = "default"; };
  options.n = lib.mkOption { type = lib.types.nullOr lib.types.str; default = null; };
  options.l = lib.mkOption { type = lib.types.listOf lib.types.int; default = [ ]; };
  options.s.a = lib.mkOption { type = lib.types.int; default = 1; };
  options.s.b = lib.mkOption { type = lib.types.int; default = 2; };
  options.m = lib.mkOption { type = lib.types.attrsOf lib.types.int; default = { }; }; }`;

const cases: [string, { modules: string; read: string; want: unknown }][] = [
  ['option default', { modules: decl, read: 'c.x', want: 'default' }],
  ['plain beats mkDefault', { modules: `${decl} { x = lib.mkDefault "d"; } { x = "plain"; }`, read: 'c.x', want: 'plain' }],
  ['mkForce beats plain', { modules: `${decl} { x = lib.mkForce "forced"; } { x = "plain"; }`, read: 'c.x', want: 'forced' }],
  ['mkOverride 10 beats mkForce', { modules: `${decl} { x = lib.mkForce "f"; } { x = lib.mkOverride 10 "o"; }`, read: 'c.x', want: 'o' }],
  ['mkDefault beats the option default', { modules: `${decl} { x = lib.mkDefault "d"; }`, read: 'c.x', want: 'd' }],
  ['equal plain values do not conflict', { modules: `${decl} { x = "same"; } { x = "same"; }`, read: 'c.x', want: 'same' }],
  ['mkIf false drops the definition', { modules: `${decl} { x = lib.mkIf false "no"; }`, read: 'c.x', want: 'default' }],
  ['mkIf true keeps it', { modules: `${decl} { x = lib.mkIf true "yes"; }`, read: 'c.x', want: 'yes' }],
  ['lists concatenate in module order', { modules: `${decl} { l = [ 1 ]; } { l = [ 2 3 ]; }`, read: 'c.l', want: [1, 2, 3] }],
  ['mkBefore / mkAfter order lists', { modules: `${decl} { l = lib.mkAfter [ 9 ]; } { l = [ 5 ]; } { l = lib.mkBefore [ 1 ]; }`, read: 'c.l', want: [1, 5, 9] }],
  ['nested attribute sets merge', { modules: `${decl} { s.a = 10; } { s.b = 20; }`, read: 'c.s', want: { a: 10, b: 20 } }],
  ['attrsOf merges names; mkIf false names vanish', { modules: `${decl} { m.a = 1; m.z = lib.mkIf false 3; } { m.b = 2; }`, read: 'c.m', want: { a: 1, b: 2 } }],
  ['mkMerge of mkIf', { modules: `${decl} { config = lib.mkMerge [ (lib.mkIf true { s.a = 5; }) (lib.mkIf false { s.b = 6; }) ]; }`, read: 'c.s', want: { a: 5, b: 2 } }],
  ['lazy mkIf condition on config (no recursion)', {
    modules: `${decl} ({ config, ... }: { config = lib.mkIf (config.x == "on") { s.a = 7; }; }) { x = "on"; }`, read: 'c.s.a', want: 7 }],
  ['imports: paths, functions, attrsets, deduplicated', {
    modules: `${decl} { imports = [ ({ ... }: { imports = [ { l = [ 1 ]; } ]; }) ]; } { imports = [ { l = [ 2 ]; } ]; }`, read: 'c.l', want: [1, 2] }],
  ['nullOr default null', { modules: decl, read: 'c.n', want: null }],
];

describe('nixpkgs double: module merge rules', () => {
  it.each(cases)('%s', async (_name, { modules, read, want }) => {
    expect(await nixEvalExpr(evalWith(modules, read))).toEqual(want);
  });

  it('conflicting equal-priority scalars are an error, as in nixpkgs', async () => {
    const err = await nixEvalExpr(evalWith(`${decl} { x = "a"; } { x = "b"; }`, 'c.x')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NixError);
    expect((err as NixError).stderr).toContain("The option `x' has conflicting definition values");
  });

  it('type errors name the option', async () => {
    const err = await nixEvalExpr(evalWith(`${decl} { s.a = "str"; }`, 'c.s.a')).catch((e: unknown) => e);
    expect((err as NixError).stderr).toContain("A definition for option `s.a' is not of type");
  });
});

const sys = (modules: string) =>
  `let sys = lib.nixosSystem { modules = [ { nixpkgs.hostPlatform = "x86_64-linux"; networking.hostName = "h"; } ${modules} ]; }; c = sys.config; in`;

describe('nixpkgs double: NixOS options', () => {
  it.each<[string, string, unknown]>([
    ['service defaults', `${sys('')} [ c.services.postgresql.port c.services.postgresql.enable c.services.forgejo.enable c.networking.firewall.enable ]`, [5432, false, false, true]],
    ['vhost location defaults', `${sys('{ services.nginx.virtualHosts.v.locations."/x".root = "/srv"; }')} c.services.nginx.virtualHosts.v.locations."/x".proxyPass`, null],
    ['user defaults', `${sys('{ users.users.u.isSystemUser = true; }')} { inherit (c.users.users.u) uid group name; }`, { uid: null, group: '', name: 'u' }],
    ['container defaults', `${sys('{ containers.k.config = { }; }')} { inherit (c.containers.k) autoStart localAddress; }`, { autoStart: false, localAddress: null }],
    ['postgresql.port is an alias of settings.port', `${sys('{ services.postgresql.port = 5433; }')} [ c.services.postgresql.settings.port c.services.postgresql.port ]`, [5433, 5433]],
    ['an enabled postgresql\'s package follows stateVersion', `${sys('{ system.stateVersion = "23.11"; services.postgresql.enable = true; }')} [ c.services.postgresql.package.version c.services.postgresql.dataDir ]`, ['15.10', '/var/lib/postgresql/15']],
    // nixpkgs: the option default is pkgs.postgresql; the stateVersion table (which throws for
    // releases before 21.11) is a mkDefault under `mkIf cfg.enable`
    ['a disabled postgresql needs no stateVersion package and builds', `${sys('{ system.stateVersion = "17.03"; }')} [ c.services.postgresql.package.version (builtins.isString sys.config.system.build.toplevel.drvPath) ]`, ['17.7', true]],
    ['nginx: virtualHosts defaults to { localhost = { }; } when none is defined', `${sys('')} c.services.nginx.virtualHosts.localhost.locations`, {}],
    // nixpkgs' enabled nginx defines `virtualHosts.localhost = mkIf cfg.statusPage {...}`: a
    // definition, so the option default no longer applies, and without statusPage it is empty
    ['nginx enabled: the module\'s own statusPage definition replaces that default', `${sys('{ services.nginx.enable = true; }')} [ (builtins.attrNames c.services.nginx.virtualHosts) (builtins.attrNames (sys.extendModules { modules = [ { services.nginx.statusPage = true; } ]; }).config.services.nginx.virtualHosts.localhost.locations) ]`, [[], ['/nginx_status']]],
    ['nginx: defining vhosts replaces the localhost default', `${sys('{ services.nginx.virtualHosts.a.root = "/srv"; }')} builtins.attrNames c.services.nginx.virtualHosts`, ['a']],
    ['defaults declared inside freeform settings (forgejo, vaultwarden, headscale)', `${sys('')} [ c.services.forgejo.settings.server.HTTP_PORT c.services.forgejo.settings.server.HTTP_ADDR c.services.vaultwarden.config c.services.headscale.settings.dns.magic_dns c.services.headscale.settings.dns.base_domain ]`, [3000, '0.0.0.0', { ROCKET_ADDRESS: '::1', ROCKET_PORT: 8222 }, true, '']],
    ['freeformType: undeclared settings merge by the freeform type, declared ones keep their defaults', `${sys('({ lib, ... }: { services.headscale.settings.dns.extra_records = [ { name = "a"; } ]; services.postgresql.settings.wal_level = lib.mkDefault "replica"; } ) { services.postgresql.settings.wal_level = "logical"; }')} [ c.services.headscale.settings.dns.extra_records c.services.headscale.settings.dns.magic_dns c.services.postgresql.settings.wal_level c.services.postgresql.settings.port ]`, [[{ name: 'a' }], true, 'logical', 5432]],
    ['systemd unitConfig: list definitions of one key concatenate (unitOption)', `${sys('{ systemd.services.x.unitConfig.ConditionPathExists = [ "/a" ]; } { systemd.services.x.unitConfig.ConditionPathExists = [ "!/b" ]; systemd.services.x.serviceConfig.Type = "oneshot"; }')} [ c.systemd.services.x.unitConfig.ConditionPathExists c.systemd.services.x.serviceConfig.Type ]`, [['/a', '!/b'], 'oneshot']],
    ['a renamed option still works and warns as in nixpkgs', `${sys('{ services.postgresql.port = 5433; }')} [ c.services.postgresql.settings.port c.warnings ]`, [5433, ["The option `services.postgresql.port' defined in `<unknown-file>' has been renamed to `services.postgresql.settings.port'."]]],
    ['forgejo with postgres enables postgresql and creates an unpinned user (stateVersion before 25.11)', `${sys('{ system.stateVersion = "24.11"; services.forgejo.enable = true; services.forgejo.database.type = "postgres"; }')} [ c.services.postgresql.enable c.users.users.forgejo.uid c.services.postgresql.ensureDatabases ]`, [true, null, ['forgejo']]],
    ['forgejo creates no database of its own from stateVersion 25.11 (nixpkgs: createDatabase defaults to false)', `${sys('{ system.stateVersion = "25.11"; services.forgejo.enable = true; services.forgejo.database.type = "postgres"; }')} [ c.services.forgejo.database.createDatabase c.services.postgresql.enable ]`, [false, false]],
    ['container config is the container\'s own NixOS config', `${sys('{ containers.k.config = { lib, ... }: { services.forgejo.enable = true; }; }')} [ c.containers.k.config.services.forgejo.enable c.containers.k.config.networking.hostName c.services.forgejo.enable ]`, [true, 'k', false]],
    ['specialisation.<n>.configuration is the specialised config (as in nixpkgs)', `${sys('({ lib, ... }: { services.nginx.virtualHosts.v.locations."/".proxyPass = "http://old"; specialisation.cut.configuration.services.nginx.virtualHosts.v.locations."/".proxyPass = lib.mkForce "http://new"; })')} [ c.services.nginx.virtualHosts.v.locations."/".proxyPass c.specialisation.cut.configuration.services.nginx.virtualHosts.v.locations."/".proxyPass (builtins.attrNames c.specialisation.cut.configuration.specialisation) ]`, ['http://old', 'http://new', []]],
    ['extendModules re-evaluates with extra modules', `${sys('{ services.nginx.enable = false; }')} [ c.services.nginx.enable (sys.extendModules { modules = [ { services.nginx.enable = lib.mkForce true; } ]; }).config.services.nginx.enable ]`, [false, true]],
    ['pkgs and lib.getExe', `${sys('')} [ sys.pkgs.postgresql_15.version (lib.hasSuffix "/bin/gitea" (lib.getExe sys.pkgs.forgejo)) (lib.getExe (sys.pkgs.writeShellScriptBin "hi" "echo hi") != "") double.legacyPackages.x86_64-linux.postgresql.version ]`, ['15.10', true, true, '17.7']],
  ])('%s', async (_name, expr, want) => {
    expect(await nixEvalExpr(expr)).toEqual(want);
  });
});

/** nix's error text of an evaluation that must fail */
const failure = async (expr: string): Promise<string> => {
  const err = await nixEvalExpr(expr).catch((e: unknown) => e);
  expect(err, 'the evaluation was expected to fail').toBeInstanceOf(NixError);
  return (err as NixError).stderr;
};
const toplevel = (modules: string) => `${sys(modules)} sys.config.system.build.toplevel.drvPath`;

describe('nixpkgs double: strict like nixpkgs', () => {
  it('a misspelt option is an error in nixpkgs\' words, naming the option and its definition', async () => {
    const err = await failure(`${sys('{ services.nginx.virtualHosts."vault.example.org".locations."/".proxyPas = "http://127.0.0.1:8222"; }')} c.services.nginx.virtualHosts."vault.example.org".locations."/".proxyPass`);
    expect(err).toContain("The option `services.nginx.virtualHosts.\"vault.example.org\".locations.\"/\".proxyPas' does not exist. Definition values:\n       - In `<unknown-file>': \"http://127.0.0.1:8222\"");
  });

  it.each<[string, string, string]>([
    ['at the top level', '{ servics.nginx.enable = true; }', "The option `servics' does not exist. Definition values:\n       - In `<unknown-file>':\n           {\n             nginx = {\n               enable = true;"],
    ['inside a declared set', '{ services.nginx.enabled = true; }', "The option `services.nginx.enabled' does not exist. Definition values:\n       - In `<unknown-file>': true"],
    ['under mkIf false too (nixpkgs checks definitions, not values)', '({ lib, ... }: { services.nginx = lib.mkIf false { enabled = true; }; })', "The option `services.nginx.enabled' does not exist."],
  ])('an undeclared option %s is an error', async (_name, module, want) => {
    expect(await failure(`${sys(module)} c.networking.hostName`)).toContain(want);
  });

  it.each<[string, string, string]>([
    ['a freeform value of the wrong type', '{ services.postgresql.settings.wal_level = [ "logical" ]; }', "A definition for option `services.postgresql.settings.wal_level' is not of type `boolean or floating point number or signed integer or string'."],
    ['systemd: a list and a non-list for one unit option', '{ systemd.services.x.unitConfig.After = [ "b.service" ]; } { systemd.services.x.unitConfig.After = "a.service"; }', 'The definitions for systemd unit options should be either all lists, representing repeatable options, or all non-lists, but for the option systemd.services.x.unitConfig.After'],
  ])('%s is an error, as in nixpkgs', async (_name, modules, want) => {
    const read = modules.includes('postgresql') ? 'c.services.postgresql.settings.wal_level' : 'c.systemd.services.x.unitConfig.After';
    expect(await failure(`${sys(modules)} ${read}`)).toContain(want);
  });

  it.each<[string, string, string[]]>([
    ['a module\'s own assertion', '{ assertions = [ { assertion = false; message = "boom"; } { assertion = true; message = "fine"; } ]; }', ['- boom']],
    ['headscale: MagicDNS (the default) without dns.base_domain', '{ services.headscale.enable = true; }', ['- dns.base_domain must be set when using MagicDNS']],
    ['ACME: an enableACME vhost without acceptTerms and an email', '{ services.nginx.enable = true; services.nginx.virtualHosts."a.example.org".enableACME = true; }',
      ["- You must define `security.acme.certs.<name>.email` or\n       `security.acme.defaults.email` to register with the CA.", "- You must accept the CA's terms of service before using\n       the ACME module by setting `security.acme.acceptTerms`"]],
    ['nginx: addSSL and forceSSL are mutually exclusive', '{ services.nginx.enable = true; services.nginx.virtualHosts.a = { addSSL = true; forceSSL = true; }; }', ['services.nginx.virtualHosts.<name>.rejectSSL are mutually exclusive.']],
    ['nginx: root and alias on one location', '{ services.nginx.enable = true; services.nginx.virtualHosts.a.locations."/" = { root = "/a"; alias = "/b"; }; }', ['- Only one of nginx root or alias can be specified on a location.']],
    ['a container named with an underscore (checked by the host\'s toplevel through the container\'s)', '{ containers.my_box.config = { }; }', ["- Names containing underscores are not allowed in nixos-containers. Please rename the container 'my_box'"]],
    ['a user without a group', '{ users.users.svc.isSystemUser = true; }', ['- users.users.svc.group is unset.']],
  ])('a failing assertion fails the toplevel with nixpkgs\' "Failed assertions:" (%s)', async (_name, module, wants) => {
    const err = await failure(toplevel(module));
    expect(err).toMatch(/error:\s*\n\s*Failed assertions:\n/);
    for (const want of wants) expect(err).toContain(want);
  });

  it('the same hosts pass once configured as nixpkgs asks; nothing is built, the toplevel is a store derivation', async () => {
    const ok = `{ services.headscale.enable = true; services.headscale.settings.dns.base_domain = "tailnet.example.org";
      services.nginx.enable = true; services.nginx.virtualHosts."a.example.org" = { enableACME = true; forceSSL = true; };
      security.acme = { acceptTerms = true; defaults.email = "admin@example.org"; }; containers.box.config = { }; }`;
    expect(await nixEvalExpr(`${sys(ok)} [ (lib.hasSuffix "-nixos-system-h-26.05.drv" sys.config.system.build.toplevel.drvPath) c.security.acme.certs."a.example.org".webroot ]`)).toEqual([true, '/var/lib/acme/acme-challenge']);
  });
});
