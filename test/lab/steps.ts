/**
 * migen lab: a generated runbook's steps, one script at a time, the way the runtime runs them
 * (src/runtime/executor.ts): bash over ssh from the operator with `set -euo pipefail` and `cd /`,
 * the script on stdin in one brace group; a pipe is two ssh processes, the second reading the
 * first's output (its script on the command line).
 */
import type { ChildProcess } from 'node:child_process';
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

/** the script of a step: its run, or (compare) its left or right, (handoff) its check, or its undo */
export function scriptOf(s: Step, which: 'run' | 'left' | 'right' | 'measure' | 'check' | 'undo' = 'run'): Script {
  const sc = (s as unknown as Record<string, Script | undefined>)[which];
  if (!sc) throw new Error(`step ${s.id} has no ${which}`);
  return sc;
}

const prelude = `${PRELUDE}\ncd /`;

/** runs a script (a host's, or a pipe) as the runtime would */
export async function runScript(lab: Lab, sc: Script, env: NodeJS.ProcessEnv = {}): Promise<ExecResult> {
  if ('pipe' in sc) {
    // two ssh processes, the first's stdout the second's stdin (bytes: a tar stream, say)
    const [a, b] = sc.pipe;
    const first = lab.operatorSpawn(['ssh', a.on, 'bash', '-s'], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    const second = lab.operatorSpawn(['ssh', b.on, `bash -c ${shellWord(`${prelude}\n${b.script}`)}`], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    first.stdout!.pipe(second.stdin!);
    first.stdin!.end(stdinScript(prelude, a.script));
    const done = (c: ChildProcess, out: { s: string }): Promise<number> => new Promise((res) => {
      c.stderr!.setEncoding('utf8').on('data', (d: string) => (out.s += d));
      c.on('close', (code) => res(code ?? 1));
    });
    const e1 = { s: '' };
    const e2 = { s: '' };
    let stdout = '';
    second.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    const [c1, c2] = await Promise.all([done(first, e1), done(second, e2)]);
    return { code: c2 !== 0 ? c2 : c1, stdout, stderr: e1.s + e2.s };
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
