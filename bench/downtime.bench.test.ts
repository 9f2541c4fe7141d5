/**
 * bench/downtime: the same Vaultwarden state (SQLite db + attachments/: many small files and a few
 * large ones) moved o001 -> h002 in the lab twice per run, each from a fresh lab with identical
 * state, while a writer and a prober go through o001's nginx:
 *   seed  = bench/downtime-seed.sh, the seed document's "Warm Migration" steps as typed;
 *   seed-delete = the same with `--delete` on the final rsync only (the seed as written leaves the
 *           live pass's db.sqlite3-wal on h002, and the service does not start: see bench/README.md);
 *   migen = `node bin/migen.js run vaultwarden --yes` (generated/runbooks/migrate-vaultwarden.mjs).
 * Run with `node bench/downtime.mjs` (not part of `npm test`: bench/ is outside vitest's include).
 * Environment (set by bench/downtime.mjs): DOWNTIME_SIZES=100M,1G  DOWNTIME_RUNS=100M:3,1G:3
 * DOWNTIME_OUT=bench/results/downtime.md  DOWNTIME_PROCS=seed,seed-delete,migen  DOWNTIME_LOGS=DIR (migen's output)
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, expect, test } from 'vitest';
import { REPO } from '../test/e2e/helpers.js';
import { SIZES, gitHead, markdown, runOnce, uptime, type RunResult } from './lib/downtime.js';

const sizes = (process.env.DOWNTIME_SIZES ?? '100M,1G').split(',').filter(Boolean);
const runsOf = Object.fromEntries((process.env.DOWNTIME_RUNS ?? '100M:3,1G:3').split(',').map((x) => x.split(':') as [string, string]));
const procs = (process.env.DOWNTIME_PROCS ?? 'seed,seed-delete,migen').split(',') as ('seed' | 'seed-delete' | 'migen')[];
const out = path.resolve(REPO, process.env.DOWNTIME_OUT ?? 'bench/results/downtime.md');
const results: RunResult[] = [];
const startUptime = uptime();

for (const size of sizes) {
  if (!SIZES[size]) throw new Error(`unknown size ${size} (known: ${Object.keys(SIZES).join(', ')})`);
  const runs = Number(runsOf[size] ?? 1);
  for (let run = 1; run <= runs; run++) {
    for (const procedure of procs) {
      test(`${size} ${procedure} run ${run}`, async () => {
        const r = await runOnce(size, procedure, run, (s) => console.log(s));
        results.push(r);
        console.log(`${size} ${procedure} run ${run}: outage ${r.outageMs} ms, writer gap ${r.writerGapMs} ms, window ${r.windowMs} ms, wall ${r.wallMs} ms, ` +
          `acked ${r.acked} (missing on h002 ${r.ackedMissing}), integrity ${r.integrity}, files differing ${r.filesDiffer}, load ${r.loadBefore} -> ${r.loadAfter}\n  steps ${JSON.stringify(r.steps)}`);
        // the seed as written may fail (that is a result, reported); its --delete variant and migen must not
        if (procedure !== 'seed') expect(r.exit, `${procedure} exit`).toBe(0);
      }, 3_600_000);
    }
  }
}

afterAll(() => {
  if (!results.length) return;
  const md = markdown(results, { startUptime, endUptime: uptime(), nproc: os.cpus().length, head: gitHead() });
  fs.mkdirSync(path.dirname(out), { recursive: true });
  fs.writeFileSync(out, md + '\n');
  fs.writeFileSync(out.replace(/\.md$/, '.json'), JSON.stringify(results, null, 1) + '\n');
  console.log(`\n${md}\nwritten to ${path.relative(REPO, out)}`);
});
