// The steps of a runbook: what the generator (plan/) produces and the runtime executes. Plain
// data, every command literal. Fields at their default are left out of a printed runbook
// (runbook/defaults.ts); the runtime reads a step through withDefaults().

export const PHASES = ['preflight', 'prepare', 'sync', 'cutover', 'verify', 'finalize'] as const;
export type Phase = (typeof PHASES)[number];

/** Where a script runs: a host name of the runbook, or 'operator' (the machine running migen). */
export type Where = string;

/** A bash script run on one host (with set -euo pipefail). */
export interface HostScript { readonly on: Where; readonly script: string }
/** The first script's standard output is the second's standard input: two processes, one per host. */
export interface PipeScript { readonly pipe: readonly [HostScript, HostScript] }
export type Script = HostScript | PipeScript;

export const isPipe = (s: Script): s is PipeScript => 'pipe' in s;

interface StepBase {
  readonly id: string;
  readonly phase: Phase;
  readonly title: string;
  /** Inside the downtime window (from the service's stop to the first successful verification). */
  readonly window?: boolean;
  /** Run in reverse order when a later step fails after the cutover started. */
  readonly undo?: Script | null;
  /** Stops a service: the runbook asks for confirmation (unless --yes) before the first such step. */
  readonly stopsService?: boolean;
  /** Its undo also runs when the step itself fails: it may have half-happened (a unit half started, a proxy half switched). */
  readonly undoOnFailure?: boolean;
  /** When its undo fails (its host out of reach), what that leaves behind is harmless: the rollback names this and goes on. */
  readonly undoLeftover?: string;
  /** A group name: consecutive steps of one phase with the same name run at the same time; the next step waits for all of them. */
  readonly concurrent?: string;
  /** Its scripts connect from one host to another (rsync, ssh): --forward-agent forwards the operator's agent to them. */
  readonly hostToHost?: boolean;
  /** Its output carries rsync's --info=progress2 lines: the runtime shows them as progress. */
  readonly progress?: boolean;
  /**
   * Run by the cutover coordinator on the new host (a transient systemd unit there), not by the
   * operator's machine: the contiguous steps from the stop to the confirmed, verified start, and
   * their rollback, finish or roll back even when the operator disappears.
   */
  readonly fleet?: boolean;
  /** Reaches its host over a new ssh connection, not a shared one (a confirmation proves the host is reachable now). */
  readonly freshConnection?: boolean;
  /** Once done, the coordinator touches this file on this host every few seconds until the run ends: a guard there reverts what the step did when the touches stop. */
  readonly heartbeat?: { readonly on: Where; readonly file: string };
}

/** Runs once; exit status 0 (or one of acceptExit) is success. */
export interface CommandStep extends StepBase { readonly kind: 'command'; readonly run: Script; readonly acceptExit?: readonly number[] }
/** Like a command, but a failure means "refuse to go on" and prints `failure`. */
export interface CheckStep extends StepBase { readonly kind: 'check'; readonly run: Script; readonly failure: string }
/** Runs `left` and `right` at once; `equal`: outputs identical; `fits`: number(left) * 1.1 <= number(right). */
export interface CompareStep extends StepBase { readonly kind: 'compare'; readonly mode: 'equal' | 'fits'; readonly left: Script; readonly right: Script; readonly failure: string }
/** Live copy passes: `run` then `measure` (prints the bytes a next pass would move) until below the threshold. */
export interface ConvergeStep extends StepBase {
  readonly kind: 'converge';
  readonly run: Script;
  readonly measure: Script;
  readonly acceptExit?: readonly number[];
  readonly thresholdBytes: number;
  readonly maxPasses: number;
  readonly bandwidthBytesPerSecond: number;
}
/** Retries `run` until it succeeds or the deadline passes; fatalExit codes fail at once. */
export interface ProbeStep extends StepBase {
  readonly kind: 'probe';
  readonly run: Script;
  readonly intervalSeconds: number;
  readonly deadlineSeconds: number;
  /** Its first success ends the downtime window. */
  readonly endsWindow?: boolean;
  readonly fatalExit?: readonly number[];
}
/**
 * What a person or another system must do, and the check that proves it was done: the runbook
 * runs `run` (the provider's command) when there is one, else prints `instruction` for a person;
 * then it retries `check` until it succeeds or the deadline passes. A DNS change, a DHCP option.
 */
export interface HandoffStep extends StepBase {
  readonly kind: 'handoff';
  readonly instruction: string;
  readonly run?: Script;
  readonly check: Script;
  readonly intervalSeconds: number;
  readonly deadlineSeconds: number;
  /** Its check's first success ends the downtime window. */
  readonly endsWindow?: boolean;
  /** What a person must do when its undo runs (the undo script then waits for it). */
  readonly undoInstruction?: string;
}
/** Something for the operator to do later (not executed by the runbook). */
export interface NoteStep extends StepBase { readonly kind: 'note'; readonly text: string }

export type Step = CommandStep | CheckStep | CompareStep | ConvergeStep | ProbeStep | HandoffStep | NoteStep;
export type StepKind = Step['kind'];

/** Every script a step runs, in the order a successful run executes them (its undo apart). */
export function scriptsOf(s: Step): Script[] {
  switch (s.kind) {
    case 'command': case 'check': case 'probe': return [s.run];
    case 'compare': return [s.left, s.right];
    case 'converge': return [s.run, s.measure];
    case 'handoff': return s.run ? [s.run, s.check] : [s.check];
    case 'note': return [];
  }
}

/** The hosts a script runs on, in order. */
export const hostsOfScript = (s: Script): Where[] => (isPipe(s) ? s.pipe.map((p) => p.on) : [s.on]);

/** Where a step runs, for progress lines and reports: "o001", "h001 | h002", "h001, h002", or "-". */
export function whereOf(s: Step): string {
  const scripts = scriptsOf(s);
  if (scripts.length === 0) return '-';
  return [...new Set(scripts.map((x) => hostsOfScript(x).join(' | ')))].join(', ');
}
