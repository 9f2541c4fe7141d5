// Prepare of a hot migration: settings that need a restart, the new host's database, the role,
// the schema, then the publication and the subscription (the initial copy starts).
import { cmd, q } from '../shell.js';
import { ident, literal } from '../sql.js';
import { on, pipe, stepsOf } from '../step.js';
import type { Ctx, Step } from '../types.js';
import { inside, psql, psqlOut, READ_WRITE } from './psql.js';
import { subscriptionOf } from './replicate.js';

const { command, check } = stepsOf('prepare');

export function pgPrepare(c: Ctx, app: string): Step[] {
  const d = c.database!;
  const { from, to } = c;
  const { old: po, new: pn } = d.ports;
  const { need } = d.sizes;
  const steps: Step[] = [
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
  ];
  // The role: LOGIN REPLICATION from the NixOS module (ensureClauses); password and SELECT grants
  // here. psql reads the password from the secret file itself: it appears in no command line.
  for (const db of d.databases) {
    steps.push(
      command(`pg-role-${db}`, `replication role ${d.role} on ${from.name}: password from the secret, SELECT on ${db}`,
        on(from.name, psql(c, po, db, `\\set pw \`cat ${d.secretFiles.old}\`
SELECT format('CREATE ROLE %I LOGIN REPLICATION', ${literal(d.role)}) WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = ${literal(d.role)}) \\gexec
ALTER ROLE ${ident(d.role)} WITH LOGIN REPLICATION PASSWORD :'pw';
SELECT format('GRANT USAGE ON SCHEMA %I TO ${ident(d.role)}; GRANT SELECT ON ALL TABLES IN SCHEMA %I TO ${ident(d.role)};', nspname, nspname)
FROM pg_namespace WHERE nspname NOT IN ('pg_catalog', 'information_schema') AND nspname NOT LIKE 'pg_toast%' AND nspname NOT LIKE 'pg_temp%' \\gexec`))),
      // The password travels in the environment of psql, read from the file where psql runs.
      check(`pg-connect-${db}`, `${to.name} can log in to ${db} on ${from.name} as ${d.role} (pg_hba, listen address, firewall, password)`,
        on(to.name, `${inside(c, cmd`bash -c ${`PGPASSWORD="$(cat ${q(d.secretFiles.new)})" exec ${cmd`psql -X -At -h ${from.address} -p ${po} -U ${d.role} -d ${db} -c ${'SELECT 1'}`}`}`)} | grep -qx 1`),
        `${to.name} cannot reach ${db} on ${from.name}:${po} as ${d.role}: check the deployed pg_hba entry, listen_addresses and the mesh firewall`),
    );
  }
  // Schema first: roles (with their password hashes), then each database's schema.
  steps.push(command('pg-roles', `copy roles from ${from.name} to ${to.name} (existing roles are kept)`, pipe(
    on(from.name, `${inside(c, cmd`runuser -u postgres -- pg_dumpall -p ${po} --roles-only`)} | grep -v -E '^(CREATE|ALTER) ROLE postgres( |;)'`),
    on(to.name, `${inside(c, cmd`runuser -u postgres -- psql -X -q -p ${pn} -d postgres`)} 2>&1 | grep -v 'already exists' || true`),
  )));
  for (const db of d.databases) {
    steps.push(
      command(`pg-database-${db}`, `database ${db} on ${to.name}, owned as on ${from.name}; its tables must be empty`, pipe(
        on(from.name, psql(c, po, 'postgres', `SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = ${literal(db)};`)),
        on(to.name, `read -r owner
if ! ${psql(c, pn, 'postgres', `SELECT 1 FROM pg_database WHERE datname = ${literal(db)};`, { pipe: '| grep -qx 1; then' })}
  ${inside(c, cmd`runuser -u postgres -- createdb -p ${pn} -O`)} "$owner" ${q(db)}
fi
rows=${psqlOut(psql(c, pn, db, 'SELECT coalesce(sum(n_live_tup), 0) FROM pg_stat_user_tables;'))}
if [ "$rows" != 0 ]; then echo "${db} on ${to.name} already holds $rows rows: refusing to replicate into a database that is not empty" >&2; exit 1; fi`),
      ), {
        // The target was empty (checked above): dropping it on rollback loses nothing and lets a
        // later run start over.
        undo: on(to.name, psql(c, pn, 'postgres', `DROP DATABASE IF EXISTS ${ident(db)} WITH (FORCE);`)),
      }),
      command(`pg-schema-${db}`, `${db}'s schema from ${from.name} into ${to.name} (pg_dump --schema-only)`, pipe(
        on(from.name, inside(c, cmd`runuser -u postgres -- pg_dump -p ${po} --schema-only --no-publications --no-subscriptions ${db}`)),
        on(to.name, inside(c, cmd`runuser -u postgres -- psql -X -q -v ON_ERROR_STOP=1 -p ${pn} -d ${db}`)),
      )),
    );
  }
  for (const db of d.databases) {
    const sub = subscriptionOf(c, db);
    steps.push(
      command(`pg-publication-${db}`, `publication ${d.publication} for all tables of ${db} on ${from.name}`,
        on(from.name, psql(c, po, db, `CREATE PUBLICATION ${ident(d.publication)} FOR ALL TABLES;`)),
        // After the freeze the database defaults to read-only: this session opts out to drop it.
        { undo: on(from.name, psql(c, po, db, `${READ_WRITE}DROP PUBLICATION IF EXISTS ${ident(d.publication)};`)) }),
      // The connection string carries the password (a subscription needs it); it is built inside
      // bash from the secret file and fed to psql on stdin, so no command line or log shows it.
      command(`pg-subscription-${db}`, `subscription ${sub} on ${to.name} to ${from.name}'s publication (initial copy starts)`,
        on(to.name, [
          `pw=$(cat ${q(d.secretFiles.new)})`,
          // conninfo quoting (backslash, quote), then SQL literal quoting (quote doubled); all in-process.
          String.raw`pwc=$(printf '%s' "$pw" | sed -e 's/\\/\\\\/g' -e "s/'/\\\\'/g")`,
          `conn="host=${from.address} port=${po} dbname=${db} user=${d.role} password='$pwc'"`,
          String.raw`lit=$(printf '%s' "$conn" | sed "s/'/''/g")`,
          // A failing statement is logged with its text (log_min_error_statement), DDL too when
          // log_statement is set: neither may write this one, password and all, to the server log.
          `{ echo "SET log_statement = 'none'; SET log_min_error_statement = 'panic';"`,
          `  printf 'CREATE SUBSCRIPTION "%s" CONNECTION '"'"'%s'"'"' PUBLICATION "%s";\\n' ${q(sub)} "$lit" ${q(d.publication)}; } \\`,
          `  | ${inside(c, cmd`runuser -u postgres -- psql -X -q -v ON_ERROR_STOP=1 -p ${pn} -d ${db}`)}`,
        ].join('\n')),
        { undo: on(to.name, psql(c, pn, db, `DROP SUBSCRIPTION IF EXISTS ${ident(sub)};`)) }),
    );
  }
  return steps;
}
