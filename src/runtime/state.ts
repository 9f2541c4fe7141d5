// The state of one run, shared by its parts (engine, perform, rollback, report): the journal,
// the step records, the copy passes.
import type { RunbookDef } from '../runbook/def.js';
import type { Step } from '../runbook/steps.js';
import type { Executor, ExecResult } from './executor.js';
import type { JournalStore } from './journal.js';
import type { Out } from './output.js';
import type { Journal, PassRecord, RunOptions, StepRecord, StepStatus } from './types.js';

export class StepFailure extends Error {
  constructor(readonly step: Step, message: string, readonly interrupted = false) { super(message); }
}

/** The last lines of what a failed script printed. */
export const tail = (r: ExecResult): string => (r.stderr.trim() || r.stdout.trim()).split('\n').slice(-8).join('\n');

export class RunState {
  readonly clock: () => number;
  readonly sleep: (ms: number) => Promise<void>;
  journal!: Journal;
  readonly records: StepRecord[] = [];
  passes: PassRecord[] = [];

  constructor(readonly def: RunbookDef, readonly exec: Executor, readonly store: JournalStore, readonly out: Out, readonly opts: RunOptions, readonly quote: (s: string) => string) {
    this.clock = opts.clock ?? Date.now;
    this.sleep = opts.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms)));
  }

  now(): string { return new Date(this.clock()).toISOString(); }
  save(): void { this.store.save(this.journal); }

  setStep(id: string, status: StepStatus, ms: number): void {
    this.journal = { ...this.journal, steps: { ...this.journal.steps, [id]: { status, ms } }, passes: this.passes };
    this.save();
  }

  markWindow(kind: 'start' | 'end', at: number): void {
    if (kind === 'start' && this.journal.windowStart === null) this.journal = { ...this.journal, windowStart: at };
    if (kind === 'end') this.journal = { ...this.journal, windowEnd: at };
  }

  get aborted(): boolean { return this.opts.signal?.aborted ?? false; }
}
