// Executes a runbook: steps in order, a journal for --resume, a lock on the old host, the
// downtime window, automatic rollback in reverse order, and a report.
import { randomBytes } from 'node:crypto';
import type { Executor, ExecResult } from './executor.js';
import type { Journal, JournalStore } from './journal.js';
import { bytes, seconds, type Out } from './output.js';
import type { RunbookDef, Script, Step } from './types.js';

export interface RunOptions {
  readonly dryRun: boolean;
  readonly resume: boolean;
  readonly rollbackOnly: boolean;
  readonly yes: boolean;
  readonly noRollback: boolean;
  readonly forwardAgent: boolean;
  /** Asks before the first step that stops a service; resolves true to go on. */
  readonly confirm: (question: string) => Promise<boolean>;
  readonly clock?: () => number;
  readonly sleep?: (ms: number) => Promise<void>;
  readonly signal?: AbortSignal;
}

/** Exit codes: what happened, for scripts and CI (deploy-rs #214: a rollback is never "success"). */
export const EXIT = { done: 0, failed: 1, usage: 2, rolledBack: 3, rollbackFailed: 4, interrupted: 130 } as const;

export interface PassRecord { readonly pass: number; readonly movedBytes: number; readonly remainingBytes: number; readonly ms: number }
export interface StepRecord { readonly id: string; readonly phase: string; readonly title: string; readonly on: string; readonly status: 'done' | 'failed' | 'skipped' | 'undone' | 'undo-failed'; readonly ms: number }
export interface Report {
  readonly name: string;
  readonly runId: string;
  readonly result: 'done' | 'failed' | 'rolled-back' | 'rollback-failed' | 'interrupted' | 'stopped';
  readonly message: string;
  readonly startedAt: string;
  readonly endedAt: string;
  readonly steps: readonly StepRecord[];
  readonly passes: readonly PassRecord[];
  readonly window: { readonly startedAt: string | null; readonly endedAt: string | null; readonly ms: number | null };
}

class StepFailure extends Error {
  constructor(readonly step: Step, message: string, readonly interrupted = false) { super(message); }
}

const where = (s: Step): string => ('run' in s ? s.run.on : 'left' in s ? `${s.left.on}+${s.right.on}` : '-');
const tail = (r: ExecResult): string => (r.stderr.trim() || r.stdout.trim()).split('\n').slice(-8).join('\n');
const isCutover = (s: Step): boolean => s.phase === 'cutover' || s.phase === 'verify';
// A SQLite check is left out: `sqlite3 -readonly` on a WAL database still creates its -wal/-shm
// files beside it, which a tree comparison running at the same time (copy-identical's dry run,
// owners) reports as a difference, failing the cutover.

/** Sums rsync's "Total transferred file size: N bytes" lines of a pass's output. */
export function transferredBytes(output: string): number {
  let total = 0;
  for (const m of output.matchAll(/^Total transferred file size: ([\d,.]+)/gm)) total += Number(m[1]!.replace(/[,.]/g, ''));
  return total;
}

export function lockScripts(def: RunbookDef, runId: string, quote: (s: string) => string): { acquire: Script; release: Script } {
  const lock = quote(def.lock.path);
  const dir = quote(def.lock.path.slice(0, def.lock.path.lastIndexOf('/')) || '/');
  const id = quote(runId);
  return {
    acquire: { on: def.lock.on, script: [
      `mkdir -p ${dir}`,
      `if ( set -C; printf '%s\\n' ${id} > ${lock} ) 2>/dev/null; then exit 0; fi`,
      `held=$(cat ${lock} 2>/dev/null || true)`,
      `if [ "$held" = ${id} ]; then exit 0; fi`,
      `echo "migration ${def.name} is locked by run $held (${def.lock.path} on ${def.lock.on})" >&2`,
      'exit 75',
    ].join('\n') },
    release: { on: def.lock.on, script: `if [ "$(cat ${lock} 2>/dev/null || true)" = ${id} ]; then rm -f ${lock}; fi` },
  };
}

export class Engine {
  private readonly clock: () => number;
  private readonly sleep: (ms: number) => Promise<void>;
  private records: StepRecord[] = [];
  private passes: PassRecord[] = [];
  private journal!: Journal;

  constructor(private readonly def: RunbookDef, private readonly exec: Executor, private readonly store: JournalStore, private readonly out: Out, private readonly opts: RunOptions, private readonly quote: (s: string) => string) {
    this.clock = opts.clock ?? Date.now;
    this.sleep = opts.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms)));
  }

  /** Every command in the order a successful run executes it; undo commands listed apart. */
  dryRun(): number {
    const { acquire, release } = lockScripts(this.def, 'RUN_ID', this.quote);
    const o = this.out;
    const print = (label: string, s: Script): void => {
      o.line(`  ${o.bold(s.on)}$ ${s.script.split('\n').join(`\n  ${' '.repeat(s.on.length)}  `)}`);
      void label;
    };
    o.line(o.bold(`migen run ${this.def.name} --dry-run: every command, in order; nothing is run`));
    o.line(`\n-- lock (${this.def.lock.on})`);
    print('lock', acquire);
    let phase = '';
    this.def.steps.forEach((s, i) => {
      if (s.phase !== phase) { phase = s.phase; o.line(`\n-- ${phase}`); }
      o.line(`[${i + 1}] ${s.title}${s.window ? ' [downtime]' : ''}`);
      for (const sc of this.scriptsOf(s)) print(s.id, sc);
      if (s.kind === 'converge') o.line(o.dim(`  (the two commands above repeat until the second prints less than ${s.thresholdBytes}, at most ${s.maxPasses} times)`));
      if (s.kind === 'probe') o.line(o.dim(`  (retried every ${s.intervalSeconds} s for up to ${s.deadlineSeconds} s)`));
      if (s.kind === 'pending') o.line(o.yellow(`  stops here: ${s.reason}`));
      if (s.kind === 'note') o.line(o.dim(`  (not run: ${s.text})`));
    });
    o.line(`\n-- unlock (${this.def.lock.on})`);
    print('unlock', release);
    const undos = this.def.steps.filter((s) => s.undo).reverse();
    if (undos.length) {
      o.line('\n-- rollback, only if a step fails: the undo of every step that ran, newest first');
      for (const s of undos) print(`undo ${s.id}`, s.undo!);
    }
    return EXIT.done;
  }

  /** The scripts a step runs, in order, as a successful run executes them. */
  scriptsOf(s: Step): Script[] {
    switch (s.kind) {
      case 'command': case 'check': case 'probe': return [s.run];
      case 'compare': return [s.left, s.right];
      case 'converge': return [s.run, s.measure];
      case 'pending': case 'note': return [];
    }
  }

  private now(): string { return new Date(this.clock()).toISOString(); }

  private save(): void { this.store.save(this.journal); }

  async run(): Promise<{ code: number; report: Report | null }> {
    if (this.opts.dryRun) return { code: this.dryRun(), report: null };
    const o = this.out;
    const previous = this.store.load();
    if (this.opts.rollbackOnly) {
      if (!previous || previous.status !== 'running') { o.err(`migen: no unfinished run of ${this.def.name} to roll back`); return { code: EXIT.usage, report: null }; }
      this.journal = previous;
      const rb = await this.rollback('rollback requested');
      // The interrupted run still holds the lock (same run id): release it, as every other end of a run does.
      const { release } = lockScripts(this.def, this.journal.runId, this.quote);
      await this.exec.run(release.on, release.script);
      return this.finish(rb ? 'rolled-back' : 'rollback-failed', rb ? 'rolled back on request' : 'rollback incomplete');
    }
    if (previous && previous.status === 'running' && !this.opts.resume) {
      const at = this.def.steps.find((s) => previous.steps[s.id]?.status !== 'done');
      o.err(`migen: an earlier run (${previous.runId}) of ${this.def.name} stopped before finishing${at ? `, at step ${at.id} (${at.title})` : ''}.\nRerun with --resume to continue it, or --rollback to undo what it did.`);
      return { code: EXIT.usage, report: null };
    }
    if (this.opts.resume && (!previous || previous.status === 'done')) {
      o.err(`migen: nothing to resume for ${this.def.name}: ${previous ? 'the last run finished' : 'no earlier run'}`);
      return { code: EXIT.usage, report: null };
    }
    this.journal = this.opts.resume && previous
      ? { ...previous, status: 'running' }
      : { runId: `${this.clock().toString(36)}-${randomBytes(3).toString('hex')}`, name: this.def.name, status: 'running', startedAt: this.now(), steps: {}, passes: [], windowStart: null, windowEnd: null };
    this.passes = [...this.journal.passes];
    if (this.opts.resume) o.line(`resuming run ${this.journal.runId} of ${this.def.name}`);
    this.save();

    const { acquire, release } = lockScripts(this.def, this.journal.runId, this.quote);
    const got = await this.exec.run(acquire.on, acquire.script);
    if (got.code !== 0) {
      o.err(`migen: ${tail(got) || `cannot take the lock ${this.def.lock.path} on ${this.def.lock.on}`}`);
      this.journal = { ...this.journal, status: 'failed' };
      this.save();
      return { code: EXIT.failed, report: null };
    }

    let confirmed = this.opts.yes;
    let result: Report['result'] = 'done';
    let message = 'migration finished';
    try {
      for (let i = 0; i < this.def.steps.length; i++) {
        const s = this.def.steps[i]!;
        if (this.journal.steps[s.id]?.status === 'done') { this.records.push({ id: s.id, phase: s.phase, title: s.title, on: where(s), status: 'skipped', ms: 0 }); continue; }
        if (s.stopsService && !confirmed) {
          const go = await this.opts.confirm(`Step ${i + 1} stops ${s.title.replace(/^stop /, '')}: the downtime window starts. Continue?`);
          if (!go) throw new StepFailure(s, 'stopped at the confirmation prompt; nothing was stopped');
          confirmed = true;
        }
        if (this.opts.signal?.aborted) throw new StepFailure(s, 'interrupted', true);
        // Consecutive steps of one phase with the same `concurrent` group run at once: the
        // verifications of the copy, and on the proxy and the new host the route switch and the
        // start. Every second in the window is downtime. When one fails, the others still finish,
        // then everything done is undone.
        const batch = [s];
        while (s.concurrent) {
          const next = this.def.steps[i + batch.length];
          if (!next || next.concurrent !== s.concurrent || next.window !== s.window || next.phase !== s.phase || this.journal.steps[next.id]?.status === 'done') break;
          batch.push(next);
        }
        if (batch.length === 1) await this.step(s, i);
        else {
          const results = await Promise.allSettled(batch.map((b, k) => this.step(b, i + k)));
          const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
          if (failed) throw failed.reason;
          i += batch.length - 1;
        }
      }
    } catch (e) {
      if (!(e instanceof StepFailure)) throw e;
      const s = e.step;
      // Rollback once any cutover step has started (the confirmation prompt comes before that).
      const cut = this.def.steps.some((x) => isCutover(x) && this.journal.steps[x.id] !== undefined);
      const undos = this.doneUndos();
      if (cut && !this.opts.noRollback) {
        o.err(o.red(`\nstep ${s.id} failed: ${e.message}\nrolling back`));
        const ok = await this.rollback(e.message);
        result = ok ? 'rolled-back' : 'rollback-failed';
        message = ok ? `rolled back after ${s.id} failed: ${e.message}` : `rollback incomplete after ${s.id} failed: ${e.message}`;
      } else if (cut || (this.opts.noRollback && undos.length > 0)) {
        o.err(o.red(`\nstep ${s.id} failed: ${e.message}\n--no-rollback: nothing undone. To undo by hand, in this order:`));
        for (const x of undos) o.err(`  ${x.undo!.on}$ ${x.undo!.script}`);
        result = 'failed';
        message = `${s.id} failed (no rollback): ${e.message}`;
        this.journal = { ...this.journal, status: 'running' };
        this.save();
        await this.exec.run(release.on, release.script);
        return this.finish(result, message, EXIT.failed, true);
      } else {
        // Before the cutover: undo what preparation created (a publication, a subscription), nothing else.
        const cleaned = undos.length === 0 || await this.rollback(e.message);
        result = !cleaned ? 'rollback-failed' : e.interrupted ? 'interrupted' : s.kind === 'pending' ? 'stopped' : 'failed';
        message = e.interrupted ? `interrupted during ${s.id}; no service was stopped` : `${s.id}: ${e.message}; no service was stopped`;
        if (undos.length && cleaned) message += ` (undone: ${undos.map((x) => x.id).join(', ')})`;
        o.err(o.red(`\nmigen: ${message}`));
      }
    }
    await this.exec.run(release.on, release.script);
    return this.finish(result, message);
  }

  /** Undos to run: of every finished step, and of a failed one that may have half-happened (undoOnFailure). */
  private doneUndos(): Step[] {
    return this.def.steps.filter((s) => {
      const st = this.journal.steps[s.id]?.status;
      return s.undo && (st === 'done' || (s.undoOnFailure === true && (st === 'failed' || st === 'running')));
    }).reverse();
  }

  /** Undoes every finished cutover/verify step with an undo, newest first. */
  private async rollback(reason: string): Promise<boolean> {
    void reason;
    let ok = true;
    for (const s of this.doneUndos()) {
      const started = this.clock();
      const r = await this.exec.run(s.undo!.on, s.undo!.script);
      const status = r.code === 0 ? 'undone' : 'undo-failed';
      this.records.push({ id: s.id, phase: 'rollback', title: `undo: ${s.title}`, on: s.undo!.on, status, ms: this.clock() - started });
      this.journal = { ...this.journal, steps: { ...this.journal.steps, [s.id]: { status, ms: this.clock() - started } } };
      this.save();
      this.out.line(`  undo ${s.id} on ${s.undo!.on}: ${r.code === 0 ? this.out.green('ok') : this.out.red(`failed: ${tail(r)}`)}`);
      if (r.code !== 0) { ok = false; break; }
    }
    return ok;
  }

  private finish(result: Report['result'], message: string, forced?: number, keepRunning = false): { code: number; report: Report } {
    const w0 = this.journal.windowStart;
    const w1 = this.journal.windowEnd;
    const report: Report = {
      name: this.def.name,
      runId: this.journal.runId,
      result,
      message,
      startedAt: this.journal.startedAt,
      endedAt: this.now(),
      steps: this.records,
      passes: this.passes,
      window: { startedAt: w0 !== null ? new Date(w0).toISOString() : null, endedAt: w1 !== null ? new Date(w1).toISOString() : null, ms: w0 !== null && w1 !== null ? w1 - w0 : null },
    };
    const status = keepRunning ? 'running' : result === 'done' ? 'done' : result === 'rolled-back' ? 'rolled-back' : result === 'rollback-failed' ? 'running' : 'failed';
    this.journal = { ...this.journal, status };
    this.save();
    this.store.saveReport(report);
    this.printReport(report);
    const code = forced ?? (result === 'done' ? EXIT.done : result === 'rolled-back' ? EXIT.rolledBack : result === 'rollback-failed' ? EXIT.rollbackFailed : result === 'interrupted' ? EXIT.interrupted : EXIT.failed);
    return { code, report };
  }

  private printReport(r: Report): void {
    const o = this.out;
    o.line(`\n${o.bold(`report: ${r.name} ${r.result}`)} (run ${r.runId}): ${r.message}`);
    for (const s of r.steps) if (s.status !== 'skipped') o.line(`  ${s.status.padEnd(11)} ${seconds(s.ms).padStart(9)}  ${s.on.padEnd(14)} ${s.title}`);
    r.passes.forEach((p) => o.line(`  pass ${p.pass}: moved ${bytes(p.movedBytes)}, ${bytes(p.remainingBytes)} left, ${seconds(p.ms)}`));
    if (r.window.ms !== null) o.line(o.bold(`  downtime window: ${seconds(r.window.ms)} (from the stop to the first successful verification)`));
    else if (r.window.startedAt) o.line(o.bold('  downtime window: started, never ended by a successful verification'));
    o.line(`  report written to ${this.store.reportPath(r)}`);
  }

  private markWindow(kind: 'start' | 'end', at: number): void {
    if (kind === 'start' && this.journal.windowStart === null) this.journal = { ...this.journal, windowStart: at };
    if (kind === 'end') this.journal = { ...this.journal, windowEnd: at };
  }

  private async step(s: Step, i: number): Promise<void> {
    const o = this.out;
    const started = this.clock();
    o.line(`${o.dim(`[${i + 1}/${this.def.steps.length}]`)} ${s.phase} ${o.bold(where(s))}: ${s.title}${s.window ? o.yellow(' [downtime]') : ''}`);
    if (s.window) this.markWindow('start', started);
    this.journal = { ...this.journal, steps: { ...this.journal.steps, [s.id]: { status: 'running', ms: 0 } } };
    this.save();
    try {
      await this.perform(s);
    } catch (e) {
      const ms = this.clock() - started;
      this.records.push({ id: s.id, phase: s.phase, title: s.title, on: where(s), status: 'failed', ms });
      this.journal = { ...this.journal, steps: { ...this.journal.steps, [s.id]: { status: 'failed', ms } } };
      this.save();
      throw e;
    }
    const ms = this.clock() - started;
    this.records.push({ id: s.id, phase: s.phase, title: s.title, on: where(s), status: 'done', ms });
    this.journal = { ...this.journal, steps: { ...this.journal.steps, [s.id]: { status: 'done', ms } }, passes: this.passes };
    this.save();
    o.line(`  ${o.green('ok')} ${o.dim(seconds(ms))}`);
  }

  private async sh(s: Step, sc: Script, accept: readonly number[] = [], stream = false): Promise<ExecResult> {
    const o = this.out;
    let last = 0;
    const r = await this.exec.run(sc.on, sc.script, {
      signal: this.opts.signal,
      forwardAgent: this.opts.forwardAgent && (s.kind === 'converge' || s.id === 'final-pass' || s.id === 'copy-identical'),
      stream: stream ? (chunk) => {
        // rsync --info=progress2: a live line on a terminal, a line every 5 s otherwise.
        const lines = chunk.split(/[\r\n]/).filter((l) => /\d+%/.test(l));
        const latest = lines[lines.length - 1];
        if (!latest) return;
        if (o.tty) process.stdout.write(`\r  ${latest.trim().slice(0, 100)}\u001b[K`);
        else if (this.clock() - last > 5000) { last = this.clock(); o.line(`  ${latest.trim()}`); }
      } : undefined,
    });
    if (stream && o.tty) process.stdout.write('\r\u001b[K');
    if (this.opts.signal?.aborted) throw new StepFailure(s, 'interrupted', true);
    if (r.code !== 0 && !accept.includes(r.code)) throw new StepFailure(s, `exit ${r.code} on ${sc.on}${tail(r) ? `:\n${tail(r)}` : ''}`);
    return r;
  }

  private async perform(s: Step): Promise<void> {
    switch (s.kind) {
      case 'command': {
        await this.sh(s, s.run, s.acceptExit ?? [], s.id === 'final-pass');
        return;
      }
      case 'check': {
        const r = await this.exec.run(s.run.on, s.run.script, { signal: this.opts.signal, forwardAgent: this.opts.forwardAgent && s.id === 'copy-identical' });
        if (this.opts.signal?.aborted) throw new StepFailure(s, 'interrupted', true);
        if (r.code !== 0) throw new StepFailure(s, `${s.failure}${tail(r) ? `\n${tail(r)}` : ''}`);
        return;
      }
      case 'compare': {
        const [l, r] = await Promise.all([this.sh(s, s.left), this.sh(s, s.right)]);
        const a = l.stdout.trim(); const b = r.stdout.trim();
        if (s.mode === 'equal' ? a !== b : !(Number(a) * 1.1 <= Number(b) && a !== '' && b !== '')) {
          throw new StepFailure(s, `${s.failure} (${s.left.on}: ${a.slice(0, 80) || 'nothing'}; ${s.right.on}: ${b.slice(0, 80) || 'nothing'})`);
        }
        if (s.mode === 'fits') this.out.line(`  ${s.left.on}: ${bytes(Number(a))} needed, ${s.right.on}: ${bytes(Number(b))} free`);
        return;
      }
      case 'converge': {
        for (let pass = this.passes.length + 1; ; pass++) {
          const t0 = this.clock();
          const ran = await this.sh(s, s.run, s.acceptExit, true);
          const m = await this.sh(s, s.measure, s.acceptExit);
          const remaining = Number(m.stdout.trim().split('\n').pop() ?? 'NaN');
          if (!Number.isFinite(remaining)) throw new StepFailure(s, `could not read the remaining transfer size from: ${m.stdout.trim().slice(0, 200)}`);
          const rec: PassRecord = { pass, movedBytes: transferredBytes(ran.stdout), remainingBytes: remaining, ms: this.clock() - t0 };
          this.passes.push(rec);
          this.journal = { ...this.journal, passes: this.passes };
          this.save();
          const predicted = remaining / s.bandwidthBytesPerSecond;
          this.out.line(`  pass ${pass}: moved ${bytes(rec.movedBytes)} in ${seconds(rec.ms)}; a final pass would move ${bytes(remaining)} (~${predicted.toFixed(1)} s at ${bytes(s.bandwidthBytesPerSecond)}/s)`);
          if (remaining < s.thresholdBytes) return;
          if (pass >= s.maxPasses) { this.out.line(this.out.yellow(`  still ${bytes(remaining)} after ${pass} passes: the final pass will take longer than planned`)); return; }
        }
      }
      case 'probe': {
        const deadline = this.clock() + s.deadlineSeconds * 1000;
        let last: ExecResult | null = null;
        for (;;) {
          last = await this.exec.run(s.run.on, s.run.script, { signal: this.opts.signal });
          if (this.opts.signal?.aborted) throw new StepFailure(s, 'interrupted', true);
          if (last.code === 0) { if (s.endsWindow) this.markWindow('end', this.clock()); return; }
          if (s.fatalExit?.includes(last.code)) throw new StepFailure(s, `failed (exit ${last.code}, not retried): ${tail(last)}`);
          if (this.clock() + s.intervalSeconds * 1000 > deadline) break;
          await this.sleep(s.intervalSeconds * 1000);
        }
        throw new StepFailure(s, `still failing after ${s.deadlineSeconds} s: ${tail(last)}`);
      }
      case 'pending':
        throw new StepFailure(s, `not yet: ${s.reason}`);
      case 'note':
        this.out.line(`  ${s.text}`);
        return;
    }
  }
}
