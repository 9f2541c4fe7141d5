#!/usr/bin/env node
// The warm e2e window of this checkout against another commit's, measured side by side: the two
// checkouts' test/e2e/warm.test.ts run alternately (A, B, A, B, ...), each in a fresh lab, and the
// report's downtime window each prints is collected. Pairs cancel the machine's drift; the result
// is the median of each side and the median of the per-pair ratios.
//
//   node bench/window-vs.mjs [--base COMMIT | --base-dir DIR] [--pairs N] [--out FILE]
//
// The base commit is checked out into a temporary git worktree with this checkout's node_modules
// (linked) and built there; the worktree is removed at the end. --base-dir: an existing checkout
// of the base, used (and built) as it is, and kept.
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';

const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const { values } = parseArgs({ options: { base: { type: 'string', default: '46042cc' }, 'base-dir': { type: 'string' }, pairs: { type: 'string', default: '5' }, out: { type: 'string', default: path.join(ROOT, 'bench/results/window-vs.md') } } });
const baseDir = values['base-dir'] ? path.resolve(values['base-dir']) : null;
const pairs = Number(values.pairs);
const base = baseDir
  ? execFileSync('git', ['-C', baseDir, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim()
  : execFileSync('git', ['-C', ROOT, 'rev-parse', '--short', values.base], { encoding: 'utf8' }).trim();
const head = execFileSync('git', ['-C', ROOT, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
const dirty = execFileSync('git', ['-C', ROOT, 'status', '--porcelain', '--', 'src', 'generated', 'test'], { encoding: 'utf8' }).trim() !== '';

const other = baseDir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'migen-window-vs-'));
if (!baseDir) {
  execFileSync('git', ['-C', ROOT, 'worktree', 'add', '--detach', other, base], { stdio: 'ignore' });
  fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(other, 'node_modules'));
}
const npm = (cwd, args) => { const r = spawnSync('npm', args, { cwd, encoding: 'utf8' }); if (r.status !== 0) throw new Error(`${cwd}: npm ${args.join(' ')}: ${r.stderr}`); };
npm(other, ['run', 'build']);
npm(ROOT, ['run', 'build']);

/** One warm e2e run in a checkout: the report's window and the prober's outage, as the test prints them. */
function run(cwd) {
  const r = spawnSync('npx', ['vitest', 'run', 'test/e2e/warm.test.ts'], { cwd, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' }, timeout: 300_000 });
  const out = `${r.stdout}${r.stderr}`;
  const m = /downtime window \(report\) (\d+) ms; prober's longest outage (\d+) ms/.exec(out);
  if (r.status !== 0 || !m) return { ok: false, out: out.slice(-2000) };
  return { ok: true, window: Number(m[1]), outage: Number(m[2]) };
}

const median = (xs) => { const s = [...xs].sort((a, b) => a - b); const n = s.length; return n ? (n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2) : NaN; };
const rows = [];
try {
  for (let i = 0; i < pairs; i++) {
    const load = fs.readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
    // alternate which side goes first, so neither always runs on the warmer machine
    const [first, second] = i % 2 === 0 ? [['base', other], ['head', ROOT]] : [['head', ROOT], ['base', other]];
    const got = { [first[0]]: run(first[1]), [second[0]]: run(second[1]) };
    rows.push({ i: i + 1, load, base: got.base, head: got.head });
    console.log(`pair ${i + 1}: base ${got.base.ok ? `${got.base.window} ms` : 'FAILED'}, head ${got.head.ok ? `${got.head.window} ms` : 'FAILED'} (load ${load})`);
    for (const [k, v] of Object.entries(got)) if (!v.ok) console.log(`${k} failed:\n${v.out}`);
  }
} finally {
  if (!baseDir) spawnSync('git', ['-C', ROOT, 'worktree', 'remove', '--force', other]);
}

const ok = rows.filter((r) => r.base.ok && r.head.ok);
const ratios = ok.map((r) => r.head.window / r.base.window);
const lines = [
  `# Warm e2e window: ${head}${dirty ? ' (with uncommitted changes)' : ''} against ${base}`,
  '',
  `\`node bench/window-vs.mjs ${baseDir ? `--base-dir ${baseDir} (${base})` : `--base ${base}`} --pairs ${pairs}\` on ${new Date().toISOString().slice(0, 10)}: test/e2e/warm.test.ts (Vaultwarden o001 -> h002, writer and prober through o001's nginx) of each checkout, alternately, each in a fresh lab; the report's window (stop to the first successful verification) and the prober's longest outage.`,
  '',
  '| pair | load (1/5/15 min) | base window ms | head window ms | head/base | base outage ms | head outage ms |',
  '|---:|---|---:|---:|---:|---:|---:|',
  ...rows.map((r) => `| ${r.i} | ${r.load} | ${r.base.ok ? r.base.window : 'failed'} | ${r.head.ok ? r.head.window : 'failed'} | ${r.base.ok && r.head.ok ? (r.head.window / r.base.window).toFixed(2) : '-'} | ${r.base.ok ? r.base.outage : '-'} | ${r.head.ok ? r.head.outage : '-'} |`),
  '',
  `Medians over ${ok.length} complete pairs: base ${median(ok.map((r) => r.base.window))} ms, head ${median(ok.map((r) => r.head.window))} ms; median per-pair ratio head/base ${median(ratios).toFixed(2)} (target: at most 1.10). Outage medians: base ${median(ok.map((r) => r.base.outage))} ms, head ${median(ok.map((r) => r.head.outage))} ms.`,
  '',
];
fs.writeFileSync(values.out, lines.join('\n'));
console.log(lines.join('\n'));
process.exitCode = ok.length === pairs ? 0 : 1;
