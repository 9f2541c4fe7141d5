// Prepare of a hot migration, before anything is created on either server: settings that need a
// restart, room for the replication, the new server started, every extension installable there.
import { cmd } from '../shell.js';
import { on, pipe, stepsOf } from '../step.js';
import type { Ctx, Step } from '../types.js';
import { inside, psql, psqlOut } from './psql.js';

const { command, check } = stepsOf('prepare');

export function pgServers(c: Ctx, app: string): Step[] {
  const d = c.database!;
  const { from, to } = c;
  const { old: po, new: pn } = d.ports;
  const { need } = d.sizes;
  return [
    command('pg-wal-level', `PostgreSQL on ${from.name} runs with wal_level=logical (restarts it once if the deployed setting is pending: a short interruption of writes)`,
      on(from.name, `lvl=${psqlOut(psql(c, po, 'postgres', 'SHOW wal_level;'))}
if [ "$lvl" != logical ]; then
  echo "wal_level is $lvl: restarting PostgreSQL on ${from.name} to apply the deployed wal_level=logical"
  ${inside(c, 'systemctl restart postgresql')}
  lvl=${psqlOut(psql(c, po, 'postgres', 'SHOW wal_level;'))}
  test "$lvl" = logical
fi`)),
    check('pg-headroom-old', `${from.name} has free replication slots and WAL senders for ${d.databases.length} subscription(s) and their table-sync workers`,
      on(from.name, psql(c, po, 'postgres', `SELECT CASE WHEN current_setting('max_replication_slots')::int - (SELECT count(*) FROM pg_replication_slots) >= ${need.publisherFree}
  AND current_setting('max_wal_senders')::int - (SELECT count(*) FROM pg_stat_replication) >= ${need.publisherFree}
  THEN 'ok' ELSE 'no headroom' END;`, { pipe: '| grep -qx ok' })),
      `max_replication_slots/max_wal_senders on ${from.name} leave no room: deploy the generated settings and restart PostgreSQL there`),
    command('pg-start-new', `start PostgreSQL on ${to.name} (the application stays stopped)`,
      on(to.name, c.container ? `${cmd`systemctl start ${c.unit}`}\n${inside(c, cmd`systemctl stop ${app}`)}` : 'systemctl start postgresql')),
    check('pg-headroom-new', `${to.name} has room for the apply and table-sync workers`,
      on(to.name, psql(c, pn, 'postgres', `SELECT CASE WHEN current_setting('max_logical_replication_workers')::int >= ${need.subscriberWorkers}
  AND current_setting('max_worker_processes')::int > current_setting('max_logical_replication_workers')::int
  AND current_setting('max_replication_slots')::int >= ${need.subscriberWorkers}
  THEN 'ok' ELSE 'no headroom' END;`, { pipe: '| grep -qx ok' })),
      `max_logical_replication_workers/max_worker_processes on ${to.name} are too low: deploy the generated settings and restart PostgreSQL there`),
    // The schema copy creates every extension the old database has: one the new server cannot
    // create would fail it half-way. Refused here, before anything exists on either server.
    ...d.databases.map((db) => check(`pg-extensions-${db}`, `every extension of ${db} on ${from.name} is available on ${to.name} (pg_available_extensions), checked before anything is created`, pipe(
      on(from.name, psql(c, po, db, "SELECT extname || ' ' || extversion FROM pg_extension ORDER BY 1;")),
      on(to.name, `have=$(${inside(c, cmd`runuser -u postgres -- psql -X -q -v ON_ERROR_STOP=1 -At -p ${pn} -d postgres -c ${'SELECT name FROM pg_available_extensions ORDER BY 1;'}`)})
missing=""
while read -r ext version; do
  if ! printf '%s\\n' "$have" | grep -qxF "$ext"; then missing="$missing $ext ($version)"; fi
done
if [ -n "$missing" ]; then echo ${cmd`${`${db} on ${from.name} uses extensions that ${to.name}'s PostgreSQL does not have:`}`}"$missing" >&2; exit 1; fi`),
    ), `${to.name}'s PostgreSQL lacks an extension ${db} uses on ${from.name}: add it on ${to.name} (services.postgresql.extensions, e.g. ps: [ ps.postgis ]), deploy, and run again; nothing was created`)),
  ];
}

/** Preflight: large objects live outside the tables and logical replication does not copy them. */
export function pgLargeObjects(c: Ctx): Step[] {
  const { check: pre } = stepsOf('preflight');
  const d = c.database!;
  return d.databases.map((db) => pre(`pg-large-objects-${db}`, `${db} on ${c.from.name} holds no large objects (pg_largeobject_metadata: logical replication does not copy them)`,
    on(c.from.name, `n=${psqlOut(psql(c, d.ports.old, db, 'SELECT count(*) FROM pg_largeobject_metadata;'))}
if [ "$n" != 0 ]; then echo "${db} on ${c.from.name} holds $n large objects" >&2; exit 1; fi`),
    `${db} on ${c.from.name} holds large objects, which logical replication does not copy: store them in bytea columns (lo_get) and remove them (lo_unlink), or migrate with strategy warm (a copy of the data directory); nothing was changed`));
}
