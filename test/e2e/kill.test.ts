/**
 * e2e: the operator dies (SIGKILL of the runbook and of its ssh connections) right after each
 * step of the generated vaultwarden runbook in turn, and `migen run vaultwarden --resume` picks
 * the run up again each time. To keep this affordable (a full run costs ~7 s here, ~20 s on a
 * loaded 2-core machine) the kill points are chained through one migration: run, kill after
 * step 1, resume, kill after step 2, resume, ... until the resume after the last step finishes.
 * At every kill: never two copies active, the run still holds its lock. At the end: exactly one
 * copy serving (active on h002 only, the proxy routing to it) and every write the clients saw
 * acknowledged, through all those crashes, is on it. (Inside the window the coordinator on h002
 * goes on without the operator: window-fleet.test.ts kills the operator there and lets it finish.)
 * The finalize notes (kind note, nothing runs) are not kill points.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { checks, createLab, findLeftovers, startProber, startWriter, type Lab } from '../lab/index.js';
import { crashOperator, makeRoot, migenRun, readJournal, readReport, runbookSteps, sleep, whenJournal } from './helpers.js';
import { VW_DB, VW_DOMAIN, activeOn, locked, servedBy, setupVaultwarden, vaultwardenLabOptions } from './fleet.js';

const steps = (await runbookSteps('vaultwarden')).filter((s) => s.kind !== 'note');

let lab: Lab;
let root: string;
const summary: string[] = [];

beforeAll(async () => {
  lab = await createLab(vaultwardenLabOptions({}, false));
  root = makeRoot(lab);
  await setupVaultwarden(lab);
}, 60_000);
afterAll(async () => {
  if (summary.length) console.log(`e2e kill/resume (vaultwarden):\n  ${summary.join('\n  ')}`);
  await lab?.teardown();
});

const clients = () => ({
  writer: startWriter(lab, { address: '100.64.0.1', host: VW_DOMAIN, attachEvery: 5, maxMs: 300_000, intervalMs: 40 }),
  prober: startProber(lab, { address: '100.64.0.1', host: VW_DOMAIN, intervalMs: 100, maxMs: 300_000 }),
});

async function oneCopyWithEverything(acked: { id: number }[]): Promise<void> {
  expect(await activeOn(lab, 'vaultwarden', ['o001', 'h002'])).toEqual(['h002']);
  expect(await servedBy(lab)).toBe('h002');
  const ids = new Set(await checks.rowIds(lab, 'h002', VW_DB));
  expect(acked.length).toBeGreaterThan(20);
  expect(acked.filter((a) => !ids.has(a.id))).toEqual([]);
  expect(await checks.sqliteIntegrity(lab, 'h002', VW_DB)).toBe('ok');
  expect(readReport(root, 'vaultwarden').result).toBe('done');
  expect(await locked(lab)).toEqual([]);
}

describe('the operator killed during the vaultwarden migration, then --resume', () => {
  test(`killed after each of the ${steps.length} steps in turn, resumed each time`, async () => {
    const { writer, prober } = clients();
    const t0 = Date.now();
    let run = migenRun(lab, 'vaultwarden', root);
    let runId = '';
    let finished = false;
    for (const [i, s] of steps.entries()) {
      const j0 = await whenJournal(root, 'vaultwarden', run, (j) => j.steps[s.id]?.status === 'done');
      await crashOperator(lab, run);
      const j = readJournal(root, 'vaultwarden')!;
      runId ||= j0.runId;
      expect(j.runId).toBe(runId);
      if (j.status === 'done') {
        // the last step's kill came after the run had finished (only the notes were left)
        expect(i).toBe(steps.length - 1);
        summary.push(`after ${s.id}: the run had finished before the kill`);
        finished = true;
        break;
      }
      expect(j.status).toBe('running');
      const done = steps.filter((x) => j.steps[x.id]?.status === 'done').map((x) => x.id);
      expect(done).toEqual(steps.slice(0, done.length).map((x) => x.id)); // in order, nothing skipped
      expect(done.length).toBeGreaterThanOrEqual(i + 1);
      const active = await activeOn(lab, 'vaultwarden', ['o001', 'h002']);
      expect(active.length).toBeLessThanOrEqual(1); // never two copies, whatever the moment
      // the run still holds its lock on every host it touches
      for (const h of ['o001', 'h002']) expect((await lab.exec(h, 'head -n 1 /var/lib/migen/lock')).stdout, h).toMatch(new RegExp(`^run=${runId} migration=vaultwarden `));
      summary.push(`after ${s.id}: killed with ${done.length} steps done, active: ${active.join(',') || 'none'}`);
      run = migenRun(lab, 'vaultwarden', root, ['--resume']);
    }
    if (!finished) {
      const last = await run.done;
      expect(last.code, last.stdout + last.stderr).toBe(0);
      expect(last.stdout).toContain(`resuming run ${runId}`);
    }
    await sleep(300);
    const acked = await writer.stop();
    const probe = await prober.stop();
    await oneCopyWithEverything(acked);
    const hosts = probe.samples.filter((x) => x.ok).map((x) => x.host);
    expect(hosts.lastIndexOf('o001')).toBeLessThan(hosts.indexOf('h002'));
    summary.push(`${steps.length} kills and resumes in ${((Date.now() - t0) / 1000).toFixed(1)} s; ${acked.length} acknowledged writes all on h002; clients' longest outage ${probe.longestOutageMs} ms`);
  }, 300_000);

  test('teardown leaves nothing behind', async () => {
    await lab.teardown();
    expect(await findLeftovers(lab.id)).toEqual([]);
  });
});
