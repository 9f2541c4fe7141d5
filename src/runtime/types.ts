// What a run records and reports.

/** Exit codes: what happened, for scripts and CI (deploy-rs #214: a rollback is never "success"). */
export const EXIT = { done: 0, failed: 1, usage: 2, rolledBack: 3, rollbackFailed: 4, interrupted: 130 } as const;

export interface PassRecord { readonly pass: number; readonly movedBytes: number; readonly remainingBytes: number; readonly ms: number }
export interface StepRecord { readonly id: string; readonly phase: string; readonly title: string; readonly on: string; readonly status: 'done' | 'failed' | 'skipped' | 'undone' | 'undo-failed'; readonly ms: number }

export type Result = 'done' | 'failed' | 'rolled-back' | 'rollback-failed' | 'interrupted' | 'stopped';

export interface Report {
  readonly name: string;
  readonly runId: string;
  readonly result: Result;
  readonly message: string;
  readonly startedAt: string;
  readonly endedAt: string;
  readonly steps: readonly StepRecord[];
  readonly passes: readonly PassRecord[];
  readonly window: { readonly startedAt: string | null; readonly endedAt: string | null; readonly ms: number | null };
}

export type StepStatus = 'running' | 'done' | 'failed' | 'undone' | 'undo-failed';

/** The journal of a run (for --resume and --rollback), written after every step. */
export interface Journal {
  readonly runId: string;
  readonly name: string;
  readonly status: 'running' | 'done' | 'failed' | 'rolled-back';
  readonly startedAt: string;
  readonly steps: Readonly<Record<string, { readonly status: StepStatus; readonly ms: number }>>;
  readonly passes: readonly PassRecord[];
  readonly windowStart: number | null;
  readonly windowEnd: number | null;
  /** Set once the fleet steps were handed to the coordinator on this host (its journal lives there). */
  readonly fleet?: { readonly host: string; readonly runId: string };
}

export interface RunOptions {
  readonly dryRun: boolean;
  readonly resume: boolean;
  readonly rollbackOnly: boolean;
  readonly yes: boolean;
  readonly noRollback: boolean;
  readonly forwardAgent: boolean;
  /** Asks before the first step that stops a service; resolves true to go on. */
  readonly confirm: (question: string) => Promise<boolean>;
  readonly clock?: () => number;
  readonly sleep?: (ms: number) => Promise<void>;
  readonly signal?: AbortSignal;
}
