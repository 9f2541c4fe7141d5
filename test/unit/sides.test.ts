// Facts resolved per side (model/state.ts, model/postgres.ts, model/ports.ts, validate/sides.ts,
// plan/window.ts), table-driven: each host's (or container's) stateVersion picks its own state
// directory and every step uses the right side's path; what cannot be mapped, PostgreSQL majors
// under a file copy, colliding ports, unpersisted state and undeclared secrets are errors at
// file:line:column.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../src/errors.js';
import { prepare } from '../../src/generator/pipeline.js';
import { windowEstimate } from '../../src/generator/plan/window.js';
import { scriptsOf, type Step } from '../../src/runbook/steps.js';
import type { Inventory, InventoryHost } from '../../src/generator/types.js';
import { container, fleet, listener } from '../fixtures/inventory.js';

const dir = mkdtempSync(path.join(tmpdir(), 'migen-sides-'));
let n = 0;
type Mutable<T> = { -readonly [K in keyof T]: T[K] };
const changed = (f: (h: Record<string, Mutable<InventoryHost>>) => void): Inventory => { const i = fleet(); f(i.hosts as Record<string, Mutable<InventoryHost>>); return i; };

async function run(body: string, inv: Inventory) {
  const k = n++;
  const inventory = path.join(dir, `inv${k}.json`);
  writeFileSync(inventory, JSON.stringify(inv));
  const f = path.join(dir, `m${k}.yaml`);
  writeFileSync(f, `version: 1\nmigrations:\n  demo:\n${body.trim().split('\n').map((l) => `    ${l}`).join('\n')}\n`);
  try {
    return { plan: (await prepare([f], { inventory })).plans[0]!.migrations[0]!, problems: [] as string[] };
  } catch (e) {
    if (e instanceof ValidationError) return { plan: null, problems: e.problems.map((p) => `${p.line}:${p.column}: ${p.message}`) };
    throw e;
  }
}
const script = (steps: readonly Step[], id: string): string => scriptsOf(steps.find((s) => s.id === id)!).flatMap((s) => ('pipe' in s ? s.pipe : [s])).map((s) => `[${s.on}] ${s.script}`).join('\n');

const vw = 'service: vaultwarden\nfrom: o001\nto: h002\nstrategy: warm\nbackup: { restic: { repository: /backup/o001 } }';
const o23 = changed((h) => { h.o001!.stateVersion = '23.11'; });

describe('state paths per side', () => {
  it('o001 on 23.11, h002 on 24.11: /var/lib/bitwarden_rs is copied to /var/lib/vaultwarden, and every step uses its side\'s path', async () => {
    const { plan, problems } = await run(vw, o23);
    expect(problems).toEqual([]);
    expect(plan!.state.map((s) => [s.old, s.new])).toEqual([['/var/lib/bitwarden_rs', '/var/lib/vaultwarden']]);
    expect(plan!.sqlite).toEqual([{ old: '/var/lib/bitwarden_rs/db.sqlite3', new: '/var/lib/vaultwarden/db.sqlite3' }]);
    const steps = plan!.steps;
    // rsync reads the old host's directory through its copy key, whose forced command names it
    expect(script(steps, 'copy-access')).toContain('path = /var/lib/bitwarden_rs\\nread only = yes');
    expect(script(steps, 'final-pass')).toContain('root@100.64.0.1::state/ /var/lib/vaultwarden/');
    expect(script(steps, 'copy-identical')).toContain('root@100.64.0.1::state/ /var/lib/vaultwarden/');
    expect(script(steps, 'sync-live')).toMatch(/mkdir -p \/var\/lib\/vaultwarden\nrsync .* root@100\.64\.0\.1::state\/ \/var\/lib\/vaultwarden\//);
    expect(script(steps, 'critical--var-lib-vaultwarden-rsa-key-pem')).toBe('[o001] sha256sum < /var/lib/bitwarden_rs/rsa_key.pem\n[h002] sha256sum < /var/lib/vaultwarden/rsa_key.pem');
    expect(script(steps, 'sqlite--var-lib-vaultwarden-db-sqlite3')).toBe("[h002] test \"$(sqlite3 -readonly /var/lib/vaultwarden/db.sqlite3 'PRAGMA integrity_check;')\" = ok");
    expect(script(steps, 'disk')).toMatch(/^\[o001\] du -sb --one-file-system \/var\/lib\/bitwarden_rs .*\n\[h002\] mkdir -p \/var\/lib\/vaultwarden && df -B1 --output=avail \/var\/lib\/vaultwarden/);
    expect(script(steps, 'state-real-dirs')).toContain('/var/lib/bitwarden_rs');
    expect(script(steps, 'target-empty')).toContain('test -d /var/lib/vaultwarden');
    // the backup, on the old host, snapshots its side's database and backs up its side's directory
    expect(script(steps, 'backup')).toContain("VACUUM INTO '/var/lib/migen/backup/demo/var/lib/bitwarden_rs/db.sqlite3'");
    expect(script(steps, 'backup')).toMatch(/restic -r \/backup\/o001 backup .*\/var\/lib\/bitwarden_rs /);
    expect(script(steps, 'backup')).not.toContain('/var/lib/vaultwarden');
  });

  it('relay mode renames the old host\'s directory on extraction and compares each side\'s directory', async () => {
    const { plan } = await run(`${vw}\nsync: { mode: relay }`, o23);
    expect(script(plan!.steps, 'final-pass')).toContain("tar -C / --numeric-owner --xattrs --acls --transform 's,^var/lib/bitwarden_rs\\(/\\|$\\),var/lib/vaultwarden\\1,S' -xpf -");
    expect(script(plan!.steps, 'owners')).toMatch(/^\[o001\] \{\n {2}\(cd \/var\/lib\/bitwarden_rs .*\n\[h002\] \{\n {2}\(cd \/var\/lib\/vaultwarden /s);
  });

  it.each<[string, { body: string; inventory: Inventory; old: string; neu: string }]>([
    ['both hosts on 24.11: one path', { body: vw, inventory: fleet(), old: '/var/lib/vaultwarden', neu: '/var/lib/vaultwarden' }],
    ['both on 23.11: bitwarden_rs on both', { body: vw, inventory: changed((h) => { h.o001!.stateVersion = '23.11'; h.h002!.stateVersion = '23.11'; }), old: '/var/lib/bitwarden_rs', neu: '/var/lib/bitwarden_rs' }],
    ['the manifest names the old host\'s directory: mapped to the new host\'s', { body: `${vw}\nstate: [/var/lib/bitwarden_rs]`, inventory: o23, old: '/var/lib/bitwarden_rs', neu: '/var/lib/vaultwarden' }],
    ['the manifest names both sides', { body: `${vw}\nstate: [{ from: /srv/vw, to: /var/lib/vaultwarden }]`, inventory: o23, old: '/srv/vw', neu: '/var/lib/vaultwarden' }],
    ['a container\'s stateVersion decides, not its host\'s', { body: `${vw}\ncontainer: vw`, inventory: changed((h) => { h.o001!.containers = { vw: container(['vaultwarden'], { stateVersion: '23.11' }) }; h.h002!.containers = { vw: container(['vaultwarden'], { stateVersion: '24.11' }) }; h.o001!.stateVersion = '24.11'; h.h002!.stateVersion = '23.11'; }), old: '/var/lib/bitwarden_rs', neu: '/var/lib/vaultwarden' }],
  ])('%s', async (_n, c) => {
    const { plan, problems } = await run(c.body, c.inventory);
    expect(problems).toEqual([]);
    // (a container's uid/gid map travels too: container-relay.test.ts)
    expect(plan!.state.filter((s) => !s.old.startsWith('/var/lib/nixos-containers/')).map((s) => [s.old, s.new])).toEqual([[c.old, c.neu]]);
  });
});

// [name, { manifest body, inventory, the problems (line:column: message) }]
const REFUSED: [string, { body: string; inventory: Inventory; want: RegExp[] }][] = [
  ['the new host\'s directory named as the old host\'s state: cannot be mapped, both values named', {
    body: `${vw}\nstate: [/var/lib/vaultwarden]`, inventory: o23,
    want: [/^9:13: state \/var\/lib\/vaultwarden: vaultwarden keeps its data there on h002 \(stateVersion 24\.11\), but in \/var\/lib\/bitwarden_rs on o001 \(stateVersion 23\.11\); name the old host's directory \(\/var\/lib\/bitwarden_rs, copied to \/var\/lib\/vaultwarden\), or both sides: \{ from: \/var\/lib\/bitwarden_rs, to: \/var\/lib\/vaultwarden \}$/],
  }],
  ['a PostgreSQL data directory copied as files across majors (warm)', {
    body: 'service: forgejo\nfrom: h001\nto: h002\nstrategy: warm\nbackup: { none: true }',
    inventory: changed((h) => { h.h002!.containers = { ...h.h002!.containers, forgejo: container(['forgejo', 'postgresql'], { stateVersion: '24.11', postgresql: { enable: true, port: 5432, version: '16.8' } }) }; }),
    want: [/^7:15: strategy: warm copies \/var\/lib\/forgejo\/postgres, a PostgreSQL data directory, as files, but container forgejo on h001 runs PostgreSQL 15 \(15\.10\) and container forgejo on h002 runs PostgreSQL 16 \(16\.8\): PostgreSQL 16 refuses a data directory of another major\. Use strategy: hot .*or a dump and restore \(pg_dumpall on h001, psql on h002\)/],
  }],
  ['the same across majors, cold', {
    body: 'service: forgejo\nfrom: h001\nto: h002\nstrategy: cold\nbackup: { none: true }',
    inventory: changed((h) => { h.h001!.containers = { ...h.h001!.containers, forgejo: container(['forgejo', 'postgresql'], { postgresql: { enable: true, port: 5432, version: '9.6.24' } }) }; }),
    want: [/^7:15: strategy: cold copies \/var\/lib\/forgejo\/postgres, a PostgreSQL data directory, as files, but container forgejo on h001 runs PostgreSQL 9\.6 \(9\.6\.24\) and container forgejo on h002 runs PostgreSQL 15/],
  }],
  ['h002 of the example before its fix: Forgejo and AdGuard Home on 3000, both containers\' PostgreSQL on 5432', {
    body: 'service: forgejo\nfrom: h001\nto: h002\nstrategy: warm\nbackup: { none: true }',
    inventory: changed((h) => {
      h.h002!.listen = [listener('adguardhome', 3000), listener('adguardhome', 53, ['0.0.0.0'], 'udp'), listener('vaultwarden', 8222, ['127.0.0.1'])];
      h.h002!.containers = {
        forgejo: container(['forgejo', 'postgresql'], { listen: [listener('forgejo', 3000), listener('postgresql', 5432, ['localhost'])] }),
        zitadel: container(['postgresql', 'zitadel'], { listen: [listener('postgresql', 5432, ['localhost']), listener('zitadel', 8080)] }),
      };
    }),
    want: [
      /^6:9: to: ports on h002: forgejo in container forgejo on h002 listens on 0\.0\.0\.0:3000\/tcp, and so does adguardhome on h002 \(0\.0\.0\.0:3000\/tcp\): the second to start cannot bind it; give one of them another port$/,
      /^6:9: to: ports on h002: postgresql in container forgejo on h002 listens on localhost:5432\/tcp, and so does postgresql in container zitadel on h002 \(localhost:5432\/tcp\)/,
    ],
  }],
  ['a wildcard on [::] collides with a specific IPv4 address; a private network does not collide', {
    body: 'service: adguardhome\nfrom: h003\nto: h002\nstrategy: cold\nbackup: { none: true }',
    inventory: changed((h) => {
      h.h002!.listen = [listener('adguardhome', 3000, ['[::]']), listener('vaultwarden', 3000, ['127.0.0.1'])];
      h.h002!.containers = { forgejo: container(['forgejo'], { privateNetwork: true, listen: [listener('forgejo', 3000)] }), zitadel: container(['zitadel'], { listen: [listener('zitadel', 3000, ['::1'])] }) };
    }),
    want: [/^6:9: to: ports on h002: adguardhome on h002 listens on \[::\]:3000\/tcp, and so does vaultwarden on h002 \(127\.0\.0\.1:3000\/tcp\)/, /^6:9: to: ports on h002: adguardhome on h002 listens on \[::\]:3000\/tcp, and so does zitadel in container zitadel on h002 \(\[::1\]:3000\/tcp\)/],
  }],
  ['impermanence on the new host without the state among its persisted directories', {
    body: vw, inventory: changed((h) => { h.h002!.persistence = { enable: true, directories: ['/var/lib/nixos', '/var/lib/bitwarden_rs'] }; }),
    want: [/^6:9: to: h002 keeps only its persisted directories across a reboot \(impermanence\), and \/var\/lib\/vaultwarden is not one of them: the moved state would be gone after its next boot; add it to environment\.persistence\.<storage>\.directories on h002$/],
  }],
  ['impermanence without /var/lib/nixos while the owner has no fixed uid', {
    body: vw, inventory: changed((h) => { h.h002!.persistence = { enable: true, directories: ['/var/lib'] }; h.h002!.users = { vaultwarden: { uid: null, group: 'vaultwarden' } }; h.h002!.persistence = { enable: true, directories: ['/var/lib/vaultwarden'] }; }),
    want: [/^6:9: to: h002 uses impermanence without persisting \/var\/lib\/nixos, and vaultwarden has no fixed uid there/],
  }],
  ['a hot migration\'s replication password declared on neither side', {
    body: 'service: zitadel\nfrom: h001\nto: h002\nstrategy: hot\nbackup: { none: true }\ndatabase: { engine: postgresql, databases: [zitadel] }',
    inventory: changed((h) => { h.h001!.secrets = { agenix: ['zitadel-masterkey'], sops: [] }; h.h002!.secrets = { agenix: ['zitadel-masterkey'], sops: ['migen-replication-demo'] }; }),
    want: [/^9:15: database: the replication password migen-replication-demo is not declared on h001 \(age\.secrets or sops\.secrets, owner postgres\): the replication role reads it there$/],
  }],
];

describe('refused', () => {
  it.each(REFUSED)('%s', async (_n, c) => {
    const { problems } = await run(c.body, c.inventory);
    expect(problems).toEqual(c.want.map((re) => expect.stringMatching(re)));
  });

  it('impermanence covering the state (a parent directory) and /var/lib/nixos passes', async () => {
    const { problems } = await run(vw, changed((h) => { h.h002!.persistence = { enable: true, directories: ['/var/lib/nixos', '/var/lib/vaultwarden'] }; }));
    expect(problems).toEqual([]);
  });
  it('the same majors (hot copies nothing of the database either way) pass', async () => {
    expect((await run('service: forgejo\nfrom: h001\nto: h002\nstrategy: warm\nbackup: { none: true }', fleet())).problems).toEqual([]);
  });
  it('a secret the new host declares with sops while the old one uses agenix is declared; preflight reads it where the new host has it', async () => {
    const { plan, problems } = await run(vw, changed((h) => { h.h002!.secrets = { agenix: [], sops: ['vaultwarden-env'] }; }));
    expect(problems).toEqual([]);
    expect(script(plan!.steps, 'secret-vaultwarden-env')).toBe('[h002] test -s /run/secrets/vaultwarden-env');
  });
});

describe('the window estimate (lab-calibrated)', () => {
  const sync = { mode: 'pull' as const, thresholdBytes: 8 * 2 ** 20, maxPasses: 6, bandwidthBytesPerSecond: 50_000_000 };
  it.each<[string, Parameters<typeof windowEstimate>, { seconds: number | null; basis: RegExp }]>([
    ['warm, the example vaultwarden: under 2 s, not 11', ['warm', sync, 1], { seconds: 1.8, basis: /^final pass of at most 8388608 bytes at 50000000 B\/s \(0\.2 s\) .*integrity_check 77 ms per SQLite database \(lab measurements, bench\/results\/window\.md\)$/ }],
    ['a faster link than the lab\'s copy: the lab\'s throughput bounds it', ['warm', { ...sync, bandwidthBytesPerSecond: 10e9 }, 0], { seconds: 1.6, basis: /at 229000000 B\/s/ }],
    ['a 64 MiB threshold at 50 MB/s adds the delta', ['warm', { ...sync, thresholdBytes: 64 * 2 ** 20 }, 0], { seconds: 2.9, basis: /\(1\.3 s\)/ }],
    ['cold: the full copy is measured at run time', ['cold', sync, 0], { seconds: null, basis: /^a full copy of the state at 50000000 B\/s/ }],
  ])('%s', (_n, args, want) => {
    const w = windowEstimate(...args);
    expect(w.estimateSeconds).toBe(want.seconds);
    expect(w.basis).toMatch(want.basis);
    if (args[0] !== 'hot') expect(w.perThousandFilesSeconds).toBe(0.05);
  });
});
