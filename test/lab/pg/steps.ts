/**
 * Runs the generated hot runbook's steps one by one on lab hosts, the way the runtime runs a
 * script (bash with `set -euo pipefail`, `cd /`, the script as one brace group reading /dev/null;
 * a pipe's second part reads the first's output), but through `lab.exec` instead of ssh, so a test
 * can repeat a step, interleave its own SQL, kill a step half-way and run undos by hand. What the
 * runtime adds around a step (journal, lock, coordinator, guards) is not exercised here: the e2e
 * suites run the whole runbook.
 */
import path from 'node:path';
import type { Lab } from '../lab.js';
import { REPO } from '../../e2e/helpers.js';
import type { MigrationPlan } from '../../../src/generator/plan/types.js';
import type { Script, Step } from '../../../src/runbook/steps.js';

export interface Ran { readonly code: number; readonly stdout: string; readonly stderr: string; readonly ms: number }

/** The zitadel runbook's steps and its plan, as committed under generated/. */
export async function zitadelRunbook(): Promise<{ steps: readonly Step[]; plan: MigrationPlan }> {
  const rb = (await import(path.join(REPO, 'generated/runbooks/migrate-zitadel.mjs'))) as { runbook: { steps: Step[] } };
  const { readFileSync } = await import('node:fs');
  const plan = (JSON.parse(readFileSync(path.join(REPO, 'generated/plans/zitadel.json'), 'utf8')) as { migrations: MigrationPlan[] }).migrations[0]!;
  return { steps: rb.runbook.steps, plan };
}

const wrap = (script: string, readsStdin: boolean): string =>
  readsStdin ? `set -euo pipefail\ncd /\n${script}` : `set -euo pipefail\ncd /\n{\n${script}\n} </dev/null`;

/** One script: a host's, or a pipe of two (the first runs to its end, then the second reads its output). */
export async function runScript(lab: Lab, s: Script, timeoutMs = 120_000): Promise<Ran> {
  const t0 = Date.now();
  if ('on' in s) {
    const r = await lab.exec(s.on, wrap(s.script, false), { timeoutMs });
    return { ...r, ms: Date.now() - t0 };
  }
  const [a, b] = s.pipe;
  const first = await lab.exec(a.on, wrap(a.script, false), { timeoutMs });
  const second = await lab.exec(b.on, wrap(b.script, true), { input: first.stdout, timeoutMs });
  // as bash's pipefail (and the runtime): the last part that failed decides
  const code = second.code !== 0 ? second.code : first.code;
  return { code, stdout: second.stdout, stderr: first.stderr + second.stderr, ms: Date.now() - t0 };
}

/** A step by its kind, as the runtime judges it: ok, and what it printed. */
export async function runStep(lab: Lab, s: Step, o: { probeDeadlineMs?: number } = {}): Promise<Ran & { ok: boolean }> {
  switch (s.kind) {
    case 'command': {
      const r = await runScript(lab, s.run);
      return { ...r, ok: r.code === 0 || (s.acceptExit ?? []).includes(r.code) };
    }
    case 'check': {
      const r = await runScript(lab, s.run);
      return { ...r, ok: r.code === 0 };
    }
    case 'compare': {
      const [l, r] = await Promise.all([runScript(lab, s.left), runScript(lab, s.right)]);
      const ok = l.code === 0 && r.code === 0 && (s.mode === 'equal' ? l.stdout.trim() === r.stdout.trim() : Number(l.stdout) * 1.1 <= Number(r.stdout));
      return { code: ok ? 0 : 1, stdout: `${l.stdout}|${r.stdout}`, stderr: l.stderr + r.stderr, ms: Math.max(l.ms, r.ms), ok };
    }
    case 'probe': {
      const until = Date.now() + (o.probeDeadlineMs ?? s.deadlineSeconds * 1000);
      for (;;) {
        const r = await runScript(lab, s.run);
        if (r.code === 0) return { ...r, ok: true };
        if ((s.fatalExit ?? []).includes(r.code) || Date.now() > until) return { ...r, ok: false };
        await new Promise((res) => setTimeout(res, s.intervalSeconds * 1000));
      }
    }
    case 'note': return { code: 0, stdout: s.text, stderr: '', ms: 0, ok: true };
    case 'converge': throw new Error(`${s.id}: a converge step has no place in the hot path`);
  }
}

/** runStep, failing with the step's output when it does not succeed. */
export async function mustStep(lab: Lab, s: Step): Promise<Ran> {
  const r = await runStep(lab, s);
  if (!r.ok) throw new Error(`step ${s.id} failed (exit ${r.code}):\n${r.stderr}\n${r.stdout}`);
  return r;
}

export const byId = (steps: readonly Step[], id: string): Step => {
  const s = steps.find((x) => x.id === id);
  if (!s) throw new Error(`no step ${id}`);
  return s;
};

/** The undos of these steps, newest first (as the runtime's rollback runs them). */
export const undosOf = (done: readonly Step[]): Step[] => done.filter((s) => s.undo).slice().reverse();

/**
 * The hot path as these tests run it: the runbook's pg-* steps and, in their places, stop-old and
 * start-new (the application's fenced stop on the old host and start on the new one; the guards,
 * the route switch and the verification around them are the e2e suites' part).
 */
export async function hotPath(): Promise<{ steps: Step[]; plan: MigrationPlan; all: readonly Step[] }> {
  const { steps: all, plan } = await zitadelRunbook();
  const steps = all.filter((s) => (s.id.startsWith('pg-') && s.kind !== 'note') || s.id === 'stop-old' || s.id === 'start-new');
  return { steps, plan, all };
}

/** The steps of `path` from `from` through `until` (ids). */
export function between(path: readonly Step[], from: string | null, until: string): Step[] {
  const a = from ? path.findIndex((s) => s.id === from) : 0;
  const b = path.findIndex((s) => s.id === until);
  if (a < 0 || b < 0) throw new Error(`no step ${a < 0 ? from : until}`);
  return path.slice(a, b + 1);
}

/** Runs steps in order as the runtime does: consecutive steps of one concurrent group at once. Returns each step's time. */
export async function runInOrder(lab: Lab, steps: readonly Step[]): Promise<[string, number][]> {
  const out: [string, number][] = [];
  for (let i = 0; i < steps.length;) {
    const s = steps[i]!;
    let j = i + 1;
    while (s.concurrent && j < steps.length && steps[j]!.concurrent === s.concurrent) j++;
    const batch = steps.slice(i, j);
    const ran = await Promise.all(batch.map((x) => mustStep(lab, x)));
    batch.forEach((x, k) => out.push([x.id, ran[k]!.ms]));
    i = j;
  }
  return out;
}
