/**
 * bench/window: what the downtime window's copy costs, measured in the lab (test/lab: network
 * namespace hosts with real sshd and rsync), so that plan/window.ts can be calibrated and
 * re-measured. For states of several file counts and deltas, on h002 as the runbook runs them:
 *   final  = the final pass (the committed generated/plans/vaultwarden.json's `final-pass` script:
 *            rsync -aHAX -x -S --delete --partial over the shared ssh connection), after a pass
 *            that copied everything and a change of `delta` bytes on o001;
 *   verify = the dry run that proves the copies equal (its `copy-identical` script), right after.
 * The ssh connection is opened before (the live passes keep it open in a real run). Each case
 * runs RUNS times (median). A least-squares fit gives final = a + b·files + delta/β and
 * verify = c + d·files; the results and the constants go to bench/results/window.md and .json.
 * Run with `node bench/window.mjs` (root; not part of `npm test`).
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, expect, test } from 'vitest';
import { REPO } from '../test/e2e/helpers.js';
import { createLab, type Lab } from '../test/lab/lab.js';
import { fitWindow, loadedFit, markdown, type Sample } from './lib/window.js';

const RUNS = Number(process.env.WINDOW_RUNS ?? 3);
const FILES = (process.env.WINDOW_FILES ?? '500,5000,20000').split(',').map(Number);
const DELTAS = (process.env.WINDOW_DELTAS ?? '0,8388608,67108864').split(',').map(Number);
const OUT = path.resolve(REPO, process.env.WINDOW_OUT ?? 'bench/results/window.md');
const STATE = '/var/lib/vaultwarden';

const plan = JSON.parse(fs.readFileSync(path.join(REPO, 'generated/plans/vaultwarden.json'), 'utf8')).migrations[0];
const script = (id: string): string => plan.steps.find((s: { id: string }) => s.id === id).run.script;
const samples: Sample[] = [];
/** WINDOW_FROM_JSON=1: no lab, the report rebuilt from the samples of the last run (bench/results/window.json). */
const fromJson = process.env.WINDOW_FROM_JSON === '1';
if (fromJson) samples.push(...(JSON.parse(fs.readFileSync(OUT.replace(/\.md$/, '.json'), 'utf8')) as { samples: Sample[] }).samples);

/** Files of 4-12 KiB (seeded), as the lab's Vaultwarden attachments. */
const seed = (files: number): string => `python3 - <<'PY'
import os, random
r = random.Random(${files})
d = '${STATE}/attachments'
os.makedirs(d, exist_ok=True)
for i in range(${files}):
    with open(f'{d}/{i // 1000}-{i}.bin', 'wb') as f: f.write(r.randbytes(r.randint(4096, 12288)))
PY`;
/** A delta of `bytes`: one new file written on o001 (the final pass copies it whole). */
const change = (bytes: number, run: number): string => `python3 - <<'PY'
import os, random
r = random.Random(${run})
d = '${STATE}/attachments'
left = ${bytes}
os.makedirs(d, exist_ok=True)
with open(f'{d}/delta-${run}.bin', 'wb') as f: f.write(r.randbytes(left))
PY`;

async function timed(lab: Lab, host: string, s: string): Promise<number> {
  const r = await lab.exec(host, `set -euo pipefail\nt0=$(date +%s%N)\n{ ${s}\n} >/dev/null\nt1=$(date +%s%N)\necho $(( (t1 - t0) / 1000000 ))`);
  expect(r.code, r.stderr).toBe(0);
  return Number(r.stdout.trim().split('\n').pop());
}

for (const files of fromJson ? [] : FILES) {
  test(`${files} files`, async () => {
    const lab = await createLab({ hosts: [{ name: 'o001', address: '100.64.0.1' }, { name: 'h002', address: '100.64.0.20' }] });
    try {
      expect((await lab.exec('o001', seed(files))).code).toBe(0);
      // the live passes: everything copied, the connection kept (ControlPersist)
      await timed(lab, 'h002', script('final-pass'));
      const bytes = Number((await lab.exec('o001', `du -sb ${STATE} | cut -f1`)).stdout.trim());
      for (const delta of DELTAS) {
        for (let run = 1; run <= RUNS; run++) {
          if (delta > 0) expect((await lab.exec('o001', change(delta, run + delta))).code).toBe(0);
          await lab.exec('o001', 'sync');
          const final = await timed(lab, 'h002', script('final-pass'));
          const verify = await timed(lab, 'h002', script('copy-identical'));
          samples.push({ files, bytes, delta, run, finalMs: final, verifyMs: verify });
          console.log(`${files} files, ${bytes} bytes, delta ${delta}: final ${final} ms, verify ${verify} ms`);
        }
      }
    } finally {
      await lab.teardown();
    }
  }, 1_800_000);
}

if (fromJson) test('report from bench/results/window.json', () => expect(samples.length).toBeGreaterThan(0));

afterAll(() => {
  if (samples.length === 0) return;
  const fit = fitWindow(samples);
  const downtime = path.join(REPO, 'bench/results/downtime.json');
  const loaded = fs.existsSync(downtime) ? loadedFit(JSON.parse(fs.readFileSync(downtime, 'utf8'))) : null;
  fs.writeFileSync(OUT, markdown(samples, fit, { runs: RUNS, loaded }));
  fs.writeFileSync(OUT.replace(/\.md$/, '.json'), `${JSON.stringify({ fit, loaded, samples }, null, 2)}\n`);
  console.log(`wrote ${OUT}: ${JSON.stringify(fit)}`);
});
