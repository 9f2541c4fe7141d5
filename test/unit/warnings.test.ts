// The plan's warnings (plan/warnings.ts), table-driven: what the reviewer is told that no check
// decides, for each fact of the inputs that calls for it.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { prepare } from '../../src/generator/pipeline.js';
import type { Inventory } from '../../src/generator/types.js';
import { fleet } from '../fixtures/inventory.js';

const dir = mkdtempSync(path.join(tmpdir(), 'migen-warn-'));
let n = 0;

async function warnings(body: string, inv: Inventory = fleet()): Promise<string[]> {
  const k = n++;
  const inventory = path.join(dir, `inv${k}.json`);
  writeFileSync(inventory, JSON.stringify(inv));
  const f = path.join(dir, `m${k}.yaml`);
  writeFileSync(f, `version: 1\nmigrations:\n  demo:\n${body.trim().split('\n').map((l) => `    ${l}`).join('\n')}\n`);
  return [...(await prepare([f], { inventory })).plans[0]!.migrations[0]!.warnings];
}

const forgejo = 'service: forgejo\nfrom: h001\nto: h002\nstrategy: warm';
const changed = (f: (i: Inventory) => void): Inventory => { const i = fleet(); f(i); return i; };

const CASES: [string, { body: string; inventory?: Inventory; has: RegExp[]; not?: RegExp[] }][] = [
  ['the preset\'s warning from the seed', { body: `${forgejo}\nbackup: { none: true }`, has: [/^Git clients that push during the final pass/] }],
  ['backup.none: no backup is taken', { body: `${forgejo}\nbackup: { none: true }`, has: [/No backup is taken before the migration \(backup\.none\)/] }],
  ['no backup configured and no host job covering the state', { body: 'service: vaultwarden\nfrom: o001\nto: h002\nstrategy: warm', has: [/No backup configured: add backup\.restic/] }],
  ['a host job covering the state is the backup: no backup warning', { body: forgejo, has: [/Monitoring: o001's Prometheus job forgejo scrapes 100\.64\.0\.13:3000/], not: [/backup/i] }],
  ['a proxy switch: what a rollback after it cannot keep', { body: `${forgejo}\nbackup: { none: true }`, has: [/A rollback after o001 switched to h002 restores h001's state as of the stop/] }],
  ['a service that clients reach by DNS (no proxy route)', { body: 'service: headscale\nfrom: l001\nto: newvps\nstrategy: warm\nbackup: { none: true }\ndomains: []', has: [/No proxy routes move with this service: clients reach it by DNS or address/] }],
  ['no verification', { body: 'service: custom\nunit: foo\nstate: [/var/lib/foo]\nfrom: h003\nto: h002\nstrategy: warm\nbackup: { none: true }', has: [/No verification checks/] }],
  ['stateVersion differs', { body: `${forgejo}\nbackup: { none: true }`, inventory: changed((i) => { (i.hosts.h002 as { stateVersion: string }).stateVersion = '25.05'; }), has: [/system\.stateVersion differs \(h001: 24\.11, h002: 25\.05\)/] }],
  ['an owner without a fixed uid', { body: 'service: vaultwarden\nfrom: o001\nto: h002\nstrategy: warm\nbackup: { none: true }', has: [/vaultwarden has no fixed uid on o001/] }],
  ['a container: its root is not copied', { body: `${forgejo}\nbackup: { none: true }`, has: [/the container's root under \/var\/lib\/nixos-containers\/forgejo is not copied/] }],
  ['a loopback backend the preset can re-address: no warning; a custom one: a warning', { body: 'service: vaultwarden\nfrom: o001\nto: h002\nstrategy: warm\nbackup: { none: true }', has: [/A rollback after o001 switched/], not: [/must listen on/] }],
  ['a custom service behind a loopback backend must be told to listen on the mesh', { body: 'service: custom\nunit: vaultwarden\nstate: [/var/lib/vaultwarden]\nfrom: o001\nto: h002\nstrategy: warm\nbackup: { none: true }\ndomains: [vault.joshuabell.xyz]', has: [/o001's proxy reaches custom on loopback; on h002 it must listen on 100\.64\.0\.20 \(ports 8222\)/] }],
  ['hot: a rollback keeps the new host\'s writes; which checks run in the window and which after; the safety net; the secret to declare', {
    body: 'service: zitadel\nfrom: h001\nto: h002\nstrategy: hot\nbackup: { none: true }\ndatabase: { engine: postgresql, databases: [zitadel] }',
    has: [/^A rollback after h002 took writes \(once the application started there and o001 switched to it\) keeps them: h002's database zitadel is renamed NAME_rolled_back_<UTC time> there, never dropped/,
      /^The write freeze does not grow with the data\. Inside the window only O\(1\) and O\(tables\) checks run: .* After the start, the full row count and checksum of every table runs on REPEATABLE READ snapshots of the frozen state/,
      /^Before the first change h001 keeps a pg_dumpall of its PostgreSQL \(roles and every database\) at \/var\/lib\/migen\/demo\/pg\/pg_dumpall\.sql\.gz/, /The subscription's connection string holds the replication password/, /Declare the secret migen-replication-demo \(owner postgres\) on h001 and h002/],
  }],
];

describe('plan warnings', () => {
  it.each(CASES)('%s', async (_name, c) => {
    const w = await warnings(c.body, c.inventory);
    for (const re of c.has) expect(w, String(re)).toContainEqual(expect.stringMatching(re));
    for (const re of c.not ?? []) expect(w.filter((x) => re.test(x)), String(re)).toEqual([]);
  });
});
