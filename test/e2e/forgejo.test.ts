/**
 * e2e [15]: the committed generated/runbooks/migrate-forgejo.mjs (`migen run forgejo`) moves Forgejo
 * in its nixos-container (its repositories and its own PostgreSQL's data directory, copied as
 * files) from h001 to h002 while git clients push and fetch through o001's nginx and h001's own
 * nginx (two proxies: o001 -> h001:80 -> by Host -> the container's :3000; after the move o001 ->
 * h002:80, whose nginx has the vhost copied by the generated module). Every host runs what the
 * example fleet evaluates to (test/e2e/deployed.ts); the lab parts are in test/lab/forgejo/.
 * 1. one run: every acknowledged push on h002, only git. moved, the report's window against the
 *    clients' outage;
 * 2. the operator killed (SIGKILL, its ssh connections with it) after each step in turn, then
 *    `--resume`: nothing acknowledged lost (inside the window the coordinator on h002 goes on).
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createLab, findLeftovers, type Lab } from '../lab/index.js';
import { FORGEJO, NEIGHBOURS, forgejoChecks as fc, forgejoLabOptions, gitOperatorEnv, setupForgejo, startPusher, startReader, type ForgejoSetup, type ReadSample } from '../lab/forgejo/index.js';
import { crashOperator, migenRun, proxyRoutes, readJournal, readReport, runbookSteps, whenJournal } from './helpers.js';
import { activeOn, locked } from './fleet.js';
import { everythingOnH002, makeForgejoRoot, outageBounds, viaProxy, waitFor } from './forgejo-fleet.js';

/** The window starts with the stop command and ends with the first verification that passed; the
 * clients' outage lies inside it. It exceeds the outage by the stop's own latency (ssh, the
 * container's SIGTERM) and the verification's (retried every 0.2 s, curl over TLS): at most this. */
const WINDOW_MARGIN_MS = 2000;
/** timestamps come from different processes' clocks (the same machine): this much slack */
const CLOCK_MS = 50;

const summary: string[] = [];
afterAll(() => { if (summary.length) console.log(`e2e forgejo (h001 -> h002, two proxies):\n  ${summary.join('\n  ')}`); });

async function fixture(): Promise<{ lab: Lab; root: string; fj: ForgejoSetup }> {
  const lab = await createLab(forgejoLabOptions());
  const fj = await setupForgejo(lab, { proxy: 'inventory', restic: true });
  return { lab, root: makeForgejoRoot(lab), fj };
}
const clients = (lab: Lab, fj: ForgejoSetup) => ({
  pusher: startPusher(lab, fj, { intervalMs: 300, maxMs: 900_000 }),
  reader: startReader(lab, fj, { intervalMs: 500, cloneEvery: 5, maxMs: 900_000 }),
});
/** stops the pusher, then the reader once it read after the last push (its refs are the final ones) */
async function stopClients(c: ReturnType<typeof clients>) {
  const { acked, failed } = await c.pusher.stop();
  const last = acked.at(-1)!;
  await waitFor('a read after the last push', () => c.reader.samples.some((s) => s.ok && s.t - s.ms > last.t));
  const reads = await c.reader.stop();
  const lastRead: ReadSample | undefined = reads.filter((s) => s.ok).at(-1);
  return { acked, failed, reads, lastRead };
}
const NEIGHBOUR_DOMAINS = Object.keys(NEIGHBOURS).map((n) => `${n}.joshuabell.xyz`);

describe('forgejo h001 -> h002 with the generated runbook, git clients pushing through both proxies', () => {
  let lab: Lab;
  let root: string;
  let fj: ForgejoSetup;
  beforeAll(async () => { ({ lab, root, fj } = await fixture()); }, 180_000);
  afterAll(async () => { await lab?.teardown(); });

  test('every acknowledged push is on h002, only git. moves, and the report\'s window agrees with the clients\' outage', async () => {
    const routesBefore = await proxyRoutes(lab, 'o001');
    expect(routesBefore[FORGEJO.domain]).toEqual(['/', 'http://100.64.0.13']);
    for (const d of NEIGHBOUR_DOMAINS) expect(await viaProxy(lab, d)).toBe(`h001 ${d.split('.')[0]}`);
    expect(await fc.servedBy(lab)).toBe('h001');

    const c = clients(lab, fj);
    await waitFor('pushes and reads before the run', () => c.pusher.acked.length >= 5 && c.reader.samples.filter((s) => s.ok).length >= 2);
    const run = migenRun(lab, 'forgejo', root, [], gitOperatorEnv(lab));
    const r = await run.done;
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const report = readReport(root, 'forgejo');
    expect(report.result).toBe('done');
    const w0 = Date.parse(report.window.startedAt!);
    const w1 = Date.parse(report.window.endedAt!);
    // the clients go on against h002: pushes begun after the window, acknowledged
    await waitFor('pushes after the window', () => c.pusher.acked.filter((a) => a.t - a.ms > w1).length >= 3);
    const { acked, failed, reads, lastRead } = await stopClients(c);

    const by = await everythingOnH002(lab, acked, lastRead);
    // pushes recorded by each side: the rows from before the stop travelled with the data directory
    expect(by.h001).toBeGreaterThan(3);
    expect(by.h002).toBeGreaterThanOrEqual(3);
    // h001's copy is frozen as of the stop: each of its refs is in h002's history
    const old = await lab.exec('h001', `git -c safe.directory='*' --git-dir=${FORGEJO.repositories}/test/repo.git rev-parse refs/heads/main`);
    expect(await fc.notAncestors(lab, 'h002', [[old.stdout.trim(), acked.at(-1)!.new]])).toEqual([]);

    // only git. moved: o001's routes as they were but git, and the other domains still reach their own backends on h001
    const routesAfter = await proxyRoutes(lab, 'o001');
    expect(routesAfter).toEqual({ ...routesBefore, [FORGEJO.domain]: ['/', 'http://100.64.0.20'] });
    for (const d of NEIGHBOUR_DOMAINS) expect(await viaProxy(lab, d)).toBe(`h001 ${d.split('.')[0]}`);
    expect(routesAfter['llm.joshuabell.xyz']).toEqual(['/', 'http://100.64.0.13:8095']);
    // the inner layer: h002's nginx routes git by Host to the container, as h001's did
    expect((await proxyRoutes(lab, 'h002'))[FORGEJO.domain]).toEqual(['/', 'http://127.0.0.1:3000']);

    // the report's window against what the clients saw: every failure inside it, the outage within it
    const o = outageBounds(acked, failed, reads);
    expect(o.failures.length).toBeGreaterThan(0);
    expect(o.failures.filter((f) => f.e < w0 - CLOCK_MS || f.s > w1 + CLOCK_MS)).toEqual([]);
    expect(o.lower).toBeLessThanOrEqual(report.window.ms! + CLOCK_MS);
    expect(report.window.ms!).toBeLessThanOrEqual(o.upper + WINDOW_MARGIN_MS);
    expect(failed.filter((f) => f.rejected)).toEqual([]);
    summary.push(`one run: runbook ${(r.ms / 1000).toFixed(1)} s; downtime window (report) ${report.window.ms} ms; clients' outage between ${o.lower} and ${o.upper} ms (${o.failures.length} failed of ${o.total} git operations); ${acked.length} acknowledged pushes checked on h002 (${by.h001} recorded by h001, ${by.h002} by h002), ${reads.length} reads`);
  }, 600_000);

  test('teardown leaves nothing behind', async () => {
    await lab.teardown();
    expect(await findLeftovers(lab.id)).toEqual([]);
  });
});

describe('the operator killed after each step of the forgejo runbook in turn, then --resume', () => {
  let lab: Lab;
  let root: string;
  let fj: ForgejoSetup;
  beforeAll(async () => { ({ lab, root, fj } = await fixture()); }, 180_000);
  afterAll(async () => { await lab?.teardown(); });

  test('nothing acknowledged is lost', async () => {
    const steps = (await runbookSteps('forgejo') as { id: string; kind: string; window?: boolean }[]).filter((s) => s.kind !== 'note');
    const inWindow = steps.filter((s) => s.window).length;
    expect(inWindow).toBeGreaterThanOrEqual(5); // stop, final pass, checks, start, route switch, ...: the coordinator's
    const c = clients(lab, fj);
    await waitFor('pushes before the run', () => c.pusher.acked.length >= 3);
    const t0 = Date.now();
    const env = gitOperatorEnv(lab);
    let run = migenRun(lab, 'forgejo', root, [], env);
    let runId = '';
    let kills = 0;
    for (const [i, s] of steps.entries()) {
      await whenJournal(root, 'forgejo', run, (j) => j.steps[s.id]?.status === 'done', 300_000);
      await crashOperator(lab, run);
      const j = readJournal(root, 'forgejo')!;
      runId ||= j.runId;
      expect(j.runId).toBe(runId);
      if (j.status === 'done') { summary.push(`kills: after ${s.id} the run had finished (only notes were left)`); break; }
      expect(j.status, `after ${s.id}`).toBe('running');
      const done = steps.filter((x) => j.steps[x.id]?.status === 'done').map((x) => x.id);
      expect(done).toEqual(steps.slice(0, done.length).map((x) => x.id)); // in order, nothing skipped
      expect(done.length).toBeGreaterThanOrEqual(i + 1);
      expect((await activeOn(lab, FORGEJO.unit, ['h001', 'h002'])).length).toBeLessThanOrEqual(1); // never two writers
      for (const h of ['o001', 'h001', 'h002']) expect((await lab.exec(h, 'head -n 1 /var/lib/migen/lock')).stdout, h).toMatch(new RegExp(`^run=${runId} migration=forgejo `));
      kills++;
      run = migenRun(lab, 'forgejo', root, ['--resume'], env);
    }
    const last = await run.done;
    expect(last.code, last.stdout + last.stderr).toBe(0);
    expect(readReport(root, 'forgejo').result).toBe('done');
    const n = c.pusher.acked.length;
    await waitFor('three more pushes, to h002', () => c.pusher.acked.length >= n + 3);
    const { acked, failed, reads, lastRead } = await stopClients(c);
    const by = await everythingOnH002(lab, acked, lastRead);
    expect(await locked(lab)).toEqual([]);
    expect(failed.filter((f) => f.rejected)).toEqual([]);
    summary.push(`${kills} kills and resumes (after each of ${steps.length} steps, ${inWindow} of them inside the window, where the coordinator on h002 went on alone) in ${((Date.now() - t0) / 1000).toFixed(1)} s; ${acked.length} acknowledged pushes all on h002 (${by.h001 ?? 0} recorded by h001, ${by.h002 ?? 0} by h002); ${failed.length} pushes failed, ${reads.filter((x) => !x.ok).length} of ${reads.length} reads`);
  }, 900_000);

  test('teardown leaves nothing behind', async () => {
    await lab.teardown();
    expect(await findLeftovers(lab.id)).toEqual([]);
  });
});
