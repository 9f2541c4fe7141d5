// Prepare of a hot migration, in an order a rollback can always finish on the old host: the
// servers ready, the roles copied, then what the new host holds (the database, its schema), then
// what the old host holds (the replication role, the publication, the subscription's slot). A
// rollback undoes in reverse, so everything on the old host is gone before the first undo that
// needs the new host, which may be out of reach.
import { cmd, q } from '../shell.js';
import { on, stepsOf } from '../step.js';
import type { Ctx, Step } from '../types.js';
import { pgPublication, pgSubscription } from './publish.js';
import { inside } from './psql.js';
import { pgReplicationRole, pgRoles } from './roles.js';
import { pgServers } from './server.js';
import { pgDatabase, pgSchema } from './target.js';

const { check } = stepsOf('prepare');

export function pgPrepare(c: Ctx, app: string): Step[] {
  const d = c.database!;
  const { from, to } = c;
  return [
    ...pgServers(c, app),
    pgRoles(c),
    ...d.databases.flatMap((db) => [pgDatabase(c, db), pgSchema(c, db)]),
    ...d.databases.flatMap((db) => [
      pgReplicationRole(c, db),
      // The password travels in the environment of psql, read from the file where psql runs.
      check(`pg-connect-${db}`, `${to.name} can log in to ${db} on ${from.name} as ${d.role} (pg_hba, listen address, firewall, password)`,
        on(to.name, `${inside(c, cmd`bash -c ${`PGPASSWORD="$(cat ${q(d.secretFiles.new)})" exec ${cmd`psql -X -At -h ${from.address} -p ${d.ports.old} -U ${d.role} -d ${db} -c ${'SELECT 1'}`}`}`)} | grep -qx 1`),
        `${to.name} cannot reach ${db} on ${from.name}:${d.ports.old} as ${d.role}: check the deployed pg_hba entry, listen_addresses and the mesh firewall`),
    ]),
    ...d.databases.flatMap((db) => [pgPublication(c, db), pgSubscription(c, db)]),
  ];
}
