#!/usr/bin/env node
// bench/window: the window's copy costs in the lab (root; test/lab's packages). Writes
// bench/results/window.md and .json (the constants of src/generator/plan/window.ts).
//   node bench/window.mjs [--runs 3] [--files 500,5000,20000] [--deltas 0,8388608,67108864] [--out bench/results/window.md]
//   node bench/window.mjs --from-json   # no lab: the report rebuilt from the last run's samples
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const opt = (name, def) => { const i = args.indexOf(name); return i >= 0 && args[i + 1] ? args[i + 1] : def; };
const env = { ...process.env, WINDOW_RUNS: opt('--runs', '3'), WINDOW_FILES: opt('--files', '500,5000,20000'), WINDOW_DELTAS: opt('--deltas', '0,8388608,67108864'), WINDOW_OUT: opt('--out', 'bench/results/window.md'), ...(args.includes('--from-json') ? { WINDOW_FROM_JSON: '1' } : {}) };
const r = spawnSync(process.execPath, [path.join(repo, 'node_modules/vitest/vitest.mjs'), 'run', '--config', 'bench/vitest.window.config.ts'], { cwd: repo, env, stdio: 'inherit' });
process.exit(r.status ?? 1);
