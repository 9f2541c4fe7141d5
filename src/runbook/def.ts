// A generated runbook (generated/runbooks/migrate-NAME.mjs) hands this to the runtime.
import type { Step } from './steps.js';

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
  /** Held on the old host for the whole run: a second run of this migration refuses to start. */
  readonly lock: { readonly on: string; readonly path: string };
  readonly steps: readonly Step[];
}
