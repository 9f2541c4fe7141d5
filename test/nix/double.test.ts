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
    ['postgresql package follows stateVersion', `${sys('{ system.stateVersion = "23.11"; }')} c.services.postgresql.package.version`, '15.10'],
    ['forgejo with postgres enables postgresql and creates an unpinned user', `${sys('{ services.forgejo.enable = true; services.forgejo.database.type = "postgres"; }')} [ c.services.postgresql.enable c.users.users.forgejo.uid c.services.postgresql.ensureDatabases ]`, [true, null, ['forgejo']]],
    ['container config is the container\'s own NixOS config', `${sys('{ containers.k.config = { lib, ... }: { services.forgejo.enable = true; }; }')} [ c.containers.k.config.services.forgejo.enable c.containers.k.config.networking.hostName c.services.forgejo.enable ]`, [true, 'k', false]],
    ['specialisation.<n>.configuration is the specialised config (as in nixpkgs)', `${sys('({ lib, ... }: { services.nginx.virtualHosts.v.locations."/".proxyPass = "http://old"; specialisation.cut.configuration.services.nginx.virtualHosts.v.locations."/".proxyPass = lib.mkForce "http://new"; })')} [ c.services.nginx.virtualHosts.v.locations."/".proxyPass c.specialisation.cut.configuration.services.nginx.virtualHosts.v.locations."/".proxyPass (builtins.attrNames c.specialisation.cut.configuration.specialisation) ]`, ['http://old', 'http://new', []]],
    ['extendModules re-evaluates with extra modules', `${sys('{ services.nginx.enable = false; }')} [ c.services.nginx.enable (sys.extendModules { modules = [ { services.nginx.enable = lib.mkForce true; } ]; }).config.services.nginx.enable ]`, [false, true]],
    ['pkgs and lib.getExe', `${sys('')} [ sys.pkgs.postgresql_15.version (lib.hasSuffix "/bin/gitea" (lib.getExe sys.pkgs.forgejo)) (lib.getExe (sys.pkgs.writeShellScriptBin "hi" "echo hi") != "") double.legacyPackages.x86_64-linux.postgresql.version ]`, ['15.10', true, true, '16.6']],
  ])('%s', async (_name, expr, want) => {
    expect(await nixEvalExpr(expr)).toEqual(want);
  });
});
