// Hot migration: PostgreSQL logical replication from the old host to the new one, with a write
// freeze whose length does not depend on the data: replica identity and large objects checked
// before anything is created, a pg_dumpall kept as the safety net, schema first (its text the
// baseline that detects DDL), readiness from pg_subscription_rel, lag from the slot, a freeze of
// O(tables) checks, snapshots of the frozen state compared table by table after the start, no
// slot, publication or role left behind, and a rollback that keeps the new host's writes.
import { cmd } from '../shell.js';
import type { Ctx } from '../types.js';
import { inside, pgDir } from './psql.js';
import { appStarted } from './target.js';

export { pgPreflight } from './identity.js';
export { pgPrepare } from './prepare.js';
export { pgSync } from './replicate.js';
export { pgFreeze } from './freeze.js';
export { pgCompare } from './snapshot.js';
export { pgCleanup } from './cleanup.js';
export { pgDumpall, pgDumpNote } from './dump.js';
export { pgSizes } from './sizes.js';

/** The application alone (the database keeps running): its unit, and how to stop and start it. */
export function pgApp(c: Ctx): { unit: string; stop: string; start: string } {
  const unit = c.nixosService ?? c.unit;
  return { unit, stop: inside(c, cmd`systemctl stop ${unit}`), start: inside(c, cmd`systemctl start ${unit}`) };
}

export { isDatabaseDir } from '../../model/postgres.js';

/** On the new host, right before its application starts: from here a rollback keeps the database (renamed), since it may hold writes. */
export const pgTakesWrites = (c: Ctx): string => cmd`mkdir -p ${pgDir(c)} && date -u +%Y-%m-%dT%H:%M:%SZ > ${appStarted(c)}`;
