// Step fields at their default are left out of printed runbooks, so a reviewer reads only what a
// step does differently; the runtime puts them back.
import type { Script, Step } from './steps.js';

const DEFAULTS = { window: false, undo: null, stopsService: false, undoOnFailure: false, hostToHost: false, progress: false, fleet: false, freshConnection: false } as const;
const OMITTED_WHEN = { endsWindow: false } as const;

interface Flags {
  readonly window: boolean;
  readonly undo: Script | null;
  readonly stopsService: boolean;
  readonly undoOnFailure: boolean;
  readonly hostToHost: boolean;
  readonly progress: boolean;
  readonly fleet: boolean;
  readonly freshConnection: boolean;
}
/** A step as the runtime reads it: every defaulted field present. */
export type Resolved<S extends Step = Step> = S & Flags;

export function withDefaults<S extends Step>(s: S): Resolved<S> {
  return { ...DEFAULTS, ...s } as Resolved<S>;
}

/** The step without fields at their default (false, null, empty lists, undefined). */
export function withoutDefaults(s: Step): Step {
  const defaults: Record<string, unknown> = { ...DEFAULTS, ...OMITTED_WHEN };
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(s)) {
    if (v === undefined) continue;
    if (k in defaults && defaults[k] === v) continue;
    if (Array.isArray(v) && v.length === 0 && (k === 'acceptExit' || k === 'fatalExit')) continue;
    out[k] = v;
  }
  return out as unknown as Step;
}
