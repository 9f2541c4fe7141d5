// `--dry-run`: every command in the order a successful run executes it, with its host; the undo
// commands apart. Nothing runs.
import type { RunbookDef } from '../runbook/def.js';
import { isPipe, scriptsOf, type Script } from '../runbook/steps.js';
import { lockHosts, lockScripts } from './lock.js';
import type { Out } from './output.js';
import { EXIT } from './types.js';

export function printScript(o: Out, s: Script): void {
  const parts = isPipe(s) ? s.pipe : [s];
  parts.forEach((p, i) => {
    const label = `${i > 0 ? '| ' : ''}${p.on}`;
    o.line(`  ${o.bold(label)}$ ${p.script.split('\n').join(`\n  ${' '.repeat(label.length)}  `)}`);
  });
}

export function dryRun(def: RunbookDef, o: Out, quote: (s: string) => string): number {
  const { acquire, release } = lockScripts(def, { run: 'RUN_ID', migration: def.name, since: 'SINCE', pid: 'PID', by: 'USER@MACHINE' }, quote);
  o.line(o.bold(`migen run ${def.name} --dry-run: every command, in order; nothing is run`));
  o.line(`\n-- lock (${lockHosts(def).join(', ')})`);
  for (const h of lockHosts(def)) printScript(o, acquire(h));
  let phase = '';
  def.steps.forEach((s, i) => {
    if (s.phase !== phase) { phase = s.phase; o.line(`\n-- ${phase}`); }
    o.line(`[${i + 1}] ${s.title}${s.window ? ' [downtime]' : ''}`);
    for (const sc of scriptsOf(s)) printScript(o, sc);
    if (s.kind === 'converge') o.line(o.dim(`  (the two commands above repeat until the second prints less than ${s.thresholdBytes}, at most ${s.maxPasses} times)`));
    if (s.kind === 'probe') o.line(o.dim(`  (retried every ${s.intervalSeconds} s for up to ${s.deadlineSeconds} s)`));
    if (s.kind === 'note') o.line(o.dim(`  (not run: ${s.text})`));
  });
  o.line(`\n-- unlock (${lockHosts(def).join(', ')})`);
  for (const h of lockHosts(def)) printScript(o, release(h));
  const undos = def.steps.filter((s) => s.undo).reverse();
  if (undos.length) {
    o.line('\n-- rollback, only if a step fails: the undo of every step that ran, newest first');
    for (const s of undos) printScript(o, s.undo!);
  }
  return EXIT.done;
}
