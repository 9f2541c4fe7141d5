#!/usr/bin/env node
// Compares what two builds of migen write and print for the example fleet and synthetic fleets:
// the guard for performance changes that must keep output byte-identical.
//
//   node bench/same-output.mjs OTHER_ROOT [THIS_ROOT]
//
// OTHER_ROOT is another checkout (built, with node_modules), e.g. a `git worktree` of the base
// commit. Exit 0 when every generated file and every `plan --format json|text` output is equal.
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeFleet } from './lib/fleet.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const [otherArg, thisArg] = process.argv.slice(2);
if (!otherArg) { console.error('usage: node bench/same-output.mjs OTHER_ROOT [THIS_ROOT]'); process.exit(64); }
const roots = [path.resolve(otherArg), path.resolve(thisArg ?? path.join(here, '..'))];

const CASES = [
  { hosts: 10, count: 100, layout: 'single' },
  { hosts: 100, count: 100, layout: 'single' },
  { hosts: 100, count: 10, layout: 'split' },
  { hosts: 30, count: 30, layout: 'split' },
];

function tree(dir) {
  const out = {};
  const walk = (d) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p); else out[path.relative(dir, p)] = readFileSync(p, 'utf8');
    }
  };
  walk(dir);
  return out;
}

function run(root, cwd, args) {
  const r = spawnSync(process.execPath, [path.join(root, 'bin/migen.js'), ...args], { cwd, encoding: 'utf8', maxBuffer: 1 << 30 });
  return `exit ${r.status}\n${r.stdout}\n--- stderr\n${r.stderr}`;
}

let failures = 0;
const compare = (label, a, b) => {
  if (a === b) return;
  failures++;
  console.log(`DIFFERS: ${label}`);
};

function outputs(root, dir, manifests, extra) {
  const res = {};
  for (const format of ['json', 'text']) res[`plan --format ${format}`] = run(root, dir, ['plan', ...manifests, ...extra, '--format', format, '--out', 'out']);
  res.generate = run(root, dir, ['generate', ...manifests, ...extra, '--out', 'out']);
  for (const [p, c] of Object.entries(tree(path.join(dir, 'out')))) res[`out/${p}`] = c;
  rmSync(path.join(dir, 'out'), { recursive: true, force: true });
  return res;
}

const work = mkdtempSync(path.join(tmpdir(), 'migen-same-'));
try {
  // The example fleet, as the tests use it (a copy, so generated/ in the repository is untouched).
  const ex = path.join(work, 'example');
  cpSync(path.join(roots[1], 'examples/homelab/migrations'), path.join(ex, 'm/migrations'), { recursive: true });
  cpSync(path.join(roots[1], 'examples/homelab/inventory.json'), path.join(ex, 'm/inventory.json'));
  const exManifests = readdirSync(path.join(ex, 'm/migrations')).sort().map((f) => `m/migrations/${f}`);
  const [a, b] = roots.map((r) => outputs(r, ex, exManifests, []));
  for (const k of new Set([...Object.keys(a), ...Object.keys(b)])) compare(`example ${k}`, a[k], b[k]);
  let n = Object.keys(a).length;
  for (const c of CASES) {
    const dir = path.join(work, `${c.hosts}h-${c.count}m-${c.layout}`);
    const { manifests } = writeFleet(dir, c);
    const [x, y] = roots.map((r) => outputs(r, dir, manifests, ['--inventory', 'inventory.json']));
    for (const k of new Set([...Object.keys(x), ...Object.keys(y)])) compare(`${path.basename(dir)} ${k}`, x[k], y[k]);
    n += Object.keys(x).length;
  }
  console.log(failures ? `${failures} of ${n} outputs differ` : `all ${n} outputs identical (${roots.join(' vs ')})`);
} finally {
  rmSync(work, { recursive: true, force: true });
}
process.exit(failures ? 1 : 0);
