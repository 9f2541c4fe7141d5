/**
 * e2e for [12]'s host differences, whole runbooks (`migen run`) in the lab: the warm and cold
 * migrations copy with the per-migration key only (o001's and h003's sshd read the copy-access
 * file, rsync in their system profile: lab/packages.ts), on hosts whose machine sqlite3 is hidden
 * (the runbook's SQLite steps use the generated module's), and the warm run's restic backup
 * restores to a sound database with every row acknowledged before the run.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { checks, createLab, findLeftovers, startWriter, type Lab } from '../lab/index.js';
import { runScript } from '../lab/steps.js';
import { deployGenerated, hideCommands } from '../lab/packages.js';
import { REPO, fleet, makeRoot, migenRun, readJournal, sleep } from './helpers.js';
import { AGH_DB, AGH_STATE, VW_DB, VW_DOMAIN, activeOn, CLIENTS_NETWORK_HOSTS, SECONDARY_DNS, setupAdguard, setupClientsNetwork, setupVaultwarden, vaultwardenLabOptions } from './fleet.js';

const keysGone = async (lab: Lab, name: string, client: string, server: string): Promise<void> => {
  expect(await lab.exec(server, `test -e /var/lib/migen/copy-access/${name}/root`)).toMatchObject({ code: 1 });
  expect(await lab.exec(client, `test -e /var/lib/migen/copy-keys/${name}`)).toMatchObject({ code: 1 });
};

describe('warm vaultwarden with the migration key, the module\'s tools and a restorable backup', () => {
  let lab: Lab;
  let root: string;
  beforeAll(async () => {
    lab = await createLab(vaultwardenLabOptions({}, false));
    root = makeRoot(lab);
    await setupVaultwarden(lab);
    for (const h of ['o001', 'h002']) { await hideCommands(lab, h, ['sqlite3']); await deployGenerated(lab, h); }
  }, 120_000);
  afterAll(async () => { await lab?.teardown(); });

  test('the run passes; every acknowledged write is on h002; the keys are gone; the backup restores', async () => {
    const writer = startWriter(lab, { address: '100.64.0.1', host: VW_DOMAIN, attachEvery: 5, maxMs: 180_000 });
    await sleep(700);
    const started = Date.now();
    const r = await migenRun(lab, 'vaultwarden', root).done;
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const acked = await writer.stop();
    const ids = new Set(await checks.rowIds(lab, 'h002', VW_DB));
    expect(acked.filter((a) => !ids.has(a.id))).toEqual([]);
    expect(await activeOn(lab, 'vaultwarden', ['o001', 'h002'])).toEqual(['h002']);
    const j = readJournal(root, 'vaultwarden')!;
    for (const id of ['tools-o001', 'tools-deployed-o001', 'tools-deployed-h002', 'copy-access-works', 'copy-access-closed', 'copy-keys-removed']) expect(j.steps[id]?.status, id).toBe('done');
    await keysGone(lab, 'vaultwarden', 'h002', 'o001');

    const plan = JSON.parse(fs.readFileSync(path.join(REPO, 'generated/plans/vaultwarden.json'), 'utf8')) as { migrations: { backup: { restore: string[] } }[] };
    for (const c of plan.migrations[0]!.backup.restore) expect((await runScript(lab, { on: 'o001', script: c })).code, c).toBe(0);
    const restored = `/var/tmp/migen-restore-vaultwarden${VW_DB}`;
    expect(await checks.sqliteIntegrity(lab, 'o001', restored)).toBe('ok');
    const saved = new Set(await checks.rowIds(lab, 'o001', restored));
    expect(acked.filter((a) => a.t < started && !saved.has(a.id))).toEqual([]);
  }, 180_000);

  test('teardown leaves nothing behind', async () => {
    await lab.teardown();
    expect(await findLeftovers(lab.id)).toEqual([]);
  });
});

describe('cold adguardhome with the migration key', () => {
  let lab: Lab;
  let root: string;
  beforeAll(async () => {
    lab = await createLab({ hosts: [...fleet(['h003', 'h002']), ...CLIENTS_NETWORK_HOSTS] });
    root = makeRoot(lab);
    await setupAdguard(lab, { 'nixos.org': '203.0.113.7' });
    // the clients' network the runbook checks (test/e2e/cold.test.ts runs its handoffs as they
    // happen): here the secondary already answers and the router already hands out h002 first, so
    // the secondary's and the DHCP handoff's checks pass at once and the test is about the copy key
    const net = await setupClientsNetwork(lab);
    await net.nixosOrg.setRecord({ name: 'nixos.org', value: '203.0.113.7', ttl: 300 });
    await net.dhcp.setDnsServers(['100.64.0.20', SECONDARY_DNS]);
    for (const h of ['h003', 'h002']) await deployGenerated(lab, h);
  }, 60_000);
  afterAll(async () => { await lab?.teardown(); });

  test("the run passes through rsync's daemon (the copy key's forced command); the records are served by h002; the keys are gone", async () => {
    const r = await migenRun(lab, 'adguardhome', root).done;
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(await activeOn(lab, 'adguardhome', ['h003', 'h002'])).toEqual(['h002']);
    expect(await checks.sqliteDump(lab, 'h002', AGH_DB)).toBe(await checks.sqliteDump(lab, 'h003', AGH_DB));
    expect((await lab.exec('h002', `stat -c %a /var/lib/private; ls -A ${AGH_STATE} | wc -l`)).stdout.trim().split('\n')[0]).toBe('700');
    await keysGone(lab, 'adguardhome', 'h002', 'h003');
  }, 120_000);

  test('teardown leaves nothing behind', async () => {
    await lab.teardown();
    expect(await findLeftovers(lab.id)).toEqual([]);
  });
});
