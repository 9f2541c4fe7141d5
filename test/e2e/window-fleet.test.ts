/**
 * e2e ([11]): the downtime window of the generated vaultwarden runbook runs on the fleet, by the
 * coordinator on h002 (a transient unit started with systemd-run), so the operator may disappear:
 * 1. the operator's `migen run` SIGKILLed at each step inside the window in turn: the migration
 *    completes on its own; a later `--resume` reports done and finishes the remaining steps;
 * 2. the operator's network cut (its own link down) just after the stop: same result, and the
 *    same run reconnects once the link is back;
 * 3. the new service comes up broken (answers 503) and the operator is gone: the coordinator rolls
 *    back on its own, `--resume` reports rolled back;
 * 4. the coordinator dies for good after the proxy switch, before the confirmation, with the new
 *    backend broken: the guards revert by themselves within their timeout (routes back to o001,
 *    o001's service restarted, h002's stopped).
 * Each ends with exactly one copy serving and every acknowledged write on it.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { GUARD_SECONDS } from '../../src/runbook/def.js';
import { checks, createLab, findLeftovers, startProber, startWriter, type Lab } from '../lab/index.js';
import { crashOperator, makeRoot, MIGEN, migenRun, readReport, REPO, runbookSteps, sleep, whenJournal } from './helpers.js';
import { VW_DB, VW_DOMAIN, activeOn, defineVaultwarden, locked, resetVaultwarden, servedBy, setupVaultwarden, vaultwardenLabOptions } from './fleet.js';

const all = await runbookSteps('vaultwarden') as { id: string; kind: string; window?: boolean; fleet?: boolean }[];
/** the steps inside the downtime window, in order (all run by the coordinator) */
const WINDOW = all.filter((s) => s.window).map((s) => s.id);

let lab: Lab;
let root: string;
const summary: string[] = [];

beforeAll(async () => {
  lab = await createLab(vaultwardenLabOptions({}, false));
  root = makeRoot(lab);
  await setupVaultwarden(lab);
}, 60_000);
afterAll(async () => {
  if (summary.length) console.log(`e2e window on the fleet (vaultwarden o001 -> h002):\n  ${summary.join('\n  ')}`);
  await lab?.teardown();
});

const clients = () => ({
  writer: startWriter(lab, { address: '100.64.0.1', host: VW_DOMAIN, attachEvery: 5, maxMs: 240_000 }),
  prober: startProber(lab, { address: '100.64.0.1', host: VW_DOMAIN, intervalMs: 50, maxMs: 240_000 }),
});

/** The coordinator's result on h002 ('' while it runs), read from its journal there. */
async function coordinatorResult(): Promise<string> {
  const r = await lab.exec('h002', 'd=/var/lib/migen/vaultwarden/cutover; r=$(cat $d/current 2>/dev/null) || exit 0; awk -F"\\t" \'$2 == "result" { print $4 }\' "$d/$r/journal" 2>/dev/null');
  return r.stdout.trim();
}
async function untilResult(ms = 120_000): Promise<string> {
  const end = Date.now() + ms;
  for (;;) {
    const r = await coordinatorResult();
    if (r) return r;
    if (Date.now() > end) throw new Error('the coordinator gave no result');
    await sleep(100);
  }
}

async function oneCopy(host: 'o001' | 'h002', acked: { id: number }[]): Promise<void> {
  expect(await activeOn(lab, 'vaultwarden', ['o001', 'h002'])).toEqual([host]);
  expect(await servedBy(lab)).toBe(host);
  const ids = new Set(await checks.rowIds(lab, host, VW_DB));
  expect(acked.length).toBeGreaterThan(10);
  expect(acked.filter((a) => !ids.has(a.id))).toEqual([]);
  expect(await checks.sqliteIntegrity(lab, host, VW_DB)).toBe('ok');
}

describe('the downtime window runs on the fleet (vaultwarden, generated runbook)', () => {
  test(`the operator SIGKILLed at each of the ${WINDOW.length} window steps in turn: the migration completes on its own; --resume reports done`, async () => {
    expect(WINDOW[0]).toBe('stop-old');
    expect(WINDOW.length).toBeGreaterThanOrEqual(8);
    for (const id of WINDOW) {
      await resetVaultwarden(lab, root);
      const { writer, prober } = clients();
      await sleep(300);
      const run = migenRun(lab, 'vaultwarden', root);
      // the operator's terminal saw the step start (it follows the coordinator's journal)
      await whenJournal(root, 'vaultwarden', run, (j) => j.steps[id] !== undefined);
      await crashOperator(lab, run);
      const result = await untilResult();
      await sleep(500);
      const acked = await writer.stop();
      const probe = await prober.stop();
      expect(result, id).toBe('done');
      await oneCopy('h002', acked);
      const hosts = probe.samples.filter((s) => s.ok).map((s) => s.host);
      expect(hosts.lastIndexOf('o001')).toBeLessThan(hosts.indexOf('h002'));
      // the run is unfinished in this checkout (locks held, the steps after the window to do)
      expect((await locked(lab)).sort()).toEqual(['h002', 'o001']);
      const res = await migenRun(lab, 'vaultwarden', root, ['--resume']).done;
      expect(res.code, res.stdout + res.stderr).toBe(0);
      expect(res.stdout).toMatch(/reattached: the window runs on h002/);
      const report = readReport(root, 'vaultwarden');
      expect(report.result).toBe('done');
      expect(report.window.ms).not.toBeNull();
      expect(report.steps.filter((s) => WINDOW.includes(s.id) && s.status === 'done').map((s) => s.id)).toEqual(WINDOW);
      expect(await locked(lab)).toEqual([]);
      summary.push(`killed at ${id}: coordinator done alone; --resume done in ${(res.ms / 1000).toFixed(1)} s; window ${report.window.ms} ms, outage ${probe.longestOutageMs} ms, ${acked.length} acknowledged writes on h002`);
    }
  }, 900_000);

  test("the operator's network cut just after the stop: the migration completes on its own; the run reconnects and reports done", async () => {
    await resetVaultwarden(lab, root);
    const { writer, prober } = clients();
    await sleep(300);
    const run = migenRun(lab, 'vaultwarden', root, [], {}, { laptop: true });
    await whenJournal(root, 'vaultwarden', run, (j) => j.steps['stop-old']?.status === 'done');
    await lab.setLaptopLink(false);
    let result: string;
    let noticed = false;
    try {
      result = await untilResult();
      // down until the operator's ssh gives up on the dead link (ServerAliveInterval 5 x 3) and says so
      const until = Date.now() + 60_000;
      while (!(noticed = /lost the connection to h002/.test(run.output())) && Date.now() < until) await sleep(200);
    } finally {
      await lab.setLaptopLink(true);
    }
    expect(noticed).toBe(true);
    expect(result).toBe('done');
    const r = await run.done;
    await sleep(300);
    const acked = await writer.stop();
    const probe = await prober.stop();
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stderr).toMatch(/lost the connection to h002: the cutover goes on there/);
    expect(r.stdout).toMatch(/reconnected to h002/);
    expect(readReport(root, 'vaultwarden').result).toBe('done');
    await oneCopy('h002', acked);
    expect(await locked(lab)).toEqual([]);
    summary.push(`network cut after stop-old: coordinator done alone, the run reconnected and exited 0 after ${(r.ms / 1000).toFixed(1)} s; outage ${probe.longestOutageMs} ms`);
  }, 180_000);

  test('the new service comes up broken and the operator is gone: the fleet rolls back on its own; --resume reports rolled back', async () => {
    await resetVaultwarden(lab, root);
    await defineVaultwarden(lab, 'h002', { UNHEALTHY: '1' });
    try {
      const { writer, prober } = clients();
      await sleep(300);
      const run = migenRun(lab, 'vaultwarden', root);
      await whenJournal(root, 'vaultwarden', run, (j) => j.steps['stop-old'] !== undefined);
      await crashOperator(lab, run);
      const result = await untilResult(150_000);
      await sleep(300);
      const acked = await writer.stop();
      await prober.stop();
      expect(result).toBe('rolled-back');
      await oneCopy('o001', acked);
      const res = await migenRun(lab, 'vaultwarden', root, ['--resume']).done;
      expect(res.code, res.stdout + res.stderr).toBe(3);
      expect(res.stdout).toMatch(/rolled back on h002/);
      const report = readReport(root, 'vaultwarden');
      expect(report.result).toBe('rolled-back');
      expect(report.steps.filter((s) => s.status === 'undone').map((s) => s.id)).toEqual(['route-new', 'start-new', 'stop-old', 'guard-routes', 'guard-new', 'guard-old', 'copy-access', 'copy-keys']);
      expect(await locked(lab)).toEqual([]);
      await oneCopy('o001', acked);
      summary.push(`new service broken, operator gone: the coordinator rolled back alone; --resume exit ${res.code} (${report.message.split('\n')[0]})`);
    } finally {
      await defineVaultwarden(lab, 'h002');
    }
  }, 240_000);

  test(`the coordinator dies for good after the switch, before the confirmation, the new backend broken: the guards revert within ${GUARD_SECONDS} s`, async () => {
    await resetVaultwarden(lab, root);
    await defineVaultwarden(lab, 'h002', { UNHEALTHY: '1' });
    try {
      const { writer, prober } = clients();
      await sleep(300);
      const run = migenRun(lab, 'vaultwarden', root);
      await whenJournal(root, 'vaultwarden', run, (j) => j.steps['route-new']?.status === 'done');
      expect(await servedBy(lab)).toMatch(/503|unhealthy|exit/); // routed to the broken h002
      await lab.killUnit('h002', 'migen-vaultwarden-cutover', { forGood: true });
      const killed = Date.now();
      // the operator notices that its coordinator is gone and says what happens next
      const r = await run.done;
      expect(r.code, r.stdout + r.stderr).not.toBe(0);
      expect(r.stderr).toMatch(/the coordinator on h002 stopped without a result[\s\S]*guards revert/);
      let back = 0;
      while (Date.now() - killed < (GUARD_SECONDS + 15) * 1000) {
        if ((await servedBy(lab)) === 'o001' && (await activeOn(lab, 'vaultwarden', ['o001', 'h002'])).join() === 'o001') { back = Date.now() - killed; break; }
        await sleep(200);
      }
      await sleep(500);
      const acked = await writer.stop();
      await prober.stop();
      expect(back, 'o001 serves alone again').toBeGreaterThan(0);
      // not before the heartbeat's timeout (its last touch was at most 5 s before the kill)
      expect(back).toBeGreaterThanOrEqual((GUARD_SECONDS - 6) * 1000);
      expect(back).toBeLessThanOrEqual((GUARD_SECONDS + 10) * 1000);
      await oneCopy('o001', acked);
      for (const [h, g] of [['o001', 'routes'], ['o001', 'old'], ['h002', 'new']] as const) {
        expect((await lab.exec(h, `test -s /var/lib/migen/vaultwarden/guard/${g}.fired`)).code, `${g} guard fired on ${h}`).toBe(0);
      }
      // the hosts say so
      const st = await lab.operator([process.execPath, MIGEN, 'status', 'vaultwarden', '--ssh-config', lab.sshConfig], { cwd: REPO });
      expect(st.stdout).toMatch(/guard routes on o001 fired at/);
      expect(st.stdout).toMatch(/^vaultwarden: rolled back/m);
      // --rollback then undoes what is left (idempotent after the guards) and releases the locks
      const rb = await migenRun(lab, 'vaultwarden', root, ['--rollback']).done;
      expect(rb.code, rb.stdout + rb.stderr).toBe(3);
      expect(await locked(lab)).toEqual([]);
      await oneCopy('o001', acked);
      summary.push(`coordinator killed for good after route-new (h002 broken): o001 served alone again ${back} ms after the kill (guard timeout ${GUARD_SECONDS} s); ${acked.length} acknowledged writes on o001`);
    } finally {
      await defineVaultwarden(lab, 'h002');
    }
  }, 240_000);

  test('teardown leaves nothing behind', async () => {
    await lab.teardown();
    expect(await findLeftovers(lab.id)).toEqual([]);
  });
});
