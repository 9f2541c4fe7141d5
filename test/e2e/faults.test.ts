/**
 * e2e: the generated vaultwarden runbook under faults, in a lab: the new host fails to start the
 * service (automatic rollback, exit 3), the new host drops off the network during the sync (exit 1
 * before any stop), too little disk on the new host (preflight refuses), and an interrupted run
 * undone with --rollback.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { checks, createLab, findLeftovers, startProber, startWriter, type Lab } from '../lab/index.js';
import { crashOperator, makeRoot, MIGEN, migenRun, readJournal, readReport, REPO, sleep, whenJournal } from './helpers.js';
import { VW_DB, VW_DOMAIN, VW_STATE, activeOn, defineVaultwarden, locked, resetVaultwarden, servedBy, setupVaultwarden, vaultwardenLabOptions } from './fleet.js';

let lab: Lab;
let root: string;

beforeAll(async () => {
  lab = await createLab(vaultwardenLabOptions({}, false));
  root = makeRoot(lab);
  await setupVaultwarden(lab);
}, 60_000);
afterAll(async () => { await lab?.teardown(); });

const clients = () => ({
  writer: startWriter(lab, { address: '100.64.0.1', host: VW_DOMAIN, attachEvery: 5, maxMs: 120_000 }),
  prober: startProber(lab, { address: '100.64.0.1', host: VW_DOMAIN, intervalMs: 50, maxMs: 120_000 }),
});

/** o001 serves again (or still): the only active copy, behind the proxy, with every acknowledged write */
async function servedByOld(acked: { id: number }[]): Promise<void> {
  expect(await activeOn(lab, 'vaultwarden', ['o001', 'h002'])).toEqual(['o001']);
  expect(await servedBy(lab)).toBe('o001');
  const ids = new Set(await checks.rowIds(lab, 'o001', VW_DB));
  expect(acked.filter((a) => !ids.has(a.id))).toEqual([]);
  expect(await checks.sqliteIntegrity(lab, 'o001', VW_DB)).toBe('ok');
  expect(await locked(lab)).toEqual([]); // the locks are released
}

describe('warm migration under faults (vaultwarden o001 -> h002, generated runbook)', () => {
  test('the new host cannot start the service: automatic rollback, o001 serves again, exit 3', async () => {
    // FAIL_START in the unit's environment (a file in the state directory would not survive the
    // final pass's --delete)
    await defineVaultwarden(lab, 'h002', { FAIL_START: '1' });
    const { writer, prober } = clients();
    await sleep(400);
    const r = await migenRun(lab, 'vaultwarden', root).done;
    await sleep(400);
    const acked = await writer.stop();
    const probe = await prober.stop();
    expect(r.code, r.stdout + r.stderr).toBe(3);
    // the coordinator on h002 ran the window and rolled it back by itself
    expect(r.stderr).toMatch(/failed \(start-new\): exit 1 on h002/);
    expect(r.stdout + r.stderr).toMatch(/rolled back on h002/);
    const report = readReport(root, 'vaultwarden');
    expect(report.result).toBe('rolled-back');
    // what ran is undone, newest first, then the guards armed before the window are disarmed
    expect(report.steps.filter((s) => s.status === 'undone').map((s) => s.id)).toEqual(['route-new', 'start-new', 'stop-old', 'guard-routes', 'guard-new', 'guard-old', 'copy-access', 'copy-keys']);
    expect(readJournal(root, 'vaultwarden')!.status).toBe('rolled-back');
    await servedByOld(acked);
    const ok = probe.samples.filter((s) => s.ok);
    expect(ok.every((s) => s.host === 'o001')).toBe(true);
    expect(ok[ok.length - 1]!.t).toBeGreaterThan(probe.samples.find((s) => !s.ok)!.t); // served again after the outage
    console.log(`e2e fault start-new fails: exit 3 after ${(r.ms / 1000).toFixed(1)} s; clients' outage ${probe.longestOutageMs} ms; ${acked.length} acknowledged writes on o001`);
    await defineVaultwarden(lab, 'h002');
  }, 60_000);

  test('the new host drops off the network during the sync: exit 1 before any stop, o001 still serves', async () => {
    await resetVaultwarden(lab, root);
    const { writer, prober } = clients();
    const pid0 = (await lab.exec('o001', 'cat /run/lab-units/vaultwarden/pid')).stdout;
    const run = migenRun(lab, 'vaultwarden', root);
    await whenJournal(root, 'vaultwarden', run, (j) => j.steps['sync-live']?.status === 'running');
    await lab.setLink('h002', false);
    let r;
    try {
      r = await run.done;
    } finally {
      await lab.setLink('h002', true);
    }
    const acked = await writer.stop();
    const probe = await prober.stop();
    expect(r.code, r.stdout + r.stderr).toBe(1);
    expect(r.stderr).toMatch(/sync-live: exit 255 on h002[:;][\s\S]*no service was stopped/);
    const report = readReport(root, 'vaultwarden');
    expect(report.result).toBe('failed');
    expect(report.window.startedAt).toBeNull();
    expect(report.steps.map((s) => s.id)).not.toContain('stop-old');
    expect((await lab.exec('o001', 'cat /run/lab-units/vaultwarden/pid')).stdout).toBe(pid0); // never stopped
    expect(probe.failures).toBe(0);
    // the lock on h002 could not be released while it was unreachable: named, lifted by migen unlock
    expect(r.stderr).toMatch(/could not release the lock on h002 .*migen unlock vaultwarden/);
    expect(await locked(lab)).toEqual(['h002']);
    const un = await lab.operator([process.execPath, MIGEN, 'unlock', 'vaultwarden', '--ssh-config', lab.sshConfig], { cwd: REPO });
    expect(un.code, un.stdout + un.stderr).toBe(0);
    await servedByOld(acked);
    // ~15 s: ssh's ServerAliveInterval 5 x CountMax 3 (the runtime's settings) notices the dead link
    console.log(`e2e fault h002 unreachable during sync: exit 1 after ${(r.ms / 1000).toFixed(1)} s, ${probe.samples.length} probes, none failed`);
  }, 90_000);

  test('the operator killed after start-new: the coordinator finishes; --rollback then undoes the migration, o001 serves again, locks released', async () => {
    await resetVaultwarden(lab, root);
    const { writer, prober } = clients();
    const run = migenRun(lab, 'vaultwarden', root);
    const j = await whenJournal(root, 'vaultwarden', run, (x) => x.steps['start-new']?.status === 'done');
    await crashOperator(lab, run);
    const rb = await migenRun(lab, 'vaultwarden', root, ['--rollback']).done;
    const rolledBack = Date.now();
    await sleep(300);
    const acked = await writer.stop();
    const probe = await prober.stop();
    expect(rb.code, rb.stdout + rb.stderr).toBe(3);
    // the window had gone on without the operator (or was asked to roll back, had it still run)
    expect(rb.stdout).toMatch(/the coordinator on h002 ended: (done|rolled-back)/);
    const report = readReport(root, 'vaultwarden');
    expect(report.result).toBe('rolled-back');
    const undone = report.steps.filter((s) => s.status === 'undone').map((s) => s.id);
    for (const id of ['route-new', 'start-new', 'stop-old']) expect(undone).toContain(id);
    expect(undone.indexOf('route-new')).toBeLessThan(undone.indexOf('stop-old'));
    expect(await activeOn(lab, 'vaultwarden', ['o001', 'h002'])).toEqual(['o001']);
    expect(await servedBy(lab)).toBe('o001');
    expect(await locked(lab)).toEqual([]);
    // Every write o001 acknowledged is on o001. Writes h002 acknowledged after the switch (between
    // the stop and the end of the rollback: o001 was stopped then) are not copied back.
    const ids = new Set(await checks.rowIds(lab, 'o001', VW_DB));
    const missing = acked.filter((a) => !ids.has(a.id));
    expect(missing.every((a) => a.t >= j.windowStart! && a.t <= rolledBack), JSON.stringify(missing)).toBe(true);
    if (!probe.samples.some((s) => s.ok && s.host === 'h002')) expect(missing).toEqual([]);
    expect(await checks.sqliteIntegrity(lab, 'o001', VW_DB)).toBe('ok');
    // a new run can start afterwards (nothing left locked or half-done)
    const again = await migenRun(lab, 'vaultwarden', root).done;
    expect(again.code, again.stdout + again.stderr).toBe(0);
    expect(await activeOn(lab, 'vaultwarden', ['o001', 'h002'])).toEqual(['h002']);
  }, 120_000);

  test('too little disk on the new host: preflight refuses, nothing stopped', async () => {
    const small = await createLab(vaultwardenLabOptions({ diskMiB: { h002: 1 } }, false));
    try {
      const sroot = makeRoot(small);
      await setupVaultwarden(small, { blobMiB: 2 });
      const pid0 = (await small.exec('o001', 'cat /run/lab-units/vaultwarden/pid')).stdout;
      const r = await migenRun(small, 'vaultwarden', sroot).done;
      expect(r.code, r.stdout + r.stderr).toBe(1);
      expect(r.stderr).toMatch(/disk: not enough free disk on h002 for the state of o001 \(o001: \d+; h002: \d+\); no service was stopped/);
      const report = readReport(sroot, 'vaultwarden');
      expect(report.steps.map((s) => `${s.id}:${s.status}`)).toEqual(['reach-o001:done', 'reach-h002:done', 'tools-o001:done', 'disk:failed']);
      expect((await small.exec('o001', 'cat /run/lab-units/vaultwarden/pid')).stdout).toBe(pid0);
      expect(await activeOn(small, 'vaultwarden', ['o001', 'h002'])).toEqual(['o001']);
      expect((await small.exec('h002', `ls -A ${VW_STATE} | wc -l`)).stdout.trim()).toBe('0');
      expect(await locked(small)).toEqual([]);
    } finally {
      await small.teardown();
    }
    expect(await findLeftovers(small.id)).toEqual([]);
  }, 60_000);

  test('teardown leaves nothing behind', async () => {
    await lab.teardown();
    expect(await findLeftovers(lab.id)).toEqual([]);
  });
});
