#!/usr/bin/env node
// bench/plan-scale: times `migen plan` and `migen generate` as whole processes on synthetic fleets
// (bench/lib/fleet.mjs) of 10, 100 and 1,000 hosts with 1, 10 and 100 migrations, plus `migen
// --help` and `migen plan` on the example, the latter interleaved with `node -e 0` (the target is
// relative to Node's own start on the same machine). Reports the median wall time and the median peak RSS
// of the child process per case, and growth ratios between sizes; writes bench/results/plan-scale.md.
//
//   npm run build && node bench/plan-scale.mjs [--runs N] [--hosts 10,100,1000] [--migrations 1,10,100] [--no-split] [--out FILE]
//
// Peak RSS is the child's own maximum resident set: GNU time's %M (/usr/bin/time), else the
// child's process.resourceUsage().maxRSS reported at exit through a preloaded probe.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeFleet } from './lib/fleet.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const BIN = path.join(ROOT, 'bin/migen.js');

function option(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i === -1 ? fallback : process.argv[i + 1];
}
const RUNS = Number(option('runs', '5'));
const HOSTS = option('hosts', '10,100,1000').split(',').map(Number);
const COUNTS = option('migrations', '1,10,100').split(',').map(Number);
const SPLIT = !process.argv.includes('--no-split');
const OUT = path.resolve(option('out', path.join(ROOT, 'bench/results/plan-scale.md')));
const TARGETS = { plan: 2000, generate: 5000, small: 300, overNode: 150 };

if (!existsSync(path.join(ROOT, 'dist/cli.js'))) { console.error('bench: dist/ is missing; run npm run build first'); process.exit(1); }

const GNU_TIME = existsSync('/usr/bin/time') && (await probeGnuTime());
async function probeGnuTime() {
  const dir = mkdtempSync(path.join(tmpdir(), 'migen-bench-'));
  try {
    const r = await exec('/usr/bin/time', ['-f', '%M', '-o', path.join(dir, 'rss'), 'true'], {});
    return r.code === 0 && /^\d+\s*$/.test(readFileSync(path.join(dir, 'rss'), 'utf8'));
  } catch { return false; } finally { rmSync(dir, { recursive: true, force: true }); }
}
const PROBE = path.join(tmpdir(), `migen-bench-rss-probe-${process.pid}.mjs`);
writeFileSync(PROBE, "import { writeFileSync } from 'node:fs';\nprocess.on('exit', () => { if (process.env.MIGEN_BENCH_RSS) writeFileSync(process.env.MIGEN_BENCH_RSS, String(process.resourceUsage().maxRSS)); });\n");

function exec(cmd, args, opts) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { ...opts, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = 0; let stderr = '';
    child.stdout.on('data', (d) => { stdout += d.length; });
    child.stderr.on('data', (d) => { stderr += d; });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdoutBytes: stdout, stderr }));
  });
}

/** One whole-process run: wall ms (spawn to exit, measured here) and peak RSS in KiB. `bare`: run `node ARGS` instead of migen. */
async function measure(args, cwd, bare = false) {
  const dir = mkdtempSync(path.join(tmpdir(), 'migen-bench-'));
  const rssFile = path.join(dir, 'rss');
  try {
    const [cmd, argv, env] = GNU_TIME
      ? ['/usr/bin/time', ['-f', '%M', '-o', rssFile, process.execPath, ...(bare ? [] : [BIN]), ...args], process.env]
      : [process.execPath, ['--import', PROBE, ...(bare ? [] : [BIN]), ...args], { ...process.env, MIGEN_BENCH_RSS: rssFile }];
    const t0 = process.hrtime.bigint();
    const r = await exec(cmd, argv, { cwd, env });
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    const rss = Number(readFileSync(rssFile, 'utf8').trim().split('\n').pop());
    return { ms, rssKiB: rss, code: r.code, stderr: r.stderr, stdoutBytes: r.stdoutBytes };
  } finally { rmSync(dir, { recursive: true, force: true }); }
}

const median = (xs) => { const s = [...xs].sort((a, b) => a - b); const m = s.length >> 1; return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2; };

/** RUNS measured runs after one warm-up; `before` runs ahead of each (not timed). */
async function series(label, args, cwd, okCodes, before = () => {}) {
  const runs = [];
  for (let i = 0; i <= RUNS; i++) {
    before();
    const r = await measure(args, cwd);
    if (!okCodes.includes(r.code)) throw new Error(`${label}: exit ${r.code}\n${r.stderr.slice(0, 2000)}`);
    if (i > 0) runs.push(r);
  }
  const res = { label, ms: median(runs.map((r) => r.ms)), min: Math.min(...runs.map((r) => r.ms)), max: Math.max(...runs.map((r) => r.ms)), rssMiB: median(runs.map((r) => r.rssKiB)) / 1024 };
  process.stderr.write(`  ${label}: ${res.ms.toFixed(0)} ms (${res.min.toFixed(0)}-${res.max.toFixed(0)}), ${res.rssMiB.toFixed(0)} MiB\n`);
  return res;
}

/** `node -e 0` and the command in turn, PAIRS times after a warm-up of each: medians and the median of the per-pair difference. */
async function versusNode(label, args, cwd, okCodes, pairs) {
  const node = []; const cmd = []; const diff = [];
  for (let i = 0; i <= pairs; i++) {
    const a = await measure(['-e', '0'], cwd, true);
    const b = await measure(args, cwd);
    if (!okCodes.includes(b.code)) throw new Error(`${label}: exit ${b.code}\n${b.stderr.slice(0, 2000)}`);
    if (i === 0) continue;
    node.push(a.ms); cmd.push(b.ms); diff.push(b.ms - a.ms);
  }
  const res = { label, ms: median(cmd), min: Math.min(...cmd), max: Math.max(...cmd), nodeMs: median(node), overMs: median(diff), pairs, rssMiB: 0 };
  process.stderr.write(`  ${label}: ${res.ms.toFixed(0)} ms; node -e 0: ${res.nodeMs.toFixed(0)} ms; per pair +${res.overMs.toFixed(0)} ms (median of ${pairs})\n`);
  return res;
}

const fmtMs = (x) => (x >= 1000 ? `${(x / 1000).toFixed(2)} s` : `${x.toFixed(0)} ms`);
const fmtBytes = (b) => (b >= 1 << 20 ? `${(b / (1 << 20)).toFixed(1)} MiB` : `${(b / 1024).toFixed(0)} KiB`);

const work = mkdtempSync(path.join(tmpdir(), 'migen-plan-scale-'));
const rows = [];
try {
  process.stderr.write(`bench/plan-scale: ${RUNS} runs per case (+1 warm-up), medians; peak RSS via ${GNU_TIME ? '/usr/bin/time %M' : 'process.resourceUsage() probe'}\n`);
  const help = await series('migen --help', ['--help'], ROOT, [0]);
  // The example plan diffs against the repository's generated/; it writes nothing.
  const example = await series('migen plan examples/homelab/migrations/forgejo.yaml', ['plan', 'examples/homelab/migrations/forgejo.yaml'], ROOT, [0, 2]);
  const vsNode = await versusNode('migen plan examples/homelab/migrations/forgejo.yaml', ['plan', 'examples/homelab/migrations/forgejo.yaml'], ROOT, [0, 2], Math.max(RUNS, 21));

  for (const hosts of HOSTS) {
    for (const count of COUNTS) {
      for (const layout of count > 1 && SPLIT ? ['single', 'split'] : ['single']) {
        const dir = path.join(work, `${hosts}h-${count}m-${layout}`);
        const { manifests, inventoryBytes } = writeFleet(dir, { hosts, count, layout });
        const manifestBytes = manifests.reduce((n, f) => n + readFileSync(path.join(dir, f)).length, 0);
        const common = [...manifests, '--inventory', 'inventory.json', '--out', 'out'];
        const name = `${hosts} hosts, ${count} migration${count > 1 ? 's' : ''}, ${layout === 'single' ? '1 manifest' : `${manifests.length} manifests`}`;
        process.stderr.write(`${name} (inventory ${fmtBytes(inventoryBytes)}, manifests ${fmtBytes(manifestBytes)})\n`);
        const plan = await series('plan --format json', ['plan', ...common, '--format', 'json'], dir, [0, 2]);
        const gen = await series('generate', ['generate', ...common], dir, [0], () => rmSync(path.join(dir, 'out'), { recursive: true, force: true }));
        const files = readFileSync(path.join(dir, 'out/migen.sum'), 'utf8').split('\n').filter((l) => l.startsWith('file ')).length + 1;
        rows.push({ hosts, count, layout, manifests: manifests.length, inventoryBytes, files, plan, gen });
        rmSync(dir, { recursive: true, force: true });
      }
    }
  }

  // Markdown report.
  const cpu = cpus()[0]?.model ?? 'unknown CPU';
  const lines = [];
  lines.push('# bench/plan-scale results', '');
  lines.push(`Node ${process.version}, ${cpus().length} × ${cpu}; ${RUNS} runs per case after one warm-up; medians of whole-process wall time (spawn to exit) and of the child's peak RSS (${GNU_TIME ? 'GNU time %M' : 'process.resourceUsage().maxRSS'}). Generated by \`node bench/plan-scale.mjs\` on ${new Date().toISOString().slice(0, 10)}.`, '');
  lines.push('| command | median | min–max | peak RSS | target |', '|---|---:|---:|---:|---|');
  for (const r of [help, example]) lines.push(`| \`${r.label}\` | ${fmtMs(r.ms)} | ${fmtMs(r.min)}–${fmtMs(r.max)} | ${r.rssMiB.toFixed(0)} MiB | < ${TARGETS.small} ms: ${r.ms < TARGETS.small ? 'met' : 'MISSED'} |`);
  lines.push('', `Interleaved with \`node -e 0\` (${vsNode.pairs} pairs after a warm-up): \`migen plan\` on the example ${fmtMs(vsNode.ms)}, \`node -e 0\` ${fmtMs(vsNode.nodeMs)}, median difference per pair ${fmtMs(vsNode.overMs)} (target: within ${TARGETS.overNode} ms of \`node -e 0\`: ${vsNode.overMs < TARGETS.overNode ? 'met' : 'MISSED'}).`, '');
  lines.push('Synthetic fleets (bench/lib/fleet.mjs): per 10 hosts one nginx proxy/Prometheus host (~80 vhosts, ~27 scrape targets) and nine backends with ~12 services each (forgejo and zitadel containers, vaultwarden, headscale, adguardhome, PostgreSQL, restic jobs, 7 custom apps with users, secrets, vhosts). Migrations mix all presets and custom services, cold/warm/hot, explicit and default domains, backups from the manifest, the inventory or none, 1 in 10 done.', '');
  lines.push('| hosts | migrations | manifests | inventory | files written | plan median | plan RSS | generate median | generate RSS |', '|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const r of rows) {
    lines.push(`| ${r.hosts} | ${r.count} | ${r.manifests} | ${fmtBytes(r.inventoryBytes)} | ${r.files} | ${fmtMs(r.plan.ms)} | ${r.plan.rssMiB.toFixed(0)} MiB | ${fmtMs(r.gen.ms)} | ${r.gen.rssMiB.toFixed(0)} MiB |`);
  }
  lines.push('');
  // Growth: ×10 hosts at a fixed migration count, ×10 migrations at a fixed host count (single manifest).
  const find = (h, c, l = 'single') => rows.find((r) => r.hosts === h && r.count === c && r.layout === l);
  const growth = [];
  for (const c of COUNTS) for (let i = 1; i < HOSTS.length; i++) {
    const a = find(HOSTS[i - 1], c); const b = find(HOSTS[i], c);
    if (a && b) growth.push([`hosts ${HOSTS[i - 1]} → ${HOSTS[i]} (×${HOSTS[i] / HOSTS[i - 1]}), ${c} migration(s)`, a, b]);
  }
  for (const h of HOSTS) for (let i = 1; i < COUNTS.length; i++) {
    const a = find(h, COUNTS[i - 1]); const b = find(h, COUNTS[i]);
    if (a && b) growth.push([`migrations ${COUNTS[i - 1]} → ${COUNTS[i]} (×${COUNTS[i] / COUNTS[i - 1]}), ${h} hosts`, a, b]);
  }
  // Marginal cost: time above the fixed cost of starting migen (the 1-migration/10-host case).
  const base = find(HOSTS[0], COUNTS[0]);
  lines.push('Growth between sizes (ratio of medians; in parentheses the ratio of the time above the smallest case, i.e. without the fixed start-up cost):', '');
  lines.push('| step | plan | generate | plan RSS | generate RSS |', '|---|---:|---:|---:|---:|');
  const above = (x, y, b) => ((y - b) > 0 && (x - b) > 0 ? ` (×${((y - b) / (x - b)).toFixed(1)})` : '');
  for (const [label, a, b] of growth) {
    lines.push(`| ${label} | ×${(b.plan.ms / a.plan.ms).toFixed(2)}${above(a.plan.ms, b.plan.ms, base.plan.ms)} | ×${(b.gen.ms / a.gen.ms).toFixed(2)}${above(a.gen.ms, b.gen.ms, base.gen.ms)} | ×${(b.plan.rssMiB / a.plan.rssMiB).toFixed(2)} | ×${(b.gen.rssMiB / a.gen.rssMiB).toFixed(2)} |`);
  }
  lines.push('');
  const big = find(1000, 100) ?? null;
  const bigSplit = find(1000, 100, 'split') ?? null;
  lines.push('Targets:', '');
  lines.push(`- \`migen --help\` < ${TARGETS.small} ms: ${help.ms < TARGETS.small ? 'met' : 'MISSED'} (${fmtMs(help.ms)})`);
  lines.push(`- \`migen plan\` on the example within ${TARGETS.overNode} ms of \`node -e 0\`: ${vsNode.overMs < TARGETS.overNode ? 'met' : 'MISSED'} (+${fmtMs(vsNode.overMs)}, median of ${vsNode.pairs} interleaved pairs; ${fmtMs(example.ms)} in all)`);
  for (const r of [big, bigSplit].filter(Boolean)) {
    const what = r.layout === 'single' ? 'one manifest' : `${r.manifests} manifests`;
    lines.push(`- 1,000 hosts + 100 migrations (${what}) planned < ${TARGETS.plan / 1000} s: ${r.plan.ms < TARGETS.plan ? 'met' : 'MISSED'} (${fmtMs(r.plan.ms)}); generated < ${TARGETS.generate / 1000} s: ${r.gen.ms < TARGETS.generate ? 'met' : 'MISSED'} (${fmtMs(r.gen.ms)})`);
  }
  const md = `${lines.join('\n')}\n`;
  mkdirSync(path.dirname(OUT), { recursive: true });
  writeFileSync(OUT, md);
  process.stdout.write(md);
  process.stderr.write(`wrote ${path.relative(process.cwd(), OUT)}\n`);
} finally {
  rmSync(work, { recursive: true, force: true });
  rmSync(PROBE, { force: true });
}
