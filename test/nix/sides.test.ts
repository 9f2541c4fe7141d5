// Hosts that differ (test/fixtures/flakes/sides), with real nix and the strict nixpkgs double:
// what nix/inventory.nix exports per side, what migen plans from it, and the generated modules
// evaluated on the fixture's hosts (planned and finalized) under nixpkgs' rules.
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveRoutes } from '../../src/generator/model/routes.js';
import { preset } from '../../src/generator/model/catalog.js';
import type { Inventory, MigrationSpec } from '../../src/generator/types.js';
import { migen } from '../helpers/cli.js';
import { doubleOverrides, nixEvalJson, nixInventory, repoRoot } from '../helpers/nix.js';

const fixture = path.join(repoRoot, 'test/fixtures/flakes/sides');
const overrides = { nixpkgs: doubleOverrides.nixpkgs!, migen: doubleOverrides.migen!, impermanence: `path:${path.join(repoRoot, 'test/nixpkgs-double/impermanence')}` };
const HOSTS = ['box', 'mesh', 'new', 'old'];
const toplevels = 'cfgs: builtins.mapAttrs (n: s: builtins.seq s.config.system.build.toplevel.drvPath s.config.system.build.toplevel.name) cfgs';

let inv: Inventory;
let dir: string;
beforeAll(async () => {
  inv = (await nixInventory(fixture, overrides)) as Inventory;
  dir = mkdtempSync(path.join(tmpdir(), 'migen-sides-'));
  cpSync(path.join(fixture, 'flake.nix'), path.join(dir, 'flake.nix'));
  mkdirSync(path.join(dir, 'migrations'));
  writeFileSync(path.join(dir, 'inventory.json'), JSON.stringify(inv, null, 2));
}, 120_000);
afterAll(() => { if (dir) rmSync(dir, { recursive: true, force: true }); });

const manifest = (name: string, body: string): string => {
  const f = `migrations/${name}.yaml`;
  writeFileSync(path.join(dir, f), `version: 1\ninventory: ../inventory.json\nmigrations:\n  ${name}:\n${body.trim().split('\n').map((l) => `    ${l}`).join('\n')}\n`);
  return f;
};
const VW = 'service: vaultwarden\nfrom: old\nto: new\nstrategy: warm\nstatus: planned\ndomains: [vault.example.org]\nbackup: { none: true }';

describe('nix/inventory.nix reads each side', () => {
  it('stateVersions (the container\'s own), PostgreSQL per container, listeners, impermanence, FQDN, MagicDNS, upstreams and extraConfig', () => {
    const { old, new: neu, box, mesh } = inv.hosts as Record<string, Inventory['hosts'][string]>;
    expect([old!.stateVersion, neu!.stateVersion, box!.stateVersion]).toEqual(['23.11', '24.11', '24.11']);
    expect([box!.containers.forgejo!.stateVersion, box!.containers.forgejo!.postgresql.version, neu!.containers.forgejo!.stateVersion, neu!.containers.forgejo!.postgresql.version]).toEqual(['23.11', '15.10', '24.11', '16.6']);
    expect(neu!.containers.forgejo!.listen).toEqual([{ service: 'forgejo', protocol: 'tcp', port: 3000, addresses: ['0.0.0.0'] }, { service: 'postgresql', protocol: 'tcp', port: 5432, addresses: ['localhost'] }]);
    expect(neu!.listen.filter((l) => l.protocol === 'tcp')).toEqual([
      { service: 'adguardhome', protocol: 'tcp', port: 3000, addresses: ['0.0.0.0'] },
      { service: 'adguardhome', protocol: 'tcp', port: 53, addresses: ['0.0.0.0'] },
      { service: 'vaultwarden', protocol: 'tcp', port: 8222, addresses: ['127.0.0.1'] },
    ]);
    expect(neu!.persistence).toEqual({ enable: true, directories: ['/var/lib/nixos', '/var/lib/vaultwarden'] });
    expect(old!.persistence).toEqual({ enable: false, directories: [] });
    expect([old!.fqdn, box!.fqdn, neu!.fqdn, mesh!.magicDnsDomain, old!.magicDnsDomain]).toEqual(['old.lan.example', 'box.lan.example', null, 'tailnet.example', null]);
    expect(old!.nginx.upstreams).toEqual({ vaultwarden: { extraConfig: 'keepalive 4;', servers: { '127.0.0.1:8222': { backup: false, max_fails: 3 } } } });
    expect(old!.nginx.virtualHosts['vault.example.org']!.locations['/notifications/hub']!.extraConfig).toBe('proxy_http_version 1.1;\nproxy_pass http://127.0.0.1:3012;\n');
    expect(old!.nginx.virtualHosts['git.example.org']!.extraConfig).toBe('location / {\n  proxy_pass http://box.lan.example:3000;\n}\n');
  });

  it('every host\'s toplevel evaluates under nixpkgs\' rules (impermanence\'s option as its module declares it)', async () => {
    expect(await nixEvalJson(fixture, 'nixosConfigurations', { overrides, apply: toplevels })).toEqual(Object.fromEntries(HOSTS.map((h) => [h, `nixos-system-${h}-26.05`])));
  }, 120_000);

  it('routes by FQDN in the vhost\'s extraConfig move; a MagicDNS name on another port stays', () => {
    const m = { service: 'forgejo', from: 'box', to: 'new', strategy: 'warm', domains: ['git.example.org'] } as MigrationSpec;
    const r = resolveRoutes({ version: 1, migrations: { fj: m } }, inv, 'fj', m, preset('forgejo'));
    expect(r.findings).toEqual([]);
    expect(r.moved.map((x) => [x.domain, x.location, x.from, x.to, x.via])).toEqual([['git.example.org', '/', 'http://box.lan.example:3000', 'http://100.64.0.20:3000', 'vhostExtraConfig']]);
    expect(r.staying).toEqual([{ domain: 'chat.example.org', location: '/', proxyPass: 'http://box.tailnet.example' }]);
  });
});

describe('migen on the fixture', () => {
  it('box -> new: the PostgreSQL major and the ports that collide on new are refused at file:line:column', () => {
    const f = manifest('fj', 'service: forgejo\nfrom: box\nto: new\nstrategy: warm\ndomains: [git.example.org]\nbackup: { none: true }');
    const r = migen(['plan', f], { cwd: dir });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`${f}:7:9: to: ports on new: forgejo in container forgejo on new listens on 0.0.0.0:3000/tcp, and so does adguardhome on new (0.0.0.0:3000/tcp): the second to start cannot bind it`);
    expect(r.stderr).toContain(`${f}:7:9: to: new keeps only its persisted directories across a reboot (impermanence), and /var/lib/forgejo/postgres is not one of them`);
    expect(r.stderr).toContain(`${f}:8:15: strategy: warm copies /var/lib/forgejo/postgres, a PostgreSQL data directory, as files, but container forgejo on box runs PostgreSQL 15 (15.10) and container forgejo on new runs PostgreSQL 16 (16.6)`);
    rmSync(path.join(dir, f));
  });

  let planned: Record<string, unknown>;
  it('old -> new: the plan copies /var/lib/bitwarden_rs to /var/lib/vaultwarden and moves the upstream and the websocket path', () => {
    const f = manifest('vw', VW);
    const r = migen(['generate', f], { cwd: dir });
    expect(r.stderr).toBe('');
    const plan = JSON.parse(readFileSync(path.join(dir, 'generated/plans/vw.json'), 'utf8')).migrations[0];
    expect(plan.state.map((s: { old: string; new: string }) => [s.old, s.new])).toEqual([['/var/lib/bitwarden_rs', '/var/lib/vaultwarden']]);
    expect(plan.routes.moved.map((x: { location: string; via: string; from: string; to: string }) => [x.location, x.via, x.from, x.to])).toEqual([
      ['/', 'upstream', 'upstream vaultwarden: 127.0.0.1:8222', 'upstream vaultwarden: 100.64.0.20:8222'],
      ['/notifications/hub', 'extraConfig', 'http://127.0.0.1:3012', 'http://100.64.0.20:3012'],
    ]);
    expect(plan.routeFiles.map((x: { old: string; new: string }) => [x.old, x.new])).toEqual([['server 127.0.0.1:8222 max_fails=3;', 'server 100.64.0.20:8222 max_fails=3;'], ['server 127.0.0.1:3012;', 'server 100.64.0.20:3012;']]);
    expect(readFileSync(path.join(dir, 'generated/plans/vw.md'), 'utf8')).toContain('| state | /var/lib/bitwarden_rs on old → /var/lib/vaultwarden on new |');
  });

  const probe = `cfgs: let o = cfgs.old.config.services.nginx; in {
    system = builtins.mapAttrs (n: s: builtins.seq s.config.system.build.toplevel.drvPath s.config.system.build.toplevel.name) cfgs;
    upstreams = builtins.mapAttrs (n: u: { inherit (u) extraConfig; servers = builtins.mapAttrs (a: s: removeAttrs s [ "_module" ]) u.servers; }) o.upstreams;
    root = o.virtualHosts."vault.example.org".locations."/".proxyPass;
    hub = o.virtualHosts."vault.example.org".locations."/notifications/hub".extraConfig;
    activation = cfgs.old.config.system.activationScripts.migen-vw-routes.text or null;
  }`;
  it('planned: the upstream includes its route file instead of its servers, the websocket path names migen\'s upstream; every host still evaluates', async () => {
    planned = await nixEvalJson(dir, 'nixosConfigurations', { overrides, apply: probe }) as Record<string, unknown>;
    expect(planned.system).toEqual(Object.fromEntries(HOSTS.map((h) => [h, `nixos-system-${h}-26.05`])));
    expect(planned.upstreams).toEqual({
      vaultwarden: { extraConfig: 'include /var/lib/migen/nginx/vw/0.upstream;\nkeepalive 4;', servers: {} },
      migen_vw_1: { extraConfig: 'include /var/lib/migen/nginx/vw/1.upstream;', servers: {} },
    });
    expect(planned.root).toBe('http://vaultwarden');
    expect(planned.hub).toBe('proxy_http_version 1.1;\nproxy_pass http://migen_vw_1;\n');
    expect(planned.activation).toContain("[ -e /var/lib/migen/nginx/vw/0.upstream ] || printf '%s\\n' 'server 127.0.0.1:8222 max_fails=3;' > /var/lib/migen/nginx/vw/0.upstream");
  }, 120_000);

  it('finalized: the upstream\'s servers and the websocket path name the new host in the static configuration', async () => {
    writeFileSync(path.join(dir, 'migrations/vw.yaml'), readFileSync(path.join(dir, 'migrations/vw.yaml'), 'utf8').replace('status: planned', 'status: done'));
    expect(migen(['generate', 'migrations/vw.yaml'], { cwd: dir }).stderr).toBe('');
    const done = await nixEvalJson(dir, 'nixosConfigurations', { overrides, apply: probe }) as Record<string, unknown>;
    expect(done.system).toEqual(planned.system);
    expect(done.upstreams).toEqual({ vaultwarden: { extraConfig: 'keepalive 4;', servers: { '100.64.0.20:8222': { backup: false, max_fails: 3 } } } });
    expect(done.root).toBe('http://vaultwarden');
    expect(done.hub).toBe('proxy_http_version 1.1;\nproxy_pass http://100.64.0.20:3012;\n');
    expect(done.activation).toBeNull();
  }, 120_000);
});
