// What a generated runbook hands to the runtime: plain data, every command literal.
export type { Step, Script, Phase } from '../generator/plan/types.js';
import type { Step } from '../generator/plan/types.js';

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
