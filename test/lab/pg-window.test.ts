/**
 * The write freeze does not grow with the data: the hot path's window steps (from the
 * application's stop on h001 to its start on h002, test/lab/pg/steps.ts) with a 100 MiB and a
 * 1 GiB database, the write-unavailable window measured by two clients writing through each
 * host's application all along (the last write h001 acknowledged to the first h002 did). The
 * full comparison after the start is timed too: that one grows with the data, outside the window.
 * (The whole runbook, with the coordinator on the fleet, is test/e2e/w13.test.ts.)
 */
import { beforeAll, describe, expect, test } from 'vitest';
import { startWriter, useLab, type Writer } from './index.js';
import { fillDatabase } from './pg/data.js';
import { between, hotPath, mustStep, runInOrder } from './pg/steps.js';
import { DOMAIN, setupZitadel, zitadelLabOptions } from './pg/zitadel.js';
import type { Step } from '../../src/runbook/steps.js';

let path_: Step[] = [];
beforeAll(async () => { ({ steps: path_ } = await hotPath()); });

interface Measured { mib: number; bytes: number; gapMs: number; stepsMs: number; compareMs: number; perStep: string }
const results: Measured[] = [];

async function until(cond: () => boolean | Promise<boolean>, timeoutMs = 120_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

for (const mib of [100, 1024]) {
  describe(`the freeze with a ${mib} MiB database`, () => {
    const ctx = useLab(zitadelLabOptions());
    let bytes = 0;
    beforeAll(async () => {
      await setupZitadel(ctx.lab);
      bytes = await fillDatabase(ctx.lab, mib);
    }, 300_000);

    test('the window steps and the clients\' write-unavailable window', async () => {
      const { lab } = ctx;
      for (const s of between(path_, null, 'pg-lag-zitadel')) await mustStep(lab, s);
      const w = (address: string): Writer => startWriter(lab, { address, host: DOMAIN, intervalMs: 20, maxMs: 300_000, timeoutMs: 2000 });
      const old = w('100.64.0.13');
      const neu = w('100.64.0.20');
      await until(() => old.acked.length >= 20);
      const t0 = Date.now();
      const per = (await runInOrder(lab, between(path_, 'stop-old', 'start-new'))).map(([id, ms]) => `${id} ${ms}`);
      const stepsMs = Date.now() - t0;
      await until(() => neu.acked.length >= 10);
      const [a, b] = [await old.stop(), await neu.stop()];
      const gapMs = Math.min(...b.map((x) => x.t)) - Math.max(...a.map((x) => x.t));
      const c0 = Date.now();
      const cmp = await mustStep(lab, path_.find((s) => s.id === 'pg-compare-zitadel')!);
      const compareMs = Date.now() - c0;
      expect(cmp.stdout).toContain('every table of zitadel equal on h001 and h002 as of the freeze (3 tables)');
      results.push({ mib, bytes, gapMs, stepsMs, compareMs, perStep: per.join(', ') });
      console.log(`pg window, ${mib} MiB (${(bytes / 1048576).toFixed(0)} MiB on disk): writes unavailable ${gapMs} ms (clients), window steps ${stepsMs} ms [${per.join(', ')}]; comparison after the start ${compareMs} ms`);
    }, 600_000);
  });
}

describe('the freeze does not grow with the data', () => {
  test('100 MiB and 1 GiB: both under 2 s, within 20% of each other', () => {
    expect(results.map((r) => r.mib)).toEqual([100, 1024]);
    const [small, big] = results as [Measured, Measured];
    for (const r of results) expect(r.gapMs, `${r.mib} MiB`).toBeLessThan(2000);
    expect(Math.abs(big.gapMs - small.gapMs) / Math.min(big.gapMs, small.gapMs)).toBeLessThan(0.2);
    // what does grow with the data runs after the start
    expect(big.compareMs).toBeGreaterThan(small.compareMs);
  });
});
