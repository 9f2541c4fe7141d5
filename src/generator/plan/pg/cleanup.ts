// After the verification, on the old host: what the migration created there goes, whatever a
// later run or rollback does (the regenerated modules drop the pg_hba entry and the settings after
// finalize): the publication, any slot left (a repeated or interrupted window), the replication
// role and its privileges. Each part safe to repeat.
import { ident } from '../sql.js';
import { on, stepsOf } from '../step.js';
import type { Ctx, Step } from '../types.js';
import { dropSlots } from './publish.js';
import { psql, READ_WRITE } from './psql.js';
import { dropReplicationRole } from './roles.js';

export function pgCleanup(c: Ctx): Step[] {
  const d = c.database!;
  const { command } = stepsOf('verify');
  return d.databases.map((db) => command(`pg-cleanup-${db}`, `drop the publication, any slot left and the replication role ${d.role} (with its privileges on ${db}) on ${c.from.name}`,
    on(c.from.name, [
      psql(c, d.ports.old, db, `${READ_WRITE}DROP PUBLICATION IF EXISTS ${ident(d.publication)};`),
      dropSlots(c, db),
      dropReplicationRole(c, db, '>/dev/null'),
    ].join('\n'))));
}
