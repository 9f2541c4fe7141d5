#!/usr/bin/env node
// `npm run bench`: builds nothing (run `npm run build` first), runs every benchmark in bench/.
// Arguments are passed on, e.g. `npm run bench -- --runs 3`.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const r = spawnSync(process.execPath, [path.join(here, 'plan-scale.mjs'), ...process.argv.slice(2)], { stdio: 'inherit' });
process.exit(r.status ?? 1);
