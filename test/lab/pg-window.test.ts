/**
 * The write freeze does not grow with the data: the hot path's window steps (from the
 * application's stop on h001 to its start on h002, test/lab/pg/steps.ts, concurrent groups at
 * once as the coordinator runs them) in two labs at the same time, one with a 100 MiB and one
 * with a 1 GiB database, so that both windows see the same machine (other work on it slows both
 * alike). The write-unavailable window is measured by clients writing through each host's
 * application all along (on the host's loopback, where the app listens behind the host's own
 * nginx; these labs run no deploy, so h002 has no nginx yet): from the last write h001
 * acknowledged to the first h002 did. The full
 * comparison after the start is timed too: that one grows with the data, outside the window.
 * (The whole runbook, with the coordinator on the fleet, is test/e2e/w13.test.ts.)
 */
import { beforeAll, describe, expect, test } from 'vitest';
import { startWriter, useLab, type Lab, type Writer } from './index.js';
import { fillDatabase } from './pg/data.js';
import { between, hotPath, mustStep, runInOrder } from './pg/steps.js';
import { APP_PORT, DOMAIN, setupZitadel, zitadelLabOptions } from './pg/zitadel.js';
import type { Step } from '../../src/runbook/steps.js';
import { SIZES_APART, TARGETS_NOTE, WINDOW_MAX_MS } from './pg/targets.js';

let path_: Step[] = [];
beforeAll(async () => { ({ steps: path_ } = await hotPath()); });

async function until(cond: () => boolean, timeoutMs = 120_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

const SIZES = [100, 1024] as const;

describe('the freeze with a 100 MiB and a 1 GiB database, at the same time', () => {
  const labs = SIZES.map(() => useLab(zitadelLabOptions()));
  const bytes: number[] = [];
  beforeAll(async () => {
    await Promise.all(labs.map(async (l, i) => {
      await setupZitadel(l.lab);
      bytes[i] = await fillDatabase(l.lab, SIZES[i]!);
      for (const s of between(path_, null, 'pg-lag-zitadel')) await mustStep(l.lab, s);
    }));
  }, 600_000);

  test(`both under ${WINDOW_MAX_MS / 1000} s, within ${SIZES_APART * 100}% of each other (${TARGETS_NOTE}); the comparison after the start grows with the data`, async () => {
    const w = (lab: Lab, from: string): Writer => startWriter(lab, { from, address: '127.0.0.1', port: APP_PORT, host: DOMAIN, intervalMs: 20, maxMs: 300_000, timeoutMs: 2000 });
    const clients = labs.map(({ lab }) => ({ old: w(lab, 'h001'), neu: w(lab, 'h002') }));
    await until(() => clients.every((c) => c.old.acked.length >= 20));
    // the lag probe right before, as in the runbook, then both windows at once
    await Promise.all(labs.map(({ lab }) => mustStep(lab, path_.find((s) => s.id === 'pg-lag-zitadel')!)));
    const windows = await Promise.all(labs.map(async ({ lab }) => {
      const t0 = Date.now();
      const per = await runInOrder(lab, between(path_, 'stop-old', 'start-new'));
      return { ms: Date.now() - t0, per: per.map(([id, ms]) => `${id} ${ms}`).join(', ') };
    }));
    await until(() => clients.every((c) => c.neu.acked.length >= 10));
    const gaps: number[] = [];
    for (const c of clients) {
      const [a, b] = [await c.old.stop(), await c.neu.stop()];
      gaps.push(Math.min(...b.map((x) => x.t)) - Math.max(...a.map((x) => x.t)));
    }
    const compare = await Promise.all(labs.map(async ({ lab }) => {
      const t0 = Date.now();
      const r = await mustStep(lab, path_.find((s) => s.id === 'pg-compare-zitadel')!);
      expect(r.stdout).toContain('every table of zitadel equal on h001 and h002 as of the freeze (3 tables)');
      return Date.now() - t0;
    }));
    SIZES.forEach((mib, i) => console.log(`pg window, ${mib} MiB (${(bytes[i]! / 1048576).toFixed(0)} MiB on disk): writes unavailable ${gaps[i]} ms (clients), window steps ${windows[i]!.ms} ms [${windows[i]!.per}]; comparison after the start ${compare[i]} ms`));
    for (const g of gaps) expect(g).toBeLessThan(WINDOW_MAX_MS);
    expect(Math.abs(gaps[1]! - gaps[0]!) / Math.min(gaps[0]!, gaps[1]!)).toBeLessThan(SIZES_APART);
    expect(compare[1]).toBeGreaterThan(compare[0]!);
  }, 600_000);
});
