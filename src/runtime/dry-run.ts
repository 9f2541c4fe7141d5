// `--dry-run`: every command in the order a successful run executes it, with its host; the undo
// commands apart. Nothing runs.
import { GUARD_SECONDS, type RunbookDef } from '../runbook/def.js';
import { isPipe, scriptsOf, type Script } from '../runbook/steps.js';
import { bundleDir, cutoverUnit, fleetRange } from './fleet.js';
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
  const fleet = fleetRange(def);
  def.steps.forEach((s, i) => {
    if (fleet && i === fleet[0]) {
      o.line(`\n-- handover: steps ${fleet[0] + 1}-${fleet[1] + 1} and their rollback run on ${def.to}, by the cutover coordinator (a transient unit, systemd-run --unit=${cutoverUnit(def)}); this machine follows its journal and may disconnect`);
      printScript(o, { on: def.to, script: `# write ${bundleDir(def, 'RUN_ID')}/{coordinator.sh,config,hosts,steps,...}: the steps below and their undos\nsystemd-run --unit=${cutoverUnit(def)} --collect --property=Restart=on-failure bash ${bundleDir(def, 'RUN_ID')}/coordinator.sh ${bundleDir(def, 'RUN_ID')}` });
    }
    if (s.phase !== phase) { phase = s.phase; o.line(`\n-- ${phase}`); }
    o.line(`[${i + 1}] ${s.title}${s.window ? ' [downtime]' : ''}`);
    for (const sc of scriptsOf(s)) printScript(o, sc);
    if (s.kind === 'converge') o.line(o.dim(`  (the two commands above repeat until the second prints less than ${s.thresholdBytes}, at most ${s.maxPasses} times)`));
    if (s.kind === 'probe') o.line(o.dim(`  (retried every ${s.intervalSeconds} s for up to ${s.deadlineSeconds} s)`));
    if (s.kind === 'handoff') o.line(o.dim(`  (${s.run ? `the provider's command (first) does this: ${s.instruction}` : `a person does this, the runbook prints it: ${s.instruction}`}; then the check (last) is retried every ${s.intervalSeconds} s for up to ${s.deadlineSeconds} s)`));
    if (s.kind === 'note') o.line(o.dim(`  (not run: ${s.text})`));
    if (s.fleet) o.line(o.dim(`  (run by the coordinator on ${def.to}${s.freshConnection ? ', over a new ssh connection' : ''})`));
    if (s.heartbeat) o.line(o.dim(`  (from here the coordinator touches ${s.heartbeat.file} on ${s.heartbeat.on} every 5 s; without it for ${GUARD_SECONDS} s the guard there reverts)`));
    if (fleet && i === fleet[1]) o.line(`\n-- end of the coordinator's steps: the rest runs from this machine`);
  });
  o.line(`\n-- unlock (${lockHosts(def).join(', ')})`);
  for (const h of lockHosts(def)) printScript(o, release(h));
  const undos = def.steps.filter((s) => s.undo).reverse();
  if (undos.length) {
    o.line('\n-- rollback, only if a step fails: the undo of every step that ran, newest first');
    for (const s of undos) {
      if (s.kind === 'handoff' && s.undoInstruction) o.line(o.dim(`  (a person: ${s.undoInstruction})`));
      printScript(o, s.undo!);
    }
  }
  return EXIT.done;
}
