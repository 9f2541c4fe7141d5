// The expected downtime window, shown in the plan before anything runs.
import type { Strategy } from '../types.js';
import type { MigrationPlan } from './types.js';

/** Seconds the cutover needs besides the final pass: stop, checks, start, route switch, first verification. */
const FIXED_WINDOW_SECONDS = 10;

/** `dnsSeconds`: the lowered TTL of records that switch inside the window (resolvers follow within it). */
export function windowEstimate(strategy: Strategy, sync: MigrationPlan['sync'], dnsSeconds: number | null = null): MigrationPlan['window'] {
  const w = base(strategy, sync);
  if (dnsSeconds === null) return w;
  return { estimateSeconds: w.estimateSeconds === null ? null : w.estimateSeconds + dnsSeconds, basis: `${w.basis}, plus up to ${dnsSeconds} s (the lowered TTL) until every resolver answers the new DNS record` };
}

function base(strategy: Strategy, sync: MigrationPlan['sync']): MigrationPlan['window'] {
  if (strategy === 'cold') return { estimateSeconds: null, basis: `a full copy of the state at ${sync.bandwidthBytesPerSecond} B/s plus about ${FIXED_WINDOW_SECONDS} s; preflight measures the state's size` };
  if (strategy === 'hot') return { estimateSeconds: FIXED_WINDOW_SECONDS, basis: 'replication lag below the threshold at the freeze, plus stop, sequence sync, start and route switch' };
  return {
    estimateSeconds: Math.ceil(sync.thresholdBytes / sync.bandwidthBytesPerSecond) + FIXED_WINDOW_SECONDS,
    basis: `final pass below ${sync.thresholdBytes} bytes at ${sync.bandwidthBytesPerSecond} B/s, plus about ${FIXED_WINDOW_SECONDS} s for stop, checks, start and route switch`,
  };
}
