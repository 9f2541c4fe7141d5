import type { Strategy, Status, SyncMode, DeployTool, VerifyCheck } from '../types.js';

export const PHASES = ['preflight', 'prepare', 'sync', 'cutover', 'verify', 'finalize'] as const;
export type Phase = (typeof PHASES)[number];

/** Where a script runs: a host name of the inventory, or the operator's machine. */
export type Where = string;

export interface Script { readonly on: Where; readonly script: string }

interface StepBase {
  readonly id: string;
  readonly phase: Phase;
  readonly title: string;
  /** Inside the downtime window (from the service's stop to the first successful verification). */
  readonly window: boolean;
  /** Run in reverse order when a later cutover or verify step fails. */
  readonly undo: Script | null;
  /** Stops a service: the runbook asks for confirmation (unless --yes) before the first such step. */
  readonly stopsService?: boolean;
  /** Its undo also runs when the step itself fails: it may have half-happened (a unit half started, a proxy half switched). */
  readonly undoOnFailure?: boolean;
  /** A group name: consecutive steps of one phase with the same name run at the same time; the runtime waits for all of them before the next step. */
  readonly concurrent?: string;
}

/** Runs once; exit status 0 is success. */
export interface CommandStep extends StepBase { readonly kind: 'command'; readonly run: Script; readonly acceptExit?: readonly number[] }
/** Like a command, but a failure means "refuse to go on" and prints `failure`. */
export interface CheckStep extends StepBase { readonly kind: 'check'; readonly run: Script; readonly failure: string }
/** Runs `left` and `right`; `equal`: outputs must be identical; `fits`: number(left) * 1.1 <= number(right). */
export interface CompareStep extends StepBase { readonly kind: 'compare'; readonly mode: 'equal' | 'fits'; readonly left: Script; readonly right: Script; readonly failure: string }
/** Live copy passes: `run` then `measure` (prints the bytes a next pass would move) until below the threshold. */
export interface ConvergeStep extends StepBase {
  readonly kind: 'converge';
  readonly run: Script;
  readonly measure: Script;
  readonly acceptExit: readonly number[];
  readonly thresholdBytes: number;
  readonly maxPasses: number;
  readonly bandwidthBytesPerSecond: number;
}
/** Retries `run` until it succeeds or the deadline passes. */
export interface ProbeStep extends StepBase { readonly kind: 'probe'; readonly run: Script; readonly intervalSeconds: number; readonly deadlineSeconds: number; readonly endsWindow: boolean; /** Exit codes that mean "will not get better": fail at once. */ readonly fatalExit?: readonly number[] }
/** A part of the procedure that migen cannot perform yet; the runbook stops here with the reason. */
export interface PendingStep extends StepBase { readonly kind: 'pending'; readonly reason: string }
/** Something for the operator to do later (not executed by the runbook). */
export interface NoteStep extends StepBase { readonly kind: 'note'; readonly text: string }

export type Step = CommandStep | CheckStep | CompareStep | ConvergeStep | ProbeStep | PendingStep | NoteStep;
export type StepKind = Step['kind'];

export interface HostRef {
  readonly name: string;
  readonly address: string;
  readonly ssh: string;
  readonly deploy: DeployTool;
}

export interface RouteChange {
  readonly domain: string;
  readonly location: string;
  readonly from: string;
  readonly to: string;
}
export interface RouteStay { readonly domain: string; readonly location: string; readonly proxyPass: string }

export interface StateDir { readonly path: string; readonly owner: string | null; readonly uid: number | null; readonly group: string | null; readonly gid: number | null }

export interface MigrationPlan {
  readonly name: string;
  readonly description: string | null;
  readonly service: string;
  readonly serviceTitle: string;
  readonly nixosService: string | null;
  readonly strategy: Strategy;
  readonly status: Status;
  readonly from: HostRef;
  readonly to: HostRef;
  readonly proxy: HostRef | null;
  readonly container: string | null;
  readonly unit: string;
  readonly state: readonly StateDir[];
  readonly sqlite: readonly string[];
  readonly criticalFiles: readonly string[];
  readonly secrets: readonly { readonly name: string; readonly kind: 'agenix' | 'sops' }[];
  readonly numericIds: boolean;
  readonly sync: { readonly mode: SyncMode; readonly thresholdBytes: number; readonly maxPasses: number; readonly bandwidthBytesPerSecond: number };
  readonly database: { readonly engine: 'postgresql'; readonly databases: readonly string[]; readonly passwordSecret: string; readonly role: string; readonly publication: string; readonly subscription: string; readonly ports: { readonly old: number; readonly new: number }; readonly secretFiles: { readonly old: string; readonly new: string } } | null;
  readonly routes: { readonly moved: readonly RouteChange[]; readonly staying: readonly RouteStay[] };
  readonly specialisation: string;
  /** Set when the old host served the proxy on loopback: the new host must listen on its mesh address. */
  readonly listen: { readonly option: readonly string[] | null; readonly address: string; readonly ports: readonly number[] } | null;
  readonly follow: { readonly backups: readonly { readonly host: string; readonly name: string; readonly paths: readonly string[]; readonly repository: string | null; readonly passwordFile: string | null }[]; readonly scrapeTargets: readonly { readonly host: string; readonly job: string; readonly from: string; readonly to: string }[] };
  readonly window: { readonly estimateSeconds: number | null; readonly basis: string };
  readonly flake: string;
  readonly backup: { readonly kind: "restic"; readonly repository: string; readonly tag: string; readonly passwordFile: string | null } | { readonly kind: "job"; readonly host: string; readonly job: string } | { readonly kind: "none" };
  readonly graceDays: number;
  readonly maintenance: { readonly on: string; readonly off: string } | null;
  readonly verify: readonly VerifyCheck[];
  readonly verifyDeadlineSeconds: number;
  readonly warnings: readonly string[];
  readonly steps: readonly Step[];
}

export interface Plan {
  readonly formatVersion: 1;
  readonly manifest: string;
  readonly migrations: readonly MigrationPlan[];
}
