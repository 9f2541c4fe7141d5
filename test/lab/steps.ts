/**
 * migen lab: a generated runbook's steps, one script at a time, the way the runtime runs them
 * (src/runtime/executor.ts): bash over ssh from the operator with `set -euo pipefail` and `cd /`,
 * the script on stdin in one brace group; a pipe's second part reads the first's output. The
 * pipe's parts run one after the other here (the output is held in between), which is the same
 * for scripts that read all their input before acting, as migen's do.
 */
import path from 'node:path';
import { PRELUDE, shellWord, stdinScript } from '../../src/runtime/executor.js';
import type { Script, Step } from '../../src/runbook/steps.js';
import { repoRoot as REPO_ROOT } from '../helpers/nix.js';
import type { ExecResult, Lab } from './lab.js';

/** the steps of generated/runbooks/migrate-NAME.mjs (the committed runbook) */
export async function runbookSteps(name: string): Promise<Step[]> {
  const m = (await import(path.join(REPO_ROOT, 'generated/runbooks', `migrate-${name}.mjs`))) as { runbook: { steps: Step[] } };
  return m.runbook.steps;
}

export function stepOf(steps: readonly Step[], id: string): Step {
  const s = steps.find((x) => x.id === id);
  if (!s) throw new Error(`no step ${id} (steps: ${steps.map((x) => x.id).join(', ')})`);
  return s;
}

/** the script of a step: its run, or (compare) its left or right, or its undo */
export function scriptOf(s: Step, which: 'run' | 'left' | 'right' | 'measure' | 'undo' = 'run'): Script {
  const sc = (s as unknown as Record<string, Script | undefined>)[which];
  if (!sc) throw new Error(`step ${s.id} has no ${which}`);
  return sc;
}

const prelude = `${PRELUDE}\ncd /`;

/** runs a script (a host's, or a pipe) as the runtime would */
export async function runScript(lab: Lab, sc: Script, env: NodeJS.ProcessEnv = {}): Promise<ExecResult> {
  if ('pipe' in sc) {
    const [a, b] = sc.pipe;
    const first = await runScript(lab, a, env);
    if (first.code !== 0) return first;
    const second = await lab.operator(['ssh', b.on, `bash -c ${shellWord(`${prelude}\n${b.script}`)}`], { input: first.stdout, env });
    return { ...second, stderr: first.stderr + second.stderr };
  }
  if (sc.on === 'operator') return lab.operator(['bash', '-s'], { input: stdinScript(PRELUDE, sc.script), env });
  return lab.operator(['ssh', sc.on, 'bash', '-s'], { input: stdinScript(prelude, sc.script), env });
}

/** runs a step's script and throws with its output unless it exits 0 */
export async function mustRun(lab: Lab, s: Step, which: 'run' | 'left' | 'right' | 'measure' | 'undo' = 'run'): Promise<ExecResult> {
  const r = await runScript(lab, scriptOf(s, which));
  if (r.code !== 0) throw new Error(`step ${s.id} (${which}) exited ${r.code}:\n${r.stderr}${r.stdout}`);
  return r;
}
