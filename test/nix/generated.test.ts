// The generated NixOS modules, parsed and evaluated by real nix over the example fleet
// (nixpkgs replaced by the test double: it cannot be fetched here). Values come from the
// evaluation, not from the text.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { migen, ROOT } from '../helpers/cli.js';
import { nixEvalJson, nixInventory, repoRoot } from '../helpers/nix.js';
import { exampleRepo, overridesFor } from '../helpers/repo.js';

const FLEET = ['h001', 'h002', 'h003', 'l001', 'newvps', 'o001'];
/** Routing, containers and services of every host, in one evaluation. `system` instantiates the
 * host's system.build.toplevel (nothing is built): it throws unless every nixpkgs assertion of the
 * host, its containers and its specialisations holds, as a deploy would. */
const probe = `cfgs: builtins.mapAttrs (n: s: let c = s.config; vh = c.services.nginx.virtualHosts; in {
  system = builtins.seq c.system.build.toplevel.drvPath c.system.build.toplevel.name;
  routes = builtins.mapAttrs (d: v: builtins.mapAttrs (l: x: x.proxyPass) v.locations) vh;
  specialisations = builtins.attrNames c.specialisation;
  upstreams = builtins.mapAttrs (u: v: v.extraConfig) c.services.nginx.upstreams;
  activation = builtins.mapAttrs (a: v: if builtins.isString v then v else v.text) (builtins.intersectAttrs { migen-forgejo-routes = 1; migen-vaultwarden-routes = 1; migen-zitadel-routes = 1; migen-zitadel-fence = 1; } c.system.activationScripts);
  containers = builtins.mapAttrs (cn: ct: { autoStart = ct.autoStart; fence = ct.config.systemd.services.zitadel.unitConfig.ConditionPathExists or null; restart = ct.config.systemd.services.zitadel.restartIfChanged or true; mounts = builtins.attrNames ct.bindMounts; }) c.containers;
  wantedBy = builtins.mapAttrs (u: v: v.wantedBy or null) (builtins.intersectAttrs { "container@forgejo" = 1; "container@zitadel" = 1; vaultwarden = 1; adguardhome = 1; headscale = 1; } c.systemd.services);
  fences = builtins.mapAttrs (u: v: { condition = v.unitConfig.ConditionPathExists or null; restart = v.restartIfChanged; }) (builtins.intersectAttrs { "container@forgejo" = 1; vaultwarden = 1; adguardhome = 1; } c.systemd.services);
  vaultwarden = c.services.vaultwarden.enable;
  nginx = { enable = c.services.nginx.enable; extra = builtins.mapAttrs (d: v: v.extraConfig) vh; ports = c.networking.firewall.interfaces.tailscale0.allowedTCPPorts or [ ]; };
  migrations = builtins.mapAttrs (mn: m: { inherit (m) description role status verify; }) c.migen.migrations;
}) cfgs`;

type Probe = Record<string, {
  system: string;
  routes: Record<string, Record<string, string | null>>;
  specialisations: string[];
  upstreams: Record<string, string>;
  activation: Record<string, string>;
  containers: Record<string, { autoStart: boolean; fence: string[] | null; restart: boolean; mounts: string[] }>;
  fences: Record<string, { condition: string[] | null; restart: boolean }>;
  wantedBy: Record<string, string[] | null>;
  vaultwarden: boolean;
  nginx: { enable: boolean; extra: Record<string, string>; ports: number[] };
  migrations: Record<string, { description: string; role: string[]; status: string; verify: string[] }>;
}>;

const evalFleet = (flakeRepo: string): Promise<Probe> =>
  nixEvalJson(path.join(flakeRepo, 'examples/homelab'), 'nixosConfigurations', { overrides: overridesFor(flakeRepo), apply: probe }) as Promise<Probe>;

describe('generated/ of the repository', () => {
  it('every generated .nix file parses', () => {
    const files = ['generated/default.nix', ...readdirSync(path.join(ROOT, 'generated/hosts')).map((f) => `generated/hosts/${f}`)];
    expect(files.length).toBeGreaterThanOrEqual(5);
    for (const f of files) execFileSync('nix-instantiate', ['--parse', path.join(ROOT, f)], { stdio: 'pipe' });
  });

  it('is what migen generate writes (drift check)', () => {
    const r = migen(['check', ...readdirSync(path.join(ROOT, 'examples/homelab/migrations')).map((f) => `examples/homelab/migrations/${f}`)]);
    expect(r.stderr, 'generated/ is stale: run npx migen generate examples/homelab/migrations/*.yaml').toBe('');
    expect(r.code).toBe(0);
  });
});

describe('the example fleet with the generated modules (planned)', () => {
  let fleet: Probe;
  it('evaluates every host', async () => {
    fleet = await evalFleet(repoRoot);
    expect(Object.keys(fleet).sort()).toEqual(FLEET);
  });

  it('every host\'s toplevel evaluates: the fleet passes nixpkgs\' assertions with the generated modules', () => {
    expect(Object.fromEntries(FLEET.map((h) => [h, fleet[h]!.system]))).toEqual(Object.fromEntries(FLEET.map((h) => [h, `nixos-system-${h}-26.05`])));
  });

  it('o001 routes each moved location through an upstream read from its route file; every other vhost is as written', () => {
    const o = fleet.o001!;
    expect(o.routes['git.joshuabell.xyz']).toEqual({ '/': 'http://migen_forgejo_0' });
    expect(o.upstreams.migen_forgejo_0).toBe('include /var/lib/migen/nginx/forgejo/0.upstream;');
    expect(o.routes['vault.joshuabell.xyz']).toEqual({ '/': 'http://migen_vaultwarden_0' });
    expect(o.upstreams.migen_vaultwarden_0).toBe('include /var/lib/migen/nginx/vaultwarden/0.upstream;');
    expect(o.routes['llm.joshuabell.xyz']).toEqual({ '/': 'http://100.64.0.13:8095' });
    expect(o.routes['chat.joshuabell.xyz']).toEqual({ '/': 'http://100.64.0.13' });
    expect(o.specialisations).toEqual([]);
    // the activation writes each route file with the old backend, unless a run switched it
    expect(o.activation['migen-forgejo-routes']).toContain("[ -e /var/lib/migen/nginx/forgejo/0.upstream ] || printf '%s\\n' 'server 100.64.0.13:80;' > /var/lib/migen/nginx/forgejo/0.upstream");
    expect(o.activation['migen-vaultwarden-routes']).toContain("'server 127.0.0.1:8222;'");
  });

  it('h002 serves git and sso by Host as h001 does: h001\'s inner virtual hosts, copied; nothing else of h001\'s nginx', () => {
    expect(fleet.h001!.nginx.enable).toBe(true);
    expect(fleet.h002!.nginx.enable).toBe(true);
    expect(fleet.h002!.routes).toEqual({ 'git.joshuabell.xyz': { '/': 'http://127.0.0.1:3000' }, 'sso.joshuabell.xyz': { '/': 'http://127.0.0.1:8080' } });
    expect(fleet.h002!.nginx.extra['git.joshuabell.xyz']).toBe(fleet.h001!.nginx.extra['git.joshuabell.xyz']);
    expect(fleet.h002!.nginx.extra['git.joshuabell.xyz']).toBe('client_max_body_size 512m;');
    expect(fleet.h002!.nginx.ports).toContain(80);
  });

  it('the old hosts fence their service once stopped (not restarted by a deploy); the new host starts it only once the copy is checked', () => {
    expect(fleet.o001!.fences.vaultwarden).toEqual({ condition: ['!/var/lib/migen/vaultwarden/moved'], restart: false });
    expect(fleet.h001!.fences['container@forgejo']).toEqual({ condition: ['!/var/lib/migen/forgejo/moved'], restart: false });
    expect(fleet.h002!.fences['container@forgejo']!.condition).toEqual(['/var/lib/migen/forgejo/ready']);
    expect(fleet.h002!.fences.vaultwarden!.condition).toEqual(['/var/lib/migen/vaultwarden/ready']);
    expect(fleet.h002!.fences.adguardhome!.condition).toEqual(['/var/lib/migen/adguardhome/ready']);
    // enabled as written: the fence, not the targets, keeps them stopped until the cutover
    expect(fleet.h002!.containers.forgejo!.autoStart).toBe(true);
    expect(fleet.h001!.containers.forgejo!.autoStart).toBe(true);
    expect(fleet.o001!.vaultwarden).toBe(true);
    // hot: the container runs on both hosts (PostgreSQL replicates); the application inside it is fenced
    expect(fleet.h001!.containers.zitadel!.fence).toEqual(['!/var/lib/migen/zitadel/moved']);
    // the old host's deploy leaves the fenced app running (nixpkgs' s-t-c inside the container honours X-RestartIfChanged=false)
    expect(fleet.h001!.containers.zitadel!.restart).toBe(false);
    expect(fleet.h002!.containers.zitadel!.fence).toEqual(['/var/lib/migen/zitadel/ready']);
    expect(fleet.h002!.containers.zitadel!.mounts).toContain('/var/lib/migen/zitadel');
    expect(fleet.h002!.activation['migen-zitadel-fence']).toBe('install -d -m 0755 /var/lib/migen/zitadel');
    expect(fleet.h001!.migrations.forgejo!.role).toEqual(['old']);
    expect(fleet.o001!.migrations.vaultwarden!.role).toEqual(['old', 'proxy']);
  });

  it('hot: PostgreSQL publisher settings on h001 (inside the zitadel container), subscriber settings on h002', async () => {
    const apply = `cfgs: let pg = h: (cfgs.\${h}.config.containers.zitadel.config.services.postgresql); in {
      old = { inherit ((pg "h001").settings) wal_level max_replication_slots max_wal_senders max_slot_wal_keep_size; tcp = (pg "h001").enableTCPIP; hba = (pg "h001").authentication; users = map (u: { inherit (u) name; clauses = { inherit (u.ensureClauses) login replication; }; perms = builtins.attrNames (u.ensurePermissions or { }); }) (pg "h001").ensureUsers; fw = cfgs.h001.config.networking.firewall.interfaces.tailscale0.allowedTCPPorts; };
      new = { inherit ((pg "h002").settings) max_logical_replication_workers max_worker_processes max_sync_workers_per_subscription; };
    }`;
    const r = await nixEvalJson(path.join(repoRoot, 'examples/homelab'), 'nixosConfigurations', { overrides: overridesFor(repoRoot), apply }) as { old: Record<string, unknown>; new: Record<string, number> };
    expect(r.old.wal_level).toBe('logical');
    expect(r.old.max_replication_slots).toBeGreaterThan(10);
    expect(r.old.max_wal_senders).toBeGreaterThan(10);
    expect(r.old.tcp).toBe(true);
    expect(r.old.hba).toContain('host zitadel migen_repl_zitadel 100.64.0.20/32 scram-sha-256');
    expect(r.old.max_slot_wal_keep_size).toBe('8GB');
    // the runbook creates the replication role and drops it again: no ensureUsers that would bring it back at every start
    expect(r.old.users).not.toContainEqual(expect.objectContaining({ name: 'migen_repl_zitadel' }));
    expect(r.old.fw).toContain(5432);
    expect(r.new.max_worker_processes).toBeGreaterThan(r.new.max_logical_replication_workers!);
    const text = readFileSync(path.join(ROOT, 'generated/hosts/h001.nix'), 'utf8');
    expect(text).not.toMatch(/ensurePermissions/);
    expect(text).not.toMatch(/PASSWORD '/);
  });
});

describe('after migen finalize forgejo', () => {
  const repo = exampleRepo();
  afterAll(() => repo.cleanup());
  let before: Probe; let after: Probe;

  it('sets status: done, keeping the manifest\'s comments and layout', async () => {
    before = await evalFleet(repo.dir);
    const file = 'examples/homelab/migrations/forgejo.yaml';
    const text = readFileSync(path.join(repo.dir, file), 'utf8');
    // The hosts of the example do not exist: without --force finalize asks them and refuses.
    const refused = migen(['finalize', 'forgejo', file, '--ssh-config', '/dev/null'], { cwd: repo.dir });
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/^migen: refusing to finalize forgejo: the hosts say it is unknown.*--force/s);
    expect(readFileSync(path.join(repo.dir, file), 'utf8')).toBe(text);
    const r = migen(['finalize', 'forgejo', file, '--force'], { cwd: repo.dir });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const next = readFileSync(path.join(repo.dir, file), 'utf8');
    expect(next).toBe(text.replace('    status: planned\n', '    status: done\n'));
    repo.commitAll();
    after = await evalFleet(repo.dir);
    // the finalized fleet still passes nixpkgs' assertions (the probe instantiates every toplevel)
    expect(Object.values(after).map((h) => h.system)).toEqual(FLEET.map((h) => `nixos-system-${h}-26.05`));
  });

  it('o001\'s base routes git to h002; no other vhost changed; h001 has forgejo disabled', () => {
    expect(after.o001!.routes['git.joshuabell.xyz']).toEqual({ '/': 'http://100.64.0.20' });
    expect(after.o001!.upstreams.migen_forgejo_0).toBeUndefined();
    expect(after.h002!.fences['container@forgejo']).toBeUndefined();
    const others = (r: Record<string, unknown>) => Object.fromEntries(Object.entries(r).filter(([d]) => d !== 'git.joshuabell.xyz'));
    expect(others(after.o001!.routes)).toEqual(others(before.o001!.routes));
    expect(after.h001!.containers.forgejo!.autoStart).toBe(false);
    expect(after.h001!.wantedBy['container@forgejo']).toEqual([]);
    expect(after.h002!.containers.forgejo!.autoStart).toBe(true);
    // the copied inner vhost stays: h002 serves git from now on
    expect(after.h002!.routes['git.joshuabell.xyz']).toEqual({ '/': 'http://127.0.0.1:3000' });
    expect(after.h001!.migrations.forgejo!.status).toBe('done');
    // Other migrations are untouched: vault still reads its route file, zitadel is still fenced.
    expect(after.o001!.routes['vault.joshuabell.xyz']).toEqual({ '/': 'http://migen_vaultwarden_0' });
    expect(after.h002!.containers.zitadel!.fence).toEqual(['/var/lib/migen/zitadel/ready']);
  });

  it('h002 takes over h001\'s restic job for the moved state (same repository and password file)', async () => {
    const jobs = await nixEvalJson(path.join(repo.dir, 'examples/homelab'), 'nixosConfigurations.h002.config.services.restic.backups', { overrides: overridesFor(repo.dir), apply: 'bs: builtins.mapAttrs (n: b: { inherit (b) repository paths passwordFile; }) bs' }) as Record<string, { repository: string; paths: string[]; passwordFile: string }>;
    expect(jobs).toEqual({ forgejo: { repository: '/backup/h001', paths: ['/var/lib/forgejo'], passwordFile: '/run/agenix/restic-password' } });
  });

  it('the inventory still reads the configuration as written (migen\'s own modules do not feed back)', async () => {
    const inv = await nixInventory(path.join(repo.dir, 'examples/homelab'), overridesFor(repo.dir)) as { hosts: Record<string, { containers: Record<string, { autoStart: boolean }> }> };
    expect(inv.hosts.h001!.containers.forgejo!.autoStart).toBe(true);
    expect(inv.hosts.h002!.containers.forgejo!.autoStart).toBe(true);
    const r = migen(['check', 'examples/homelab/migrations/forgejo.yaml'], { cwd: repo.dir });
    expect(r.stderr).toBe('');
  });
});

describe('free text reaches Nix as inert strings', () => {
  const repo = exampleRepo();
  afterAll(() => repo.cleanup());
  it('a description and a verify URL with ${, " and \\ evaluate to the literal text', async () => {
    const file = path.join(repo.dir, 'examples/homelab/migrations/forgejo.yaml');
    const description = 'Moves ${builtins.throw "boom"} and "quotes" and \\back\\slash and \'\' too';
    const url = 'https://git.joshuabell.xyz/?q=${x}&r="y"';
    const text = readFileSync(file, 'utf8')
      .replace(/    description: .*\n/, `    description: ${JSON.stringify(description)}\n`)
      .replace('      - http: https://git.joshuabell.xyz/\n', `      - http: ${JSON.stringify(url)}\n`);
    writeFileSync(file, text);
    const r = migen(['generate', ...readdirSync(path.dirname(file)).map((f) => `examples/homelab/migrations/${f}`)], { cwd: repo.dir });
    expect(r.stderr).toBe('');
    repo.commitAll();
    const got = await nixEvalJson(path.join(repo.dir, 'examples/homelab'), 'nixosConfigurations.h001.config.migen.migrations.forgejo', { overrides: overridesFor(repo.dir), apply: 'm: { inherit (m) description verify; }' }) as { description: string; verify: string[] };
    expect(got.description).toBe(description);
    expect(got.verify[0]).toBe(`${url} -> 200`);
  });
});
