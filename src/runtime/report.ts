// The end of a run: the report (step timings, copy passes, the downtime window) saved beside the
// journal and printed, and the exit code.
import { bytes, seconds } from './output.js';
import type { RunState } from './state.js';
import { EXIT, type Report, type Result } from './types.js';

export function finish(r: RunState, result: Result, message: string, forced?: number, keepRunning = false): { code: number; report: Report } {
  const w0 = r.journal.windowStart;
  const w1 = r.journal.windowEnd;
  const report: Report = {
    name: r.def.name,
    runId: r.journal.runId,
    result,
    message,
    startedAt: r.journal.startedAt,
    endedAt: r.now(),
    steps: r.records,
    passes: r.passes,
    window: { startedAt: w0 !== null ? new Date(w0).toISOString() : null, endedAt: w1 !== null ? new Date(w1).toISOString() : null, ms: w0 !== null && w1 !== null ? w1 - w0 : null },
  };
  const status = keepRunning || result === 'rollback-failed' ? 'running' : result === 'done' ? 'done' : result === 'rolled-back' ? 'rolled-back' : 'failed';
  r.journal = { ...r.journal, status };
  r.save();
  r.store.saveReport(report);
  print(r, report);
  const code = forced ?? (result === 'done' ? EXIT.done : result === 'rolled-back' ? EXIT.rolledBack : result === 'rollback-failed' ? EXIT.rollbackFailed : result === 'interrupted' ? EXIT.interrupted : EXIT.failed);
  return { code, report };
}

function print(r: RunState, rep: Report): void {
  const o = r.out;
  o.line(`\n${o.bold(`report: ${rep.name} ${rep.result}`)} (run ${rep.runId}): ${rep.message}`);
  for (const s of rep.steps) if (s.status !== 'skipped') o.line(`  ${s.status.padEnd(11)} ${seconds(s.ms).padStart(9)}  ${s.on.padEnd(14)} ${s.title}`);
  rep.passes.forEach((p) => o.line(`  pass ${p.pass}: moved ${bytes(p.movedBytes)}, ${bytes(p.remainingBytes)} left, ${seconds(p.ms)}`));
  if (rep.window.ms !== null) o.line(o.bold(`  downtime window: ${seconds(rep.window.ms)} (from the stop to the first successful verification)`));
  else if (rep.window.startedAt) o.line(o.bold('  downtime window: started, never ended by a successful verification'));
  o.line(`  report written to ${r.store.reportPath(rep)}`);
}
