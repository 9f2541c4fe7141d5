// The window ended on the fleet without success: what the coordinator's outcome means for the run.
import type { Step } from '../runbook/steps.js';
import type { FleetResult } from './fleet-run.js';
import { doneUndos, dryUndo } from './rollback.js';
import { RunState, StepFailure } from './state.js';
import type { Result } from './types.js';

/** The coordinator on the fleet ended the window without success (it rolled back by itself, or could not). */
export class FleetEnded extends StepFailure {
  constructor(step: Step, readonly result: Exclude<FleetResult, 'done'>, message: string) { super(step, message); }
}

/** The coordinator's own outcome (it rolled back by itself, or could not, or was told not to, or vanished). */
export function fleetEnded(r: RunState, e: FleetEnded): { result: Result; message: string; keepRunning?: boolean } {
  const host = r.journal.fleet?.host ?? r.def.to;
  switch (e.result) {
    case 'rolled-back': return { result: 'rolled-back', message: `rolled back on ${host}: ${e.message}` };
    case 'rollback-failed': return { result: 'rollback-failed', message: `the rollback on ${host} is incomplete: ${e.message}` };
    case 'detached': return { result: 'interrupted', message: e.message, keepRunning: true };
    case 'lost': r.out.err(r.out.red(`\n${e.message}`)); return { result: 'failed', message: e.message, keepRunning: true };
    default: {
      r.out.err(r.out.red(`\nthe cutover on ${host} failed and was not rolled back (--no-rollback): ${e.message}\nTo undo by hand, in this order:`));
      for (const x of doneUndos(r)) dryUndo(r, x);
      return { result: 'failed', message: `failed on ${host} (no rollback): ${e.message}`, keepRunning: true };
    }
  }
}
