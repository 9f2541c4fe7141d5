#!/usr/bin/env node
// bench/downtime: client-side downtime of the seed's warm procedure vs migen's warm runbook in the
// lab (needs root and the lab's packages: test/lab/README.md; and a built dist/: npm run build).
//   node bench/downtime.mjs [--sizes 100M,1G] [--runs 3] [--runs-1g 3] [--out bench/results/downtime.md]
//   [--procs seed,seed-delete,migen] [--logs DIR (migen's output per run)]
// --runs applies to 100M, --runs-1g to 1G. Writes the markdown table to --out (and the raw runs
// to the same name with .json).
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const opt = (name, def) => {
  const i = args.indexOf(name);
  return i >= 0 && args[i + 1] ? args[i + 1] : def;
};
const env = {
  ...process.env,
  DOWNTIME_SIZES: opt('--sizes', '100M,1G'),
  DOWNTIME_RUNS: `100M:${opt('--runs', '3')},1G:${opt('--runs-1g', '3')}`,
  DOWNTIME_OUT: opt('--out', 'bench/results/downtime.md'),
  DOWNTIME_PROCS: opt('--procs', 'seed,seed-delete,migen'),
  ...(opt('--logs', '') ? { DOWNTIME_LOGS: path.resolve(opt('--logs', '')) } : {}),
};
const r = spawnSync(process.execPath, [path.join(repo, 'node_modules/vitest/vitest.mjs'), 'run', '--config', 'bench/vitest.downtime.config.ts'], { cwd: repo, env, stdio: 'inherit' });
process.exit(r.status ?? 1);
