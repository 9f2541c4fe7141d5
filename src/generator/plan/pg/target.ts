// The new host's database of a hot migration: created empty (checked exactly, not from estimates),
// its schema loaded in one transaction from the old host's pg_dump, the baseline for detecting
// DDL taken right before. Its rollback keeps what the new host wrote: once the application started
// there the database is renamed (timestamped), never dropped; before that it is dropped (it held
// only the copy).
import { cmd, q } from '../shell.js';
import { ident, literal } from '../sql.js';
import { on, pipe, stepsOf } from '../step.js';
import type { Ctx, Script, Step } from '../types.js';
import { inside, pgDir, psql, psqlOut, psqlStdin, USER_TABLE } from './psql.js';
import { subscriptionOf } from './replicate.js';
import { baselineOf, FINGERPRINT } from './schema.js';

const { command } = stepsOf('prepare');

/** On the new host: written right before the application starts there; from then on a rollback keeps the database. */
export const appStarted = (c: Ctx): string => `${pgDir(c)}/app-started`;
/** On the new host: what a rollback kept, one line per database. */
export const keptFile = (c: Ctx): string => `${pgDir(c)}/rolled-back-writes`;

export function pgDatabase(c: Ctx, db: string): Step {
  const d = c.database!;
  const pn = d.ports.new;
  return command(`pg-database-${db}`, `database ${db} on ${c.to.name}, owned as on ${c.from.name}; it must hold no row`, pipe(
    on(c.from.name, psql(c, d.ports.old, 'postgres', `SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = ${literal(db)};`)),
    on(c.to.name, `read -r owner
# a rollback from here on drops what this run creates, until the application starts
${cmd`mkdir -p ${pgDir(c)} && rm -f ${appStarted(c)}`}
if ! ${psql(c, pn, 'postgres', `SELECT 1 FROM pg_database WHERE datname = ${literal(db)};`, { pipe: '| grep -qx 1; then' })}
  ${inside(c, cmd`runuser -u postgres -- createdb -p ${pn} -O`)} "$owner" ${q(db)}
fi
# exact: one row of any table is enough to refuse (statistics may say 0 for a table never analysed)
full=${psqlOut(psql(c, pn, db, `SELECT format('SELECT %L FROM %I.%I HAVING EXISTS (SELECT 1 FROM %I.%I);', n.nspname || '.' || c.relname, n.nspname, c.relname, n.nspname, c.relname)
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE ${USER_TABLE} ORDER BY 1 \\gexec`))}
if [ -n "$full" ]; then { echo "${db} on ${c.to.name} already holds rows in:"; printf '%s\\n' "$full"; echo "refusing to replicate into a database that is not empty"; } >&2; exit 1; fi`),
  ), { undo: undoDatabase(c, db) });
}

/** The schema: the baseline written on the old host first (DDL after it shows as drift), then pg_dump --schema-only loaded in one transaction, or, on a repeat, found equal. */
export function pgSchema(c: Ctx, db: string): Step {
  const d = c.database!;
  const base = baselineOf(c, db);
  return command(`pg-schema-${db}`, `${db}'s schema from ${c.from.name} into ${c.to.name} (pg_dump --schema-only, one transaction); its text kept on ${c.from.name} as the baseline that detects DDL during the migration`, pipe(
    on(c.from.name, [
      cmd`mkdir -p -m 0700 ${pgDir(c)}`,
      `fp=${psqlOut(psql(c, d.ports.old, db, FINGERPRINT))}`,
      cmd`printf '%s\\n' "$fp" > ${`${base}.tmp`} && mv ${`${base}.tmp`} ${base}`,
      // first line: the digest of the baseline; then the dump
      `printf '%s\\n' "$fp" | md5sum | cut -d' ' -f1`,
      inside(c, cmd`runuser -u postgres -- pg_dump -p ${d.ports.old} --schema-only --no-publications --no-subscriptions ${db}`),
    ].join('\n')),
    on(c.to.name, `read -r want
rels=${psqlOut(psql(c, d.ports.new, db, "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f') AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_toast%';"))}
if [ "$rels" = 0 ]; then
  ${psqlStdin(c, d.ports.new, db, ' --single-transaction')} >/dev/null
else
  cat >/dev/null
  have=${psqlOut(psql(c, d.ports.new, db, FINGERPRINT, { pipe: "| md5sum | cut -d' ' -f1" }))}
  if [ "$have" != "$want" ]; then echo ${q(`${db} on ${c.to.name} already has a schema, and it differs from ${c.from.name}'s: drop that database on ${c.to.name} (it holds no row: pg-database checked) and run again`)} >&2; exit 1; fi
  echo "the schema is in place already (loaded by an earlier attempt) and equals ${c.from.name}'s"
fi`),
  ));
}

/**
 * The database's undo on the new host. A database with a subscription can be neither dropped nor
 * renamed: the subscription goes first, without touching the old host's slot (its own undo, which
 * runs earlier, dropped it there; the old host may be out of reach by now).
 */
function undoDatabase(c: Ctx, db: string): Script {
  const d = c.database!;
  const pn = d.ports.new;
  const sub = subscriptionOf(c, db);
  const inspect = inside(c, cmd`runuser -u postgres -- psql -p ${pn} -d`);
  return on(c.to.name, `if ! ${psql(c, pn, 'postgres', `SELECT 1 FROM pg_database WHERE datname = ${literal(db)};`, { pipe: '| grep -qx 1; then' })}
  echo ${q(`no database ${db} on ${c.to.name}: nothing to undo`)}; exit 0
fi
${psql(c, pn, db, `SELECT format('ALTER SUBSCRIPTION %I DISABLE', subname) FROM pg_subscription WHERE subname = ${literal(sub)} AND subdbid = (SELECT oid FROM pg_database WHERE datname = current_database()) \\gexec
SELECT format('ALTER SUBSCRIPTION %I SET (slot_name = NONE)', subname) FROM pg_subscription WHERE subname = ${literal(sub)} AND subdbid = (SELECT oid FROM pg_database WHERE datname = current_database()) \\gexec
SELECT format('DROP SUBSCRIPTION %I', subname) FROM pg_subscription WHERE subname = ${literal(sub)} AND subdbid = (SELECT oid FROM pg_database WHERE datname = current_database()) \\gexec`)}
if ${cmd`test -e ${appStarted(c)}`}; then
  # the application ran here: what it wrote is kept, under another name
  to=${q(`${db.slice(0, 40)}_rolled_back_`)}$(date -u +%Y%m%d_%H%M%S)
  ${psql(c, pn, 'postgres', `SELECT set_config('migen.to', :'to', false);
DO $$
BEGIN
  FOR i IN 1..100 LOOP
    PERFORM pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = ${literal(db)} AND pid <> pg_backend_pid();
    BEGIN
      EXECUTE format('ALTER DATABASE %I RENAME TO %I', ${literal(db)}, current_setting('migen.to'));
      RETURN;
    EXCEPTION WHEN object_in_use THEN PERFORM pg_sleep(0.1);
    END;
  END LOOP;
  RAISE EXCEPTION 'database ${db.replace(/'/g, "''")} is still in use after 10 s';
END $$;`, { vars: { to: '"$to"' }, pipe: '>/dev/null' })}
  ${cmd`mkdir -p ${pgDir(c)}`} && printf '%s %s %s\\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" ${q(db)} "$to" >> ${q(keptFile(c))}
  echo "${c.to.name} may have taken writes before the rollback (its application was started): they are kept in the database $to on ${c.to.name} (${c.from.name} serves ${db} again, as of the freeze)."
  echo "inspect: ${inspect} $to"
  echo "merge: what ${c.to.name} wrote after the cutover is in $to only. ${c.from.name}'s sequences continue from the freeze, so its new rows may reuse those ids: copy the rows of $to newer than the freeze into ${c.from.name}'s ${db} under new ids (pg_dump --data-only --table=... $to into a staging schema there, or INSERT ... SELECT over postgres_fdw), then setval its sequences past the highest id; drop $to once merged."
else
  ${psql(c, pn, 'postgres', `DROP DATABASE IF EXISTS ${ident(db)} WITH (FORCE);`)}
  echo ${q(`dropped ${db} on ${c.to.name}: it held only the copy (the application had not started there)`)}
fi`);
}
