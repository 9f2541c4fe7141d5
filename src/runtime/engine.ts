// Executes a runbook: steps in order (a concurrent group at once), a journal for --resume, a lock
// on the old host, the downtime window, automatic rollback in reverse order, and a report.
import { randomBytes } from 'node:crypto';
import { hostname, userInfo } from 'node:os';
import type { RunbookDef } from '../runbook/def.js';
import { whereOf, type Step } from '../runbook/steps.js';
import { withDefaults } from '../runbook/defaults.js';
import { dryRun } from './dry-run.js';
import type { Executor } from './executor.js';
import type { JournalStore } from './journal.js';
import { lockHosts, lockScripts } from './lock.js';
import type { Out } from './output.js';
import { seconds } from './output.js';
import { fleetRange } from './fleet.js';
import { fleetJournal, follow, runFleet, type FleetResult } from './fleet-run.js';
import { perform } from './perform.js';
import { finish } from './report.js';
import { doneUndos, dryUndo, rollback } from './rollback.js';
import { RunState, StepFailure, tail } from './state.js';
import { EXIT, type Journal, type Report, type Result, type RunOptions } from './types.js';

const inCutover = (s: Step): boolean => s.phase === 'cutover' || s.phase === 'verify';

export class Engine {
  private readonly r: RunState;
  constructor(def: RunbookDef, exec: Executor, store: JournalStore, out: Out, private readonly opts: RunOptions, quote: (s: string) => string) {
    this.r = new RunState(def, exec, store, out, opts, quote);
  }

  dryRun(): number { return dryRun(this.r.def, this.r.out, this.r.quote); }

  async run(): Promise<{ code: number; report: Report | null }> {
    if (this.opts.dryRun) return { code: this.dryRun(), report: null };
    const { r } = this;
    const { def, out: o } = r;
    let previous = r.store.load();
    // The window runs on the fleet: a run this checkout did not start (another checkout, a lost
    // laptop) is read from the coordinator's host.
    if ((this.opts.resume || this.opts.rollbackOnly) && fleetRange(def) && (!previous || previous.status !== 'running')) {
      r.journal = previous ?? ({} as Journal);
      const remote = await fleetJournal(r);
      if (remote && remote.runId !== previous?.runId) {
        previous = { ...remote, status: 'running' };
        o.line(`found run ${remote.runId} of ${def.name} on ${def.to}, where its window ran`);
      }
    }
    if (this.opts.rollbackOnly) {
      if (!previous || previous.status !== 'running') { o.err(`migen: no unfinished run of ${def.name} to roll back`); return { code: EXIT.usage, report: null }; }
      r.journal = previous;
      r.passes = [...previous.passes];
      // A window handed to the fleet ends there first: the coordinator rolls back what it did
      // (asked to, when it still runs); the steps before it are undone from here.
      if (previous.fleet) {
        const end = await follow(r, true);
        if (end.result === 'detached') { o.err(`migen: ${end.message}`); return { code: EXIT.failed, report: null }; }
        o.line(`the coordinator on ${previous.fleet.host} ended: ${end.result}${end.message ? ` (${end.message})` : ''}`);
        if (end.result === 'rollback-failed') { await this.unlock(); return finish(r, 'rollback-failed', `the rollback on ${previous.fleet.host} is incomplete: ${end.message}`); }
      }
      const ok = await rollback(r);
      // The interrupted run still holds its locks (same run id): release them, as every other end of a run does.
      await this.unlock();
      return finish(r, ok ? 'rolled-back' : 'rollback-failed', ok ? 'rolled back on request' : 'rollback incomplete');
    }
    if (previous && previous.status === 'running' && !this.opts.resume) {
      const at = def.steps.find((s) => previous.steps[s.id]?.status !== 'done');
      o.err(`migen: an earlier run (${previous.runId}) of ${def.name} stopped before finishing${at ? `, at step ${at.id} (${at.title})` : ''}.\nRerun with --resume to continue it, or --rollback to undo what it did.`);
      return { code: EXIT.usage, report: null };
    }
    if (this.opts.resume && (!previous || previous.status === 'done')) {
      o.err(`migen: nothing to resume for ${def.name}: ${previous ? 'the last run finished' : 'no earlier run'}`);
      return { code: EXIT.usage, report: null };
    }
    r.journal = this.opts.resume && previous
      ? { ...previous, status: 'running' }
      : { runId: `${r.clock().toString(36)}-${randomBytes(3).toString('hex')}`, name: def.name, status: 'running', startedAt: r.now(), steps: {}, passes: [], windowStart: null, windowEnd: null };
    r.passes = [...r.journal.passes];
    if (this.opts.resume) o.line(`resuming run ${r.journal.runId} of ${def.name}`);
    r.save();

    const refused = await this.lock();
    if (refused) {
      o.err(`migen: ${refused}`);
      r.journal = { ...r.journal, status: 'failed' };
      r.save();
      return { code: EXIT.failed, report: null };
    }
    let result: Result = 'done';
    let message = 'migration finished';
    try {
      await this.steps();
    } catch (e) {
      if (!(e instanceof StepFailure)) throw e;
      const ended = await this.failed(e);
      if (ended.keepRunning) {
        await this.unlock();
        return finish(r, ended.result, ended.message, EXIT.failed, true);
      }
      ({ result, message } = ended);
    }
    await this.unlock();
    return finish(r, result, message);
  }

  private holder() {
    const { r } = this;
    return { run: r.journal.runId, migration: r.def.name, since: r.now(), pid: String(process.pid), by: `${userInfo().username}@${hostname()}` };
  }

  /** Locks every host of the run, in a fixed order; on a refusal releases what it took and says who holds it. */
  private async lock(): Promise<string | null> {
    const { r } = this;
    const { acquire, release } = lockScripts(r.def, this.holder(), r.quote);
    const taken: string[] = [];
    for (const h of lockHosts(r.def)) {
      const got = await r.exec.run(acquire(h));
      if (got.code === 0) { taken.push(h); continue; }
      for (const t of taken) await r.exec.run(release(t));
      if (got.code !== 75) return `cannot take the lock ${r.def.lock.path} on ${h} (exit ${got.code}${tail(got) ? `: ${tail(got)}` : ''}); nothing was changed`;
      return `${tail(got)}\nThat run may still be going; if it crashed, \`migen status\` shows its state and \`migen unlock NAME\` lifts its locks.`;
    }
    return null;
  }

  /** Releases the run's locks; one left on a host out of reach is named, with the command that lifts it. */
  private async unlock(): Promise<void> {
    const { r } = this;
    const { release } = lockScripts(r.def, this.holder(), r.quote);
    const left: string[] = [];
    for (const h of lockHosts(r.def)) if ((await r.exec.run(release(h))).code !== 0) left.push(h);
    if (left.length) r.out.err(r.out.yellow(`migen: could not release the lock on ${left.join(', ')} (out of reach?): once it answers, \`migen unlock ${r.def.name}\` lifts it`));
  }

  /** Every step not done yet, in order; consecutive steps of one concurrent group at once; the fleet steps handed to the coordinator. */
  private async steps(): Promise<void> {
    const { r } = this;
    const steps = r.def.steps;
    const fleet = fleetRange(r.def);
    let confirmed = this.opts.yes;
    for (let i = 0; i < steps.length; i++) {
      const s = steps[i]!;
      if (r.journal.steps[s.id]?.status === 'done') { r.records.push({ id: s.id, phase: s.phase, title: s.title, on: whereOf(s), status: 'skipped', ms: 0 }); continue; }
      const stops = fleet && i === fleet[0] ? steps.slice(fleet[0], fleet[1] + 1).find((x) => x.stopsService) : s.stopsService ? s : undefined;
      if (stops && !confirmed && !r.journal.fleet) {
        const go = await this.opts.confirm(`Step ${steps.indexOf(stops) + 1} stops ${stops.title.replace(/^(fence and )?stop /, '')}: the downtime window starts. Continue?`);
        if (!go) throw new StepFailure(s, 'stopped at the confirmation prompt; nothing was stopped');
        confirmed = true;
      }
      if (fleet && i === fleet[0]) {
        if (r.aborted) throw new StepFailure(s, 'interrupted', true);
        const end = await runFleet(r, this.opts.noRollback);
        if (end.result !== 'done') throw new FleetEnded(s, end.result, end.message);
        i = fleet[1];
        continue;
      }
      if (r.aborted) throw new StepFailure(s, 'interrupted', true);
      // When one of a group fails, the others still finish, then everything done is undone.
      const batch = [s];
      while (s.concurrent) {
        const next = steps[i + batch.length];
        if (!next || next.concurrent !== s.concurrent || next.window !== s.window || next.phase !== s.phase || r.journal.steps[next.id]?.status === 'done') break;
        batch.push(next);
      }
      const results = await Promise.allSettled(batch.map((b, k) => this.step(b, i + k)));
      const failed = results.find((x): x is PromiseRejectedResult => x.status === 'rejected');
      if (failed) throw failed.reason;
      i += batch.length - 1;
    }
  }

  private async step(s: Step, i: number): Promise<void> {
    const { r } = this;
    const o = r.out;
    const started = r.clock();
    const win = withDefaults(s).window;
    o.line(`${o.dim(`[${i + 1}/${r.def.steps.length}]`)} ${s.phase} ${o.bold(whereOf(s))}: ${s.title}${win ? o.yellow(' [downtime]') : ''}`);
    if (win) r.markWindow('start', started);
    r.setStep(s.id, 'running', 0);
    try {
      await perform(r, s);
    } catch (e) {
      const ms = r.clock() - started;
      r.records.push({ id: s.id, phase: s.phase, title: s.title, on: whereOf(s), status: 'failed', ms });
      r.setStep(s.id, 'failed', ms);
      throw e;
    }
    const ms = r.clock() - started;
    r.records.push({ id: s.id, phase: s.phase, title: s.title, on: whereOf(s), status: 'done', ms });
    r.setStep(s.id, 'done', ms);
    o.line(`  ${o.green('ok')} ${o.dim(seconds(ms))}`);
  }

  /** What a failed step means: a rollback once the cutover started, else cleanup of what preparation created. */
  private async failed(e: StepFailure): Promise<{ result: Result; message: string; keepRunning?: boolean }> {
    const { r } = this;
    const o = r.out;
    const s = e.step;
    if (e instanceof FleetEnded) return this.fleetEnded(e);
    // Rollback once any cutover step has started (the confirmation prompt comes before that).
    // (A window on the fleet rolls back there: see fleetEnded.)
    const cut = r.def.steps.some((x) => inCutover(x) && r.journal.steps[x.id] !== undefined);
    const undos = doneUndos(r);
    if (cut && !this.opts.noRollback) {
      o.err(o.red(`\nstep ${s.id} failed: ${e.message}\nrolling back`));
      const ok = await rollback(r);
      return ok
        ? { result: 'rolled-back', message: `rolled back after ${s.id} failed: ${e.message}` }
        : { result: 'rollback-failed', message: `rollback incomplete after ${s.id} failed: ${e.message}` };
    }
    if (cut || (this.opts.noRollback && undos.length > 0)) {
      o.err(o.red(`\nstep ${s.id} failed: ${e.message}\n--no-rollback: nothing undone. To undo by hand, in this order:`));
      for (const x of undos) dryUndo(r, x);
      r.journal = { ...r.journal, status: 'running' };
      r.save();
      return { result: 'failed', message: `${s.id} failed (no rollback): ${e.message}`, keepRunning: true };
    }
    // Before the cutover: undo what preparation created (a publication, a subscription), nothing else.
    const cleaned = undos.length === 0 || await rollback(r);
    let message = e.interrupted ? `interrupted during ${s.id}; no service was stopped` : `${s.id}: ${e.message}; no service was stopped`;
    if (undos.length && cleaned) message += ` (undone: ${undos.map((x) => x.id).join(', ')})`;
    o.err(o.red(`\nmigen: ${message}`));
    return { result: !cleaned ? 'rollback-failed' : e.interrupted ? 'interrupted' : 'failed', message };
  }

  /** The window ended on the fleet: the coordinator's own outcome (it rolled back by itself, or could not, or was told not to). */
  private fleetEnded(e: FleetEnded): { result: Result; message: string; keepRunning?: boolean } {
    const { r } = this;
    const host = r.journal.fleet?.host ?? r.def.to;
    switch (e.result) {
      case 'rolled-back': return { result: 'rolled-back', message: `rolled back on ${host}: ${e.message}` };
      case 'rollback-failed': return { result: 'rollback-failed', message: `the rollback on ${host} is incomplete: ${e.message}` };
      case 'detached': return { result: 'interrupted', message: e.message, keepRunning: true };
      case 'lost': r.out.err(r.out.red(`\n${e.message}`)); return { result: 'failed', message: e.message, keepRunning: true };
      default: {
        r.out.err(r.out.red(`\nthe cutover on ${host} failed and was not rolled back (--no-rollback): ${e.message}\nTo undo by hand, in this order:`));
        for (const x of doneUndos(r)) dryUndo(r, x);
        return { result: 'failed', message: `failed on ${host} (no rollback): ${e.message}`, keepRunning: true };
      }
    }
  }
}

/** The coordinator on the fleet ended the window without success (it rolled back by itself, or could not). */
class FleetEnded extends StepFailure {
  constructor(step: Step, readonly result: Exclude<FleetResult, 'done'>, message: string) { super(step, message); }
}
