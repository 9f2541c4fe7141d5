// How a run ends when its window ended on the fleet without success: the coordinator rolled back
// by itself, could not, was told not to (--no-rollback), or cannot be reached.
import type { Step } from '../runbook/steps.js';
import type { FleetResult } from './fleet-run.js';
import { doneUndos } from './rollback.js';
import { RunState, StepFailure } from './state.js';
import type { Result } from './types.js';

/** The coordinator on the fleet ended the window without success (it rolled back by itself, or could not). */
export class FleetEnded extends StepFailure {
  constructor(step: Step, readonly result: Exclude<FleetResult, 'done'>, message: string) { super(step, message); }
}

/** An undo as the operator would type it. */
export function dryUndo(r: RunState, s: Step): void {
  const u = s.undo!;
  const parts = 'on' in u ? [u] : u.pipe;
  r.out.err(`  ${parts.map((p) => `${p.on}$ ${p.script}`).join('\n  | ')}`);
}

/** The window ended on the fleet: the coordinator's own outcome. */
export function fleetEnded(r: RunState, e: FleetEnded): { result: Result; message: string; keepRunning?: boolean } {
  const host = r.journal.fleet?.host ?? r.def.to;
  switch (e.result) {
    case 'rolled-back': return { result: 'rolled-back', message: `rolled back on ${host}: ${e.message}` };
    case 'rollback-failed': return { result: 'rollback-failed', message: `the rollback on ${host} is incomplete: ${e.message}` };
    case 'detached': return { result: 'interrupted', message: e.message, keepRunning: true };
    default: {
      r.out.err(r.out.red(`\nthe cutover on ${host} failed and was not rolled back (--no-rollback): ${e.message}\nTo undo by hand, in this order:`));
      for (const x of doneUndos(r)) dryUndo(r, x);
      return { result: 'failed', message: `failed on ${host} (no rollback): ${e.message}`, keepRunning: true };
    }
  }
}
