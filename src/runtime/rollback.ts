// Automatic rollback: the undo of every step that ran, newest first; of a failed step too when it
// may have half-happened (undoOnFailure).
import { withDefaults } from '../runbook/defaults.js';
import { hostsOfScript, type Step } from '../runbook/steps.js';
import { RunState, tail } from './state.js';

/** Undos to run, newest first; one that failed before (its host out of reach, say) is tried again. */
export function doneUndos(r: RunState): Step[] {
  return r.def.steps.filter((s) => {
    const st = r.journal.steps[s.id]?.status;
    return s.undo && (st === 'done' || st === 'undo-failed' || (withDefaults(s).undoOnFailure && (st === 'failed' || st === 'running')));
  }).reverse();
}

/** Runs the undos; stops at the first that fails, unless what it leaves is harmless (undoLeftover). True when nothing else failed. */
export async function rollback(r: RunState): Promise<boolean> {
  for (const s of doneUndos(r)) {
    const started = r.clock();
    if (s.kind === 'handoff' && s.undoInstruction) r.out.line(r.out.yellow(`  ACTION NEEDED (rollback): ${s.undoInstruction}`));
    const res = await r.exec.run(s.undo!);
    const on = hostsOfScript(s.undo!).join(' | ');
    const status = res.code === 0 ? 'undone' : 'undo-failed';
    r.records.push({ id: s.id, phase: 'rollback', title: `undo: ${s.title}`, on, status, ms: r.clock() - started });
    r.setStep(s.id, status, r.clock() - started);
    r.out.line(`  undo ${s.id} on ${on}: ${res.code === 0 ? r.out.green('ok') : r.out.red(`failed: ${tail(res)}`)}`);
    // What an undo has to say (where it kept something, how to reach it) reaches the operator.
    if (res.code === 0 && res.stdout.trim()) for (const l of res.stdout.trim().split('\n').slice(-8)) r.out.line(`    ${l}`);
    if (res.code !== 0 && s.undoLeftover) { r.out.line(r.out.yellow(`    left behind on ${on} (harmless): ${s.undoLeftover}`)); continue; }
    if (res.code !== 0) return false;
  }
  return true;
}

/** An undo as the operator would type it. */
export function dryUndo(r: RunState, s: Step): void {
  const u = s.undo!;
  const parts = 'on' in u ? [u] : u.pipe;
  r.out.err(`  ${parts.map((p) => `${p.on}$ ${p.script}`).join('\n  | ')}`);
}
