// The expected downtime window, shown in the plan before anything runs: a model calibrated on
// the lab's measurements (bench/results/window.md, re-measured with `node bench/window.mjs`).
import type { Strategy } from '../types.js';
import type { MigrationPlan } from './types.js';

/**
 * Milliseconds, from bench/results/window.md: the copy's fixed and per-file costs under load
 * (bench/downtime's migen runs at 5,003 and 20,004 files), the delta's throughput fitted over 27
 * final passes between two lab hosts, and the medians of the window's other steps in
 * bench/downtime's migen runs.
 */
export const LAB = {
  finalMs: 204, finalPerFileMs: 0.0224, bytesPerSecond: 229_000_000,
  verifyMs: 298, verifyPerFileMs: 0.0229,
  stopMs: 188, startOrSwitchMs: 701, backendMs: 105, sqliteMs: 77, firstVerifyMs: 75,
} as const;
/**
 * Seconds per GiB of state for the dry run's checksums (rsync -n -c reads every file on both
 * hosts at once): 512 MiB in the page cache compared in 263-283 ms on the 2-core test machine,
 * rounded up; a state that is not cached reads at its disks' speed.
 */
export const CHECKSUM_SECONDS_PER_GIB = 0.6;

const s = (ms: number): number => Math.round(ms / 100) / 10;

/**
 * `dnsSeconds`: the lowered TTL of records that switch inside the window (resolvers follow within
 * it). `checksAtOnce`: the backend check and the first verification poll at the same time.
 */
export function windowEstimate(strategy: Strategy, sync: MigrationPlan['sync'], sqlite: number, dnsSeconds: number | null = null, checksAtOnce = false): MigrationPlan['window'] {
  const w = base(strategy, sync, sqlite, checksAtOnce);
  if (dnsSeconds === null) return w;
  return { ...w, estimateSeconds: w.estimateSeconds === null ? null : Math.round((w.estimateSeconds + dnsSeconds) * 10) / 10, basis: `${w.basis}, plus up to ${dnsSeconds} s (the lowered TTL) until every resolver answers the new DNS record` };
}

function base(strategy: Strategy, sync: MigrationPlan['sync'], sqlite: number, checksAtOnce: boolean): MigrationPlan['window'] {
  const rate = Math.min(sync.bandwidthBytesPerSecond, LAB.bytesPerSecond);
  const checks = checksAtOnce ? Math.max(LAB.backendMs, LAB.firstVerifyMs) : LAB.backendMs + LAB.firstVerifyMs;
  const fixed = LAB.stopMs + LAB.startOrSwitchMs + checks + sqlite * LAB.sqliteMs;
  const perThousandFilesSeconds = Math.round((LAB.finalPerFileMs + LAB.verifyPerFileMs) * 100) / 100;
  const checked = checksAtOnce
    ? `the longer of backend check ${LAB.backendMs} ms and first verification ${LAB.firstVerifyMs} ms (at once)`
    : `backend check ${LAB.backendMs} ms, first verification ${LAB.firstVerifyMs} ms`;
  const steps = `stop ${LAB.stopMs} ms, the longer of start and route switch ${LAB.startOrSwitchMs} ms, ${checked}${sqlite ? `, integrity_check ${LAB.sqliteMs} ms per SQLite database` : ''}`;
  const lab = '(lab measurements, bench/results/window.md)';
  if (strategy === 'cold') {
    return { estimateSeconds: null, perThousandFilesSeconds, basis: `a full copy of the state at ${rate} B/s, plus ${s(LAB.finalMs + LAB.verifyMs)} s and ${perThousandFilesSeconds} s per 1,000 files for the copy and the dry run proving it, plus ${CHECKSUM_SECONDS_PER_GIB} s per GiB for its checksums, plus ${steps} ${lab}; preflight measures the state's size` };
  }
  if (strategy === 'hot') {
    // The freeze runs O(1) and O(tables) checks; the full comparison runs after the start.
    return { estimateSeconds: 10, perThousandFilesSeconds: 0, basis: 'stop, freeze, the slot catching up from a lag below the threshold, O(tables) checks and snapshots, start and route switch: independent of the database size (the full comparison runs after the start; not calibrated by bench/window)' };
  }
  const delta = (sync.thresholdBytes / rate) * 1000;
  return {
    estimateSeconds: s(fixed + LAB.finalMs + LAB.verifyMs + delta),
    perThousandFilesSeconds,
    basis: `final pass of at most ${sync.thresholdBytes} bytes at ${rate} B/s (${s(delta)} s) plus ${s(LAB.finalMs)} s, the dry run proving the copies equal ${s(LAB.verifyMs)} s (both walk every file) plus ${CHECKSUM_SECONDS_PER_GIB} s per GiB of state (both read it for the checksums); ${steps} ${lab}`,
  };
}
