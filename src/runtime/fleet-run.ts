// The operator's side of the window on the fleet: hand the fleet steps to the coordinator on the
// new host, then follow its journal there, printing its progress and keeping the operator's
// journal in step. The operator may disappear at any moment: the coordinator goes on, and a
// resumed run reattaches to the same journal.
import { whereOf, type Step } from '../runbook/steps.js';
import { withDefaults } from '../runbook/defaults.js';
import { seconds } from './output.js';
import { GUARD_SECONDS } from '../runbook/def.js';
import { abortScript, bundleFiles, coordinatorHost, currentRunScript, cutoverUnit, fleetRange, handoverScript, parseEvents, readJournalScript, splitRead, type FleetEvent } from './fleet.js';
import type { Journal } from './types.js';
import { RunState, StepFailure, tail } from './state.js';

/** `lost`: the coordinator's unit ended without a result (killed for good, its host rebooted): the guards decide. */
export type FleetResult = 'done' | 'rolled-back' | 'rollback-failed' | 'failed' | 'detached' | 'lost';

/** Hands the window over (unless it already was) and follows it to its result. */
export async function runFleet(r: RunState, noRollback: boolean): Promise<{ result: FleetResult; message: string }> {
  const { def } = r;
  const range = fleetRange(def)!;
  const host = coordinatorHost(def);
  const runId = r.journal.runId;
  if (!r.journal.fleet) {
    r.journal = { ...r.journal, fleet: { host, runId } };
    r.save();
  }
  const h = await r.exec.run({ on: host, script: handoverScript(def, runId, bundleFiles(def, r.journal, noRollback)) });
  if (h.code !== 0) {
    const first = def.steps[range[0]]!;
    // Nothing ran on the fleet: the window never started.
    r.journal = { ...r.journal, fleet: undefined };
    r.save();
    throw new StepFailure(first, `cannot start the cutover's coordinator on ${host} (exit ${h.code}${tail(h) ? `: ${tail(h)}` : ''})`);
  }
  r.out.line(r.out.bold(`${h.stdout.includes('already started') ? 'reattached: ' : ''}the window runs on ${host} (transient unit ${cutoverUnit(def)}): it finishes or rolls back by itself; this terminal follows it`));
  return follow(r);
}

/** The run of this migration the coordinator's host holds (a resume from another checkout), or null. */
export async function fleetJournal(r: RunState): Promise<Journal | null> {
  const got = await r.exec.run({ on: coordinatorHost(r.def), script: currentRunScript(r.def) });
  if (got.code !== 0) return null;
  try {
    const j = JSON.parse(got.stdout) as Journal;
    return j && typeof j.runId === 'string' && j.name === r.def.name ? { ...j, fleet: { host: coordinatorHost(r.def), runId: j.runId } } : null;
  } catch { return null; }
}

/**
 * Follows the coordinator's journal until its result; an interrupt (or `abort`: a --rollback of a
 * run whose window is still going) asks it to roll back; detaches when the host is out of reach.
 */
export async function follow(r: RunState, abort = false): Promise<{ result: FleetResult; message: string }> {
  const { def } = r;
  const host = coordinatorHost(def);
  const runId = r.journal.fleet!.runId;
  const started = new Map<string, number>();
  let offset = 0;
  let lost = false;
  let abortSent = false;
  let gone = 0;
  for (;;) {
    if ((r.aborted || abort) && !abortSent) {
      const a = await r.exec.run({ on: host, script: abortScript(def, runId) });
      if (a.code !== 0) return { result: 'detached', message: `interrupted while ${host} was out of reach: the cutover goes on there; reattach with migen run ${def.name} --resume` };
      abortSent = true;
      r.out.err(r.out.yellow(`asked the coordinator on ${host} to roll back`));
    }
    const got = await r.exec.run({ on: host, script: readJournalScript(def, runId, offset) });
    if (got.code !== 0) {
      if (!lost) r.out.err(r.out.yellow(`lost the connection to ${host}: the cutover goes on there; still trying (or reattach later with --resume)`));
      lost = true;
      await r.sleep(500);
      continue;
    }
    if (lost) { r.out.line(`reconnected to ${host}`); lost = false; }
    const { unit, text } = splitRead(got.stdout);
    const complete = text.slice(0, text.lastIndexOf('\n') + 1);
    offset += Buffer.byteLength(complete);
    for (const ev of parseEvents(complete)) {
      const end = apply(r, ev, started);
      if (end) return end;
    }
    // Read after the state: an inactive unit whose whole journal gave no result is gone for good
    // (a restart in between shows as activating).
    if (!['active', 'activating', 'reloading', 'deactivating'].includes(unit)) {
      if (++gone >= 3) return { result: 'lost', message: `the coordinator on ${host} stopped without a result (its unit is ${unit || 'gone'}): the guards revert what it changed within ${GUARD_SECONDS} s of its last heartbeat; \`migen status ${def.name}\` shows where the hosts stand, \`migen run ${def.name} --rollback\` undoes the rest` };
    } else gone = 0;
    await r.sleep(150);
  }
}

function apply(r: RunState, ev: FleetEvent, started: Map<string, number>): { result: FleetResult; message: string } | null {
  const o = r.out;
  const step: Step | undefined = ev.id ? r.def.steps.find((s) => s.id === ev.id) : undefined;
  switch (ev.event) {
    case 'restart': o.err(o.yellow('the coordinator was restarted: it rolls back an unfinished window')); break;
    case 'instruct': o.line(o.yellow(`  ACTION NEEDED${step ? ` (${step.id})` : ''}: ${ev.message.trim()}`)); break;
    case 'window-start': r.markWindow('start', ev.t); r.save(); break;
    case 'window-end': r.markWindow('end', ev.t); r.save(); break;
    case 'run':
      if (!step) break;
      started.set(step.id, ev.t);
      o.line(`${o.dim(`[${(ev.idx ?? 0)}/${r.def.steps.length}]`)} ${step.phase} ${o.bold(whereOf(step))}: ${step.title}${withDefaults(step).window ? o.yellow(' [downtime]') : ''} ${o.dim(`(on ${r.def.to})`)}`);
      r.setStep(step.id, 'running', 0);
      break;
    case 'done': case 'failed': {
      if (!step) break;
      const ms = ev.t - (started.get(step.id) ?? ev.t);
      r.records.push({ id: step.id, phase: step.phase, title: step.title, on: whereOf(step), status: ev.event, ms });
      r.setStep(step.id, ev.event, ms);
      if (ev.event === 'done') o.line(`  ${o.green('ok')} ${o.dim(seconds(ms))}`);
      else o.err(o.red(`  failed (${step.id}): ${ev.message.trim()}`));
      break;
    }
    case 'undone': case 'undo-failed': {
      if (!step) break;
      r.records.push({ id: step.id, phase: 'rollback', title: `undo: ${step.title}`, on: whereOf(step), status: ev.event, ms: 0 });
      r.setStep(step.id, ev.event, 0);
      o.line(`  undo ${step.id}: ${ev.event === 'undone' ? o.green('ok') : o.red(`failed: ${ev.message.trim()}`)}`);
      if (ev.event === 'undone' && ev.message.trim()) for (const l of ev.message.trim().split('\n')) o.line(`    ${l}`);
      break;
    }
    case 'result': {
      const result = (['done', 'rolled-back', 'rollback-failed', 'failed'].includes(ev.id ?? '') ? ev.id : 'failed') as FleetResult;
      return { result, message: ev.message.trim() };
    }
    default: break;
  }
  return null;
}
