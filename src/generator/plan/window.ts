// The expected downtime window, shown in the plan before anything runs.
import type { Strategy } from '../types.js';
import type { MigrationPlan } from './types.js';

/** Seconds the cutover needs besides the final pass: stop, checks, start, route switch, first verification. */
const FIXED_WINDOW_SECONDS = 10;

export function windowEstimate(strategy: Strategy, sync: MigrationPlan['sync']): MigrationPlan['window'] {
  if (strategy === 'cold') return { estimateSeconds: null, basis: `a full copy of the state at ${sync.bandwidthBytesPerSecond} B/s plus about ${FIXED_WINDOW_SECONDS} s; preflight measures the state's size` };
  if (strategy === 'hot') return { estimateSeconds: FIXED_WINDOW_SECONDS, basis: 'stop, freeze, the slot catching up from a lag below the threshold, O(tables) checks and snapshots, start and route switch: independent of the database size (the full comparison runs after the start)' };
  return {
    estimateSeconds: Math.ceil(sync.thresholdBytes / sync.bandwidthBytesPerSecond) + FIXED_WINDOW_SECONDS,
    basis: `final pass below ${sync.thresholdBytes} bytes at ${sync.bandwidthBytesPerSecond} B/s, plus about ${FIXED_WINDOW_SECONDS} s for stop, checks, start and route switch`,
  };
}
