// Constructors of the runbook's steps, one per kind, bound to a phase: a phase file reads as the
// list of what it does, each step's options named.
import type { CheckStep, CommandStep, CompareStep, ConvergeStep, HandoffStep, HostScript, NoteStep, Phase, PipeScript, ProbeStep, Script, Step } from '../../runbook/steps.js';

export const on = (host: string, script: string): HostScript => ({ on: host, script });
/** `from`'s output is `to`'s input: the executor runs them as two processes, one per host. */
export const pipe = (from: HostScript, to: HostScript): PipeScript => ({ pipe: [from, to] });

/** Options every kind takes (see runbook/steps.ts). */
export interface Opts {
  readonly window?: boolean;
  readonly undo?: Script;
  readonly undoLeftover?: string;
  readonly stopsService?: boolean;
  readonly undoOnFailure?: boolean;
  readonly concurrent?: string;
  readonly hostToHost?: boolean;
  readonly progress?: boolean;
  readonly fleet?: boolean;
  readonly freshConnection?: boolean;
  readonly heartbeat?: { readonly on: string; readonly file: string };
}

/** Drops undefined fields, so a step holds only what was said about it. */
function make<S extends Step>(s: S): S {
  return Object.freeze(Object.fromEntries(Object.entries(s).filter(([, v]) => v !== undefined))) as S;
}

export function stepsOf(phase: Phase) {
  return {
    command: (id: string, title: string, run: Script, o: Opts & { acceptExit?: readonly number[] } = {}): CommandStep =>
      make({ id, phase, kind: 'command', title, ...o, run }),
    check: (id: string, title: string, run: Script, failure: string, o: Opts = {}): CheckStep =>
      make({ id, phase, kind: 'check', title, ...o, run, failure }),
    compare: (id: string, title: string, c: { mode: 'equal' | 'fits'; left: Script; right: Script; failure: string }, o: Opts = {}): CompareStep =>
      make({ id, phase, kind: 'compare', title, ...o, left: c.left, right: c.right, mode: c.mode, failure: c.failure }),
    converge: (id: string, title: string, c: Omit<ConvergeStep, keyof Opts | 'id' | 'phase' | 'kind' | 'title'>, o: Opts = {}): ConvergeStep =>
      make({ id, phase, kind: 'converge', title, ...o, ...c }),
    probe: (id: string, title: string, run: Script, t: { intervalSeconds: number; deadlineSeconds: number; endsWindow?: boolean; fatalExit?: readonly number[] }, o: Opts = {}): ProbeStep =>
      make({ id, phase, kind: 'probe', title, ...o, run, ...t }),
    /** `h.run` absent: a person does `h.instruction`; the check proves it either way. */
    handoff: (id: string, title: string, h: { instruction: string; run?: Script; check: Script; intervalSeconds: number; deadlineSeconds: number; endsWindow?: boolean; undoInstruction?: string }, o: Opts = {}): HandoffStep =>
      make({ id, phase, kind: 'handoff', title, ...o, ...h }),
    note: (id: string, title: string, text: string): NoteStep => make({ id, phase, kind: 'note', title, text }),
  };
}
