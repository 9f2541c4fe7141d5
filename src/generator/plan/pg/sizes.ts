// PostgreSQL sizes for logical replication: what the generated modules set, and what the runbook
// checks is free, decided together (STATE-COPY.md: the defaults of 10 are a floor).
import type { PgSizes } from '../types.js';

export function pgSizes(databases: number): PgSizes {
  return {
    publisher: { maxReplicationSlots: 20, maxWalSenders: 20 },
    subscriber: { maxReplicationSlots: 20, maxLogicalReplicationWorkers: 8, maxWorkerProcesses: 16, maxSyncWorkersPerSubscription: 4 },
    need: { publisherFree: databases + 4, subscriberWorkers: databases + 2 },
  };
}
