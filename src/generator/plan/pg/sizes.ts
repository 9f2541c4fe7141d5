// PostgreSQL sizes for logical replication: what the generated modules set, and what the runbook
// checks is free, decided together (STATE-COPY.md: the defaults of 10 are a floor).
import type { PgSizes } from '../types.js';

export function pgSizes(databases: number): PgSizes {
  return {
    // A slot nobody reads (a run interrupted while the new host is away) holds WAL until it is
    // dropped: at most this much, then PostgreSQL invalidates it (the runbook notices, and
    // migen status shows the slot and what it retains), and the old host's disk does not fill.
    publisher: { maxReplicationSlots: 20, maxWalSenders: 20, maxSlotWalKeepSize: '8GB' },
    subscriber: { maxReplicationSlots: 20, maxLogicalReplicationWorkers: 8, maxWorkerProcesses: 16, maxSyncWorkersPerSubscription: 4 },
    need: { publisherFree: databases + 4, subscriberWorkers: databases + 2 },
  };
}
