// `migen run --all MANIFEST... [--from HOST]`: every planned migration of those manifests (a host
// evacuated in one command), in the plan's order, each as its own `migen run NAME` (its own lock,
// journal, window and rollback), their output prefixed with their names; the first failure stops
// what has not started yet.
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline/promises';
import { flag, str, type Parsed } from '../args.js';
import { ROOT } from '../artifacts.js';
import { UserError } from '../errors.js';
import { rel } from '../generator/load/inputs.js';
import { runGroups } from './schedule.js';
import { select, type LastRun, type PlanFile } from './select.js';

const MIGEN = path.join(ROOT, 'bin/migen.js');

function readPlans(out: string): PlanFile[] {
  const dir = path.join(out, 'plans');
  if (!existsSync(dir)) throw new UserError('E_RUN', `${dir}: no generated plans; run migen generate MANIFEST... first`);
  return readdirSync(dir).filter((f) => f.endsWith('.json')).sort().map((f) => JSON.parse(readFileSync(path.join(dir, f), 'utf8')) as PlanFile);
}

function lastRunIn(root: string): (name: string) => LastRun {
  return (name) => {
    const f = path.join(root, '.migen', name, 'journal.json');
    if (!existsSync(f)) return null;
    const j = JSON.parse(readFileSync(f, 'utf8')) as { status: string; runId: string };
    return { status: j.status, runId: j.runId };
  };
}

/** One `migen run NAME`, its lines prefixed; resolves with its exit code. */
function runOne(name: string, args: readonly string[], width: number): Promise<number> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [MIGEN, 'run', name, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    const tag = `[${name}]`.padEnd(width + 2);
    for (const [from, to] of [[child.stdout!, process.stdout], [child.stderr!, process.stderr]] as const) {
      let rest = '';
      from.setEncoding('utf8').on('data', (d: string) => {
        const lines = (rest + d).split('\n');
        rest = lines.pop()!;
        for (const l of lines) to.write(`${tag} ${l}\n`);
      }).on('end', () => { if (rest) to.write(`${tag} ${rest}\n`); });
    }
    child.on('error', (e) => { process.stderr.write(`${tag} cannot start: ${e.message}\n`); resolve(1); });
    child.on('close', (code, sig) => resolve(code ?? (sig ? 128 : 1)));
  });
}

export async function runAllCommand(a: Parsed): Promise<number> {
  const manifests = a.positionals.map(rel);
  if (manifests.length === 0) throw new UserError('E_USAGE', 'migen run --all needs the MANIFEST files whose migrations to run, e.g. migen run --all examples/homelab/migrations/forgejo.yaml examples/homelab/migrations/zitadel.yaml');
  for (const f of ['resume', 'rollback', 'runbook'] as const) if (a.values[f] !== undefined) throw new UserError('E_USAGE', `--${f} applies to one migration: migen run NAME --${f}`);
  const out = str(a.values, 'out') ?? 'generated';
  const root = path.resolve(str(a.values, 'root') ?? '.');
  let sel;
  try { sel = select(readPlans(out), manifests, lastRunIn(root), str(a.values, 'from') ?? null); } catch (e) { throw new UserError('E_RUN', (e as Error).message); }
  const { groups, waits } = sel.order;
  process.stdout.write(`migen run --all: ${groups.flat().length} migration(s) in ${groups.length} group(s), one group after another, a group's migrations at once\n`);
  groups.forEach((g, i) => process.stdout.write(`  ${i + 1}. ${g.join(', ')}${g.filter((n) => waits[n]).map((n) => `\n       ${n}: ${waits[n]}`).join('')}\n`));
  for (const s of sel.skipped) process.stdout.write(`  skipped ${s.name}: ${s.why}\n`);
  if (groups.flat().length === 0) return 0;
  const dry = flag(a.values, 'dry-run');
  if (!dry && !flag(a.values, 'yes')) {
    if (!process.stdin.isTTY) { process.stderr.write('migen: not on a terminal: pass --yes to run the migrations (each stops its service during its window)\n'); return 1; }
    const rl = createInterface({ input: process.stdin, output: process.stdout });
    const go = await rl.question('Each of them stops its service during its downtime window. Run them? [y/N] ').finally(() => rl.close());
    if (!/^y(es)?$/i.test(go.trim())) { process.stderr.write('migen: nothing run\n'); return 1; }
  }
  const pass = (['out', 'root', 'ssh-config'] as const).flatMap((k) => (str(a.values, k) ? [`--${k}`, str(a.values, k)!] : []));
  const flags = (['dry-run', 'no-rollback', 'forward-agent'] as const).filter((k) => flag(a.values, k)).map((k) => `--${k}`);
  const args = [...pass, ...flags, ...(dry ? [] : ['--yes'])];
  const width = Math.max(...groups.flat().map((n) => n.length));
  // Each child handles Ctrl-C itself (it finishes safely, rolling back a started window): wait for them.
  const ignore = (): void => { process.stderr.write('\nmigen: interrupted: the running migrations finish safely; nothing else starts\n'); };
  process.on('SIGINT', ignore);
  let interrupted = false;
  const onInt = (): void => { interrupted = true; };
  process.on('SIGINT', onInt);
  try {
    // A dry run prints each runbook in order, one after the other.
    const r = await runGroups(dry ? groups.flat().map((n) => [n]) : groups, (name) => (interrupted ? Promise.resolve(130) : runOne(name, args, width)));
    process.stdout.write('\nmigen run --all:\n');
    for (const x of r.results) process.stdout.write(`  ${x.name}: ${x.code === 0 ? 'done' : `failed (exit ${x.code})`}\n`);
    for (const n of r.notStarted) process.stdout.write(`  ${n}: not started\n`);
    return r.results.find((x) => x.code !== 0)?.code ?? 0;
  } finally {
    process.off('SIGINT', ignore);
    process.off('SIGINT', onInt);
  }
}
