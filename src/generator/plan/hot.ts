// Hot migration: PostgreSQL logical replication from the old host to the new one, with a
// cutover of seconds. Encodes ../shared/STATE-COPY.md: replica identity checked before anything
// is created, schema first, readiness from pg_subscription_rel, lag from the slot, a freeze
// that makes every role read-only, sequences copied, per-table checksums, and no slot left behind.
import type { MigrationPlan, Script, Step } from './types.js';
import { cmd, q } from './shell.js';

type Ctx = Omit<MigrationPlan, 'steps' | 'window'>;
const base = { undo: null, window: false } as const;
const on = (where: string, script: string): Script => ({ on: where, script });

export interface HotParts {
  readonly preflight: Step[];
  readonly prepare: Step[];
  readonly sync: Step[];
  /** From the freeze to the drop of the subscription (the app on the new host starts after). */
  readonly freeze: Step[];
  readonly cleanup: Step[];
  /** Stop/start of the application alone (the database keeps running). */
  readonly app: { stop: (host: string) => string; start: (host: string) => string; unitTitle: string };
  /** Starts the new host's database (before replication). */
  readonly startNewDb: Step;
}

/** Runs a command where the database lives: on the host, or inside the service's nixos-container. */
function inside(c: Ctx, command: string): string {
  return c.container ? cmd`nixos-container run ${c.container} -- ` + command : command;
}

/**
 * psql as the postgres superuser, SQL on stdin (a here-document); -At prints bare values.
 * `pipe` continues the command line (`| grep -qx ok`): after a here-document's end marker
 * nothing may follow on its line, so it goes on the line that opens it.
 */
function psql(c: Ctx, port: number, db: string, sql: string, pipe = ''): string {
  return `${inside(c, cmd`runuser -u postgres -- psql -X -q -v ON_ERROR_STOP=1 -At -p ${port} -d ${db}`)} <<'SQL'${pipe ? ` ${pipe}` : ''}\n${sql}\nSQL`;
}

/** First line of a session that writes to the old host's database after the freeze. */
const READ_WRITE = 'SET default_transaction_read_only = off; -- this session only: the database stays read-only for every other one\n';

/** `$(psql ...)`: the closing parenthesis on a line of its own, after the here-document's end. */
const psqlOut = (script: string): string => `$(${script}\n)`;

export function hotParts(c: Ctx, ports: { old: number; new: number }, secretFile: { old: string; new: string }): HotParts {
  const d = c.database!;
  const { from, to } = c;
  const app = c.nixosService ?? c.unit;
  const appStop = (h: string): string => inside(c, cmd`systemctl stop ${app}`);
  const appStart = (h: string): string => inside(c, cmd`systemctl start ${app}`);
  void from; void to;
  const sub = (db: string): string => `${d.subscription}_${db}`;
  const lagThreshold = 16 * 1024 * 1024;

  const preflight: Step[] = [];
  const prepare: Step[] = [];
  const sync: Step[] = [];
  const freeze: Step[] = [];
  const cleanup: Step[] = [];

  // Tables without a primary key or replica identity would make UPDATE and DELETE fail on the
  // old host as soon as the publication exists: list them and stop before creating anything.
  for (const db of d.databases) {
    preflight.push({
      ...base, id: `pg-identity-${db}`, phase: 'preflight', kind: 'check', title: `every table of ${db} on ${from.name} has a primary key or replica identity`,
      run: on(from.name, `bad=${psqlOut(psql(c, ports.old, db, `SELECT n.nspname || '.' || c.relname
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%'
  AND (c.relreplident = 'n' OR (c.relreplident = 'd' AND NOT EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND i.indisprimary)))
ORDER BY 1;`))}
if [ -n "$bad" ]; then { echo "tables without a primary key or replica identity:"; printf '%s\\n' "$bad"; } >&2; exit 1; fi`),
      failure: `some tables of ${db} have neither a primary key nor a replica identity; add one (or ALTER TABLE ... REPLICA IDENTITY FULL) and plan again`,
    });
  }

  // Prepare: settings that need a restart, the new host's database, role, schema, publication, subscription.
  prepare.push({
    ...base, id: 'pg-wal-level', phase: 'prepare', kind: 'command',
    title: `PostgreSQL on ${from.name} runs with wal_level=logical (restarts it once if the deployed setting is pending: a short interruption of writes)`,
    run: on(from.name, `lvl=${psqlOut(psql(c, ports.old, 'postgres', 'SHOW wal_level;'))}
if [ "$lvl" != logical ]; then
  echo "wal_level is $lvl: restarting PostgreSQL on ${from.name} to apply the deployed wal_level=logical"
  ${inside(c, 'systemctl restart postgresql')}
  lvl=${psqlOut(psql(c, ports.old, 'postgres', 'SHOW wal_level;'))}
  test "$lvl" = logical
fi`),
  });
  prepare.push({
    ...base, id: 'pg-headroom-old', phase: 'prepare', kind: 'check', title: `${from.name} has free replication slots and WAL senders for ${d.databases.length} subscription(s) and their table-sync workers`,
    run: on(from.name, psql(c, ports.old, 'postgres', `SELECT CASE WHEN current_setting('max_replication_slots')::int - (SELECT count(*) FROM pg_replication_slots) >= ${d.databases.length + 4}
  AND current_setting('max_wal_senders')::int - (SELECT count(*) FROM pg_stat_replication) >= ${d.databases.length + 4}
  THEN 'ok' ELSE 'no headroom' END;`, '| grep -qx ok')),
    failure: `max_replication_slots/max_wal_senders on ${from.name} leave no room: deploy the generated settings and restart PostgreSQL there`,
  });
  const startNewDb: Step = {
    ...base, id: 'pg-start-new', phase: 'prepare', kind: 'command', title: `start PostgreSQL on ${to.name} (the application stays stopped)`,
    run: on(to.name, c.container ? `${cmd`systemctl start ${c.unit}`}\n${inside(c, cmd`systemctl stop ${app}`)}` : 'systemctl start postgresql'),
  };
  prepare.push(startNewDb);
  prepare.push({
    ...base, id: 'pg-headroom-new', phase: 'prepare', kind: 'check', title: `${to.name} has room for the apply and table-sync workers`,
    run: on(to.name, psql(c, ports.new, 'postgres', `SELECT CASE WHEN current_setting('max_logical_replication_workers')::int >= ${d.databases.length + 2}
  AND current_setting('max_worker_processes')::int > current_setting('max_logical_replication_workers')::int
  AND current_setting('max_replication_slots')::int >= ${d.databases.length + 2}
  THEN 'ok' ELSE 'no headroom' END;`, '| grep -qx ok')),
    failure: `max_logical_replication_workers/max_worker_processes on ${to.name} are too low: deploy the generated settings and restart PostgreSQL there`,
  });
  // The role: LOGIN REPLICATION from the NixOS module (ensureClauses); password and SELECT grants
  // here. psql reads the password from the secret file itself: it appears in no command line.
  for (const db of d.databases) {
    prepare.push({
      ...base, id: `pg-role-${db}`, phase: 'prepare', kind: 'command', title: `replication role ${d.role} on ${from.name}: password from the secret, SELECT on ${db}`,
      run: on(from.name, psql(c, ports.old, db, `\\set pw \`cat ${secretFile.old}\`
SELECT format('CREATE ROLE %I LOGIN REPLICATION', '${d.role}') WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '${d.role}') \\gexec
ALTER ROLE "${d.role}" WITH LOGIN REPLICATION PASSWORD :'pw';
SELECT format('GRANT USAGE ON SCHEMA %I TO "${d.role}"; GRANT SELECT ON ALL TABLES IN SCHEMA %I TO "${d.role}";', nspname, nspname)
FROM pg_namespace WHERE nspname NOT IN ('pg_catalog', 'information_schema') AND nspname NOT LIKE 'pg_toast%' AND nspname NOT LIKE 'pg_temp%' \\gexec`)),
    });
    prepare.push({
      ...base, id: `pg-connect-${db}`, phase: 'prepare', kind: 'check', title: `${to.name} can log in to ${db} on ${from.name} as ${d.role} (pg_hba, listen address, firewall, password)`,
      // The password travels in the environment of psql, read from the file where psql runs.
      run: on(to.name, `${inside(c, cmd`bash -c ${`PGPASSWORD="$(cat ${q(secretFile.new)})" exec ${cmd`psql -X -At -h ${from.address} -p ${ports.old} -U ${d.role} -d ${db} -c ${'SELECT 1'}`}`}`)} | grep -qx 1`),
      failure: `${to.name} cannot reach ${db} on ${from.name}:${ports.old} as ${d.role}: check the deployed pg_hba entry, listen_addresses and the mesh firewall`,
    });
  }
  // Schema first: roles (with their password hashes, through the operator's pipe), then each database's schema.
  prepare.push({
    ...base, id: 'pg-roles', phase: 'prepare', kind: 'command', title: `copy roles from ${from.name} to ${to.name} (existing roles are kept)`,
    run: on('operator', `migen_ssh ${q(from.name)} ${q(inside(c, cmd`runuser -u postgres -- pg_dumpall -p ${ports.old} --roles-only`))} \\
  | grep -v -E '^(CREATE|ALTER) ROLE postgres( |;)' \\
  | migen_ssh ${q(to.name)} ${q(inside(c, cmd`runuser -u postgres -- psql -X -q -p ${ports.new} -d postgres`))} 2>&1 | grep -v 'already exists' || true`),
  });
  for (const db of d.databases) {
    prepare.push({
      ...base, id: `pg-schema-${db}`, phase: 'prepare', kind: 'command', title: `create ${db} on ${to.name} from ${from.name}'s schema (pg_dump --schema-only); its tables must be empty`,
      run: on('operator', [
        `migen_ssh ${q(from.name)} ${q(psql(c, ports.old, 'postgres', `SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = '${db}';`))} \\`,
        `  | migen_ssh ${q(to.name)} ${q(`read -r owner\nif ! ${psql(c, ports.new, 'postgres', `SELECT 1 FROM pg_database WHERE datname = '${db}';`, '| grep -qx 1; then')}\n  ${inside(c, cmd`runuser -u postgres -- createdb -p ${ports.new} -O`)} "$owner" ${q(db)}\nfi`)}`,
        `rows=$(migen_ssh ${q(to.name)} ${q(psql(c, ports.new, db, `SELECT coalesce(sum(n_live_tup), 0) FROM pg_stat_user_tables;`))})`,
        `if [ "$rows" != 0 ]; then echo "${db} on ${to.name} already holds $rows rows: refusing to replicate into a database that is not empty" >&2; exit 1; fi`,
        `migen_ssh ${q(from.name)} ${q(inside(c, cmd`runuser -u postgres -- pg_dump -p ${ports.old} --schema-only --no-publications --no-subscriptions ${db}`))} \\`,
        `  | migen_ssh ${q(to.name)} ${q(inside(c, cmd`runuser -u postgres -- psql -X -q -v ON_ERROR_STOP=1 -p ${ports.new} -d ${db}`))}`,
      ].join('\n')),
      // The target was empty (checked above): dropping it on rollback loses nothing and lets a
      // later run start over.
      undo: on(to.name, psql(c, ports.new, 'postgres', `DROP DATABASE IF EXISTS "${db}" WITH (FORCE);`)),
    });
  }
  for (const db of d.databases) {
    prepare.push({
      ...base, id: `pg-publication-${db}`, phase: 'prepare', kind: 'command', title: `publication ${d.publication} for all tables of ${db} on ${from.name}`,
      run: on(from.name, psql(c, ports.old, db, `CREATE PUBLICATION "${d.publication}" FOR ALL TABLES;`)),
      // After the freeze the database defaults to read-only: this session opts out to drop it.
      undo: on(from.name, psql(c, ports.old, db, `${READ_WRITE}DROP PUBLICATION IF EXISTS "${d.publication}";`)),
    });
    // The connection string carries the password (a subscription needs it); it is built inside
    // bash from the secret file and fed to psql on stdin, so no command line or log shows it.
    prepare.push({
      ...base, id: `pg-subscription-${db}`, phase: 'prepare', kind: 'command', title: `subscription ${sub(db)} on ${to.name} to ${from.name}'s publication (initial copy starts)`,
      run: on(to.name, [
        `pw=$(cat ${q(secretFile.new)})`,
        // conninfo quoting (backslash, quote), then SQL literal quoting (quote doubled); all in-process.
        String.raw`pwc=$(printf '%s' "$pw" | sed -e 's/\\/\\\\/g' -e "s/'/\\\\'/g")`,
        `conn="host=${from.address} port=${ports.old} dbname=${db} user=${d.role} password='$pwc'"`,
        String.raw`lit=$(printf '%s' "$conn" | sed "s/'/''/g")`,
        // A failing statement is logged with its text (log_min_error_statement), DDL too when
        // log_statement is set: neither may write this one, password and all, to the server log.
        `{ echo "SET log_statement = 'none'; SET log_min_error_statement = 'panic';"`,
        `  printf 'CREATE SUBSCRIPTION "%s" CONNECTION '"'"'%s'"'"' PUBLICATION "%s";\n' ${q(sub(db))} "$lit" ${q(d.publication)}; } \\`,
        `  | ${inside(c, cmd`runuser -u postgres -- psql -X -q -v ON_ERROR_STOP=1 -p ${ports.new} -d ${db}`)}`,
      ].join('\n')),
      undo: on(to.name, psql(c, ports.new, db, `DROP SUBSCRIPTION IF EXISTS "${sub(db)}";`)),
    });
  }

  // Sync: ready means every table copied ('r') with a live apply worker and no errors; a dead
  // worker or an error is never reported as caught up.
  for (const db of d.databases) {
    sync.push({
      ...base, id: `pg-ready-${db}`, phase: 'sync', kind: 'probe', endsWindow: false, intervalSeconds: 2, deadlineSeconds: 3600,
      title: `every table of ${db} copied and streaming on ${to.name}; lag on ${from.name}'s slot`,
      run: on(to.name, `state=${psqlOut(psql(c, ports.new, db, `SELECT (SELECT count(*) FROM pg_subscription_rel r JOIN pg_subscription s ON s.oid = r.srsubid WHERE s.subname = '${sub(db)}' AND r.srsubstate <> 'r')
  || ' ' || (SELECT count(*) FROM pg_stat_subscription WHERE subname = '${sub(db)}' AND pid IS NOT NULL AND relid IS NULL)
  || ' ' || (SELECT coalesce(sum(apply_error_count + sync_error_count), 0) FROM pg_stat_subscription_stats WHERE subname = '${sub(db)}');`))}
read -r pending workers errors <<<"$state"
echo "tables not ready: $pending, apply worker: $workers, errors: $errors"
if [ "$errors" != 0 ]; then echo "the subscription reports $errors apply/sync errors: see the PostgreSQL log on ${to.name}" >&2; exit 3; fi
# A worker that stays away (not merely restarting) is a failure, never "still catching up".
miss=${q(`/run/migen/${c.name}-${db}.noworker`)}
mkdir -p /run/migen
if [ "$workers" = 0 ]; then
  n=$(( $(cat "$miss" 2>/dev/null || echo 0) + 1 )); echo "$n" > "$miss"
  if [ "$n" -ge 15 ]; then echo "no apply worker for ${sub(db)} in 15 consecutive checks: it keeps dying, see the PostgreSQL log on ${to.name}" >&2; rm -f "$miss"; exit 3; fi
else rm -f "$miss"; fi
test "$pending" = 0 && test "$workers" = 1`),
      fatalExit: [3],
    });
    sync.push({
      ...base, id: `pg-lag-${db}`, phase: 'sync', kind: 'probe', endsWindow: false, intervalSeconds: 1, deadlineSeconds: 600,
      title: `replication lag of ${sub(db)} below ${lagThreshold} bytes`,
      run: on(from.name, `lag=${psqlOut(psql(c, ports.old, db, `SELECT coalesce(pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn), -1)::bigint FROM pg_replication_slots WHERE slot_name = '${sub(db)}';`))}
echo "lag: \${lag:-no slot} bytes"
test -n "$lag" && [ "$lag" -ge 0 ] && [ "$lag" -lt ${lagThreshold} ]`),
    });
  }

  // Freeze: the application is stopped by the caller; then every session becomes read-only.
  for (const db of d.databases) {
    freeze.push({
      ...base, id: `pg-freeze-${db}`, phase: 'cutover', kind: 'command', window: true, title: `${db} on ${from.name} read-only for every role; remaining sessions terminated`,
      // From the postgres database: a session in ${db} itself would be read-only once this is set,
      // and the undo (the thaw) could not run ALTER DATABASE there.
      run: on(from.name, psql(c, ports.old, 'postgres', `ALTER DATABASE "${db}" SET default_transaction_read_only = on;
SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = '${db}' AND pid <> pg_backend_pid() AND backend_type = 'client backend';`)),
      undo: on(from.name, psql(c, ports.old, 'postgres', `ALTER DATABASE "${db}" RESET default_transaction_read_only;`)),
    });
    freeze.push({
      ...base, id: `pg-caught-up-${db}`, phase: 'cutover', kind: 'command', window: true, title: `${to.name} confirmed every change up to ${from.name}'s current WAL position`,
      run: on(from.name, `target=${psqlOut(psql(c, ports.old, db, 'SELECT pg_current_wal_lsn();'))}
for i in $(seq 1 600); do
  ok=${psqlOut(psql(c, ports.old, db, `SELECT confirmed_flush_lsn >= '$target'::pg_lsn FROM pg_replication_slots WHERE slot_name = '${sub(db)}';`).replace("<<'SQL'", '<<SQL'))}
  if [ "$ok" = t ]; then echo "caught up at $target"; exit 0; fi
  sleep 0.1
done
echo "the slot did not confirm $target within 60 s" >&2; exit 1`),
    });
    freeze.push({
      ...base, id: `pg-sequences-${db}`, phase: 'cutover', kind: 'command', window: true, title: `sequences of ${db}: ${to.name} continues where ${from.name} stopped (they are not replicated)`,
      run: on('operator', `migen_ssh ${q(from.name)} ${q(psql(c, ports.old, db, `SELECT format('SELECT setval(%L, %s, %s);', quote_ident(schemaname) || '.' || quote_ident(sequencename), coalesce(last_value, start_value), (last_value IS NOT NULL)::text) FROM pg_sequences ORDER BY 1;`))} \\
  | migen_ssh ${q(to.name)} ${q(inside(c, cmd`runuser -u postgres -- psql -X -q -At -v ON_ERROR_STOP=1 -p ${ports.new} -d ${db}`))} >/dev/null`),
    });
    const checksum = `SELECT format('SELECT %L || '' '' || count(*) || '' '' || coalesce(sum(hashtext(t::text)::bigint), 0) FROM %I.%I t;', n.nspname || '.' || c.relname, n.nspname, c.relname)
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%'
ORDER BY n.nspname, c.relname \\gexec`;
    freeze.push({
      ...base, id: `pg-compare-${db}`, phase: 'cutover', kind: 'compare', mode: 'equal', window: true, title: `row count and checksum of every table of ${db} equal on both hosts`,
      left: on(from.name, psql(c, ports.old, db, checksum)), right: on(to.name, psql(c, ports.new, db, checksum)),
      failure: `the tables of ${db} differ between ${from.name} and ${to.name}`,
    });
    freeze.push({
      ...base, id: `pg-drop-subscription-${db}`, phase: 'cutover', kind: 'command', window: true, title: `drop subscription ${sub(db)} on ${to.name} (and with it the slot on ${from.name})`,
      run: on(to.name, psql(c, ports.new, db, `DROP SUBSCRIPTION "${sub(db)}";`)),
    });
    freeze.push({
      ...base, id: `pg-no-slot-${db}`, phase: 'cutover', kind: 'check', window: true, title: `no replication slot of this migration is left on ${from.name}`,
      run: on(from.name, `test "${psqlOut(psql(c, ports.old, 'postgres', `SELECT count(*) FROM pg_replication_slots WHERE slot_name = '${sub(db)}';`))}" = 0`),
      failure: `slot ${sub(db)} is still on ${from.name}: drop it (SELECT pg_drop_replication_slot('${sub(db)}')) or it keeps WAL forever`,
    });
    cleanup.push({
      ...base, id: `pg-cleanup-${db}`, phase: 'verify', kind: 'command', title: `drop the publication on ${from.name} (the regenerated modules remove the pg_hba entry and settings after finalize)`,
      run: on(from.name, psql(c, ports.old, db, `${READ_WRITE}DROP PUBLICATION IF EXISTS "${d.publication}";`)),
    });
  }
  return { preflight, prepare, sync, freeze, cleanup, app: { stop: appStop, start: appStart, unitTitle: app }, startNewDb };
}
