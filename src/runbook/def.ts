// A generated runbook (generated/runbooks/migrate-NAME.mjs) hands this to the runtime.
import type { Step } from './steps.js';

/** Where a run's lock lives on each of its hosts. */
export const LOCK_PATH = '/var/lib/migen/lock';
/** Seconds without the cutover coordinator's heartbeat after which a guard reverts its host by itself (generator/plan/guard.ts). */
export const GUARD_SECONDS = 20;

export interface RunbookHost { readonly name: string; readonly ssh: string; readonly address: string }

/** An input the plan was made from; the runbook refuses to run when it changed since. */
export interface RunbookInput { readonly kind: 'manifest' | 'inventory'; readonly path: string; readonly sha256: string }

export interface RunbookDef {
  readonly formatVersion: 1;
  readonly name: string;
  readonly service: string;
  readonly strategy: 'cold' | 'warm' | 'hot';
  readonly from: string;
  readonly to: string;
  /** Paths are relative to the repository root (the directory holding generated/). */
  readonly inputs: readonly RunbookInput[];
  readonly hosts: Readonly<Record<string, RunbookHost>>;
  /**
   * Held on every host of the run (old, new, proxy) from its start to its end: a second run that
   * touches any of them refuses and names the holder. A persistent file (a reboot keeps it), lifted
   * by the run that holds it or by `migen unlock NAME`.
   */
  readonly lock: { readonly path: string };
  readonly steps: readonly Step[];
}
