// Runs one step by its kind: a table keyed by kind, so a new kind does not compile until it is
// handled here.
import { withDefaults, type Resolved } from '../runbook/defaults.js';
import type { Script, Step } from '../runbook/steps.js';
import type { ExecResult } from './executor.js';
import { bytes, seconds } from './output.js';
import { RunState, StepFailure, tail } from './state.js';
import type { PassRecord } from './types.js';

/** Sums rsync's "Total transferred file size: N bytes" lines of a pass's output. */
export function transferredBytes(output: string): number {
  let total = 0;
  for (const m of output.matchAll(/^Total transferred file size: ([\d,.]+)/gm)) total += Number(m[1]!.replace(/[,.]/g, ''));
  return total;
}

/** The host of a script (of a pipe: the reading end). */
const lastHost = (x: Script): string => ('on' in x ? x.on : x.pipe[1].on);

/** Runs a script; a nonzero exit (outside `accept`) fails the step. `stream`: show rsync's progress lines. */
async function sh(r: RunState, s: Resolved, sc: Script, accept: readonly number[] = [], stream = false): Promise<ExecResult> {
  const o = r.out;
  let last = 0;
  const res = await r.exec.run(sc, {
    signal: r.opts.signal,
    forwardAgent: r.opts.forwardAgent && s.hostToHost,
    stream: stream ? (chunk) => {
      // rsync --info=progress2: a live line on a terminal, a line every 5 s otherwise.
      const latest = chunk.split(/[\r\n]/).filter((l) => /\d+%/.test(l)).pop();
      if (!latest) return;
      if (o.tty) process.stdout.write(`\r  ${latest.trim().slice(0, 100)}\u001b[K`);
      else if (r.clock() - last > 5000) { last = r.clock(); o.line(`  ${latest.trim()}`); }
    } : undefined,
  });
  if (stream && o.tty) process.stdout.write('\r\u001b[K');
  if (r.aborted) throw new StepFailure(s, 'interrupted', true);
  if (res.code !== 0 && !accept.includes(res.code)) throw new StepFailure(s, `exit ${res.code} on ${res.on ?? lastHost(sc)}${tail(res) ? `:\n${tail(res)}` : ''}`);
  return res;
}

/** Retries `sc` until it succeeds (its first success may end the window) or the deadline passes; fatalExit codes fail at once. */
async function poll(r: RunState, s: Resolved, sc: Script, t: { intervalSeconds: number; deadlineSeconds: number; endsWindow?: boolean; fatalExit?: readonly number[] }): Promise<void> {
  const deadline = r.clock() + t.deadlineSeconds * 1000;
  let last: ExecResult | null = null;
  for (;;) {
    last = await r.exec.run(sc, { signal: r.opts.signal });
    if (r.aborted) throw new StepFailure(s, 'interrupted', true);
    if (last.code === 0) { if (t.endsWindow) r.markWindow('end', r.clock()); return; }
    if (t.fatalExit?.includes(last.code)) throw new StepFailure(s, `failed (exit ${last.code}, not retried): ${tail(last)}`);
    if (r.clock() + t.intervalSeconds * 1000 > deadline) break;
    await r.sleep(t.intervalSeconds * 1000);
  }
  throw new StepFailure(s, `still failing after ${t.deadlineSeconds} s: ${tail(last)}`);
}

type Performer<S extends Step> = (r: RunState, s: Resolved<S>) => Promise<void>;

const PERFORM: { [K in Step['kind']]: Performer<Extract<Step, { kind: K }>> } = {
  async command(r, s) {
    await sh(r, s, s.run, s.acceptExit ?? [], s.progress);
  },
  async check(r, s) {
    const res = await r.exec.run(s.run, { signal: r.opts.signal, forwardAgent: r.opts.forwardAgent && s.hostToHost });
    if (r.aborted) throw new StepFailure(s, 'interrupted', true);
    if (res.code !== 0) throw new StepFailure(s, `${s.failure}${tail(res) ? `\n${tail(res)}` : ''}`);
  },
  async compare(r, s) {
    const [left, right] = await Promise.all([sh(r, s, s.left), sh(r, s, s.right)]);
    const a = left.stdout.trim(); const b = right.stdout.trim();
    if (s.mode === 'equal' ? a !== b : !(Number(a) * 1.1 <= Number(b) && a !== '' && b !== '')) {
      throw new StepFailure(s, `${s.failure} (${lastHost(s.left)}: ${a.slice(0, 80) || 'nothing'}; ${lastHost(s.right)}: ${b.slice(0, 80) || 'nothing'})`);
    }
    if (s.mode === 'fits') r.out.line(`  ${lastHost(s.left)}: ${bytes(Number(a))} needed, ${lastHost(s.right)}: ${bytes(Number(b))} free`);
  },
  async converge(r, s) {
    const accept = s.acceptExit ?? [];
    for (let pass = r.passes.length + 1; ; pass++) {
      const t0 = r.clock();
      const ran = await sh(r, s, s.run, accept, s.progress);
      const m = await sh(r, s, s.measure, accept);
      const remaining = Number(m.stdout.trim().split('\n').pop() ?? 'NaN');
      if (!Number.isFinite(remaining)) throw new StepFailure(s, `could not read the remaining transfer size from: ${m.stdout.trim().slice(0, 200)}`);
      const rec: PassRecord = { pass, movedBytes: transferredBytes(ran.stdout), remainingBytes: remaining, ms: r.clock() - t0 };
      r.passes = [...r.passes, rec];
      r.journal = { ...r.journal, passes: r.passes };
      r.save();
      const predicted = remaining / s.bandwidthBytesPerSecond;
      r.out.line(`  pass ${pass}: moved ${bytes(rec.movedBytes)} in ${seconds(rec.ms)}; a final pass would move ${bytes(remaining)} (~${predicted.toFixed(1)} s at ${bytes(s.bandwidthBytesPerSecond)}/s)`);
      if (remaining < s.thresholdBytes) return;
      if (pass >= s.maxPasses) { r.out.line(r.out.yellow(`  still ${bytes(remaining)} after ${pass} passes: the final pass will take longer than planned`)); return; }
    }
  },
  async probe(r, s) {
    await poll(r, s, s.run, s);
  },
  async handoff(r, s) {
    if (s.run) {
      r.out.line(`  ${s.instruction} (by the provider's command)`);
      await sh(r, s, s.run);
    } else {
      r.out.line(r.out.yellow(`  ACTION NEEDED: ${s.instruction}`));
      r.out.line(r.out.dim(`  (the runbook checks every ${s.intervalSeconds} s for up to ${s.deadlineSeconds} s that it was done)`));
    }
    await poll(r, s, s.check, s);
  },
  async note(r, s) {
    r.out.line(`  ${s.text}`);
  },
};

export function perform(r: RunState, s: Step): Promise<void> {
  return (PERFORM[s.kind] as Performer<Step>)(r, withDefaults(s));
}
