// Hot migration: PostgreSQL logical replication from the old host to the new one, with a cutover
// of seconds: replica identity checked before anything is created, schema first, readiness from
// pg_subscription_rel, lag from the slot, a freeze that makes every role read-only, sequences
// copied, per-table checksums, and no slot left behind.
import { cmd } from '../shell.js';
import type { Ctx } from '../types.js';
import { inside } from './psql.js';

export { pgPreflight } from './identity.js';
export { pgPrepare } from './prepare.js';
export { pgSync } from './replicate.js';
export { pgCleanup, pgFreeze } from './freeze.js';
export { pgSizes } from './sizes.js';

/** The application alone (the database keeps running): its unit, and how to stop and start it. */
export function pgApp(c: Ctx): { unit: string; stop: string; start: string } {
  const unit = c.nixosService ?? c.unit;
  return { unit, stop: inside(c, cmd`systemctl stop ${unit}`), start: inside(c, cmd`systemctl start ${unit}`) };
}

export { isDatabaseDir } from '../../model/postgres.js';
