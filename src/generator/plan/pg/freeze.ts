// Cutover of a hot migration, after the application stopped on the old host: every session
// read-only, the new host caught up to the old one's last WAL position, sequences copied (they
// are not replicated), tables compared, the subscription and with it the slot dropped.
import { cmd } from '../shell.js';
import { ident, literal } from '../sql.js';
import { on, pipe, stepsOf } from '../step.js';
import type { Ctx, Step } from '../types.js';
import { inside, psql, psqlOut, READ_WRITE } from './psql.js';
import { subscriptionOf } from './replicate.js';

const cut = stepsOf('cutover');
// The freeze is in the window: the cutover coordinator on the new host runs it.
const W = { window: true, fleet: true } as const;

const CHECKSUM = `SELECT format('SELECT %L || '' '' || count(*) || '' '' || coalesce(sum(hashtext(t::text)::bigint), 0) FROM %I.%I t;', n.nspname || '.' || c.relname, n.nspname, c.relname)
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%'
ORDER BY n.nspname, c.relname \\gexec`;

export function pgFreeze(c: Ctx): Step[] {
  const d = c.database!;
  const { from, to } = c;
  const { old: po, new: pn } = d.ports;
  return d.databases.flatMap((db) => {
    const sub = subscriptionOf(c, db);
    return [
      // From the postgres database: a session in the database itself would be read-only once this
      // is set, and the undo (the thaw) could not run ALTER DATABASE there.
      cut.command(`pg-freeze-${db}`, `${db} on ${from.name} read-only for every role; remaining sessions terminated`,
        on(from.name, psql(c, po, 'postgres', `ALTER DATABASE ${ident(db)} SET default_transaction_read_only = on;
SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = ${literal(db)} AND pid <> pg_backend_pid() AND backend_type = 'client backend';`)),
        { ...W, undo: on(from.name, psql(c, po, 'postgres', `ALTER DATABASE ${ident(db)} RESET default_transaction_read_only;`)) }),
      cut.command(`pg-caught-up-${db}`, `${to.name} confirmed every change up to ${from.name}'s current WAL position`,
        on(from.name, `target=${psqlOut(psql(c, po, db, 'SELECT pg_current_wal_lsn();'))}
for i in $(seq 1 600); do
  ok=${psqlOut(psql(c, po, db, `SELECT confirmed_flush_lsn >= :'target'::pg_lsn FROM pg_replication_slots WHERE slot_name = ${literal(sub)};`, { vars: { target: '"$target"' } }))}
  if [ "$ok" = t ]; then echo "caught up at $target"; exit 0; fi
  sleep 0.1
done
echo "the slot did not confirm $target within 60 s" >&2; exit 1`), W),
      cut.command(`pg-sequences-${db}`, `sequences of ${db}: ${to.name} continues where ${from.name} stopped (they are not replicated)`, pipe(
        on(from.name, psql(c, po, db, `SELECT format('SELECT setval(%L, %s, %s);', quote_ident(schemaname) || '.' || quote_ident(sequencename), coalesce(last_value, start_value), (last_value IS NOT NULL)::text) FROM pg_sequences ORDER BY 1;`)),
        on(to.name, `${inside(c, cmd`runuser -u postgres -- psql -X -q -At -v ON_ERROR_STOP=1 -p ${pn} -d ${db}`)} >/dev/null`),
      ), W),
      cut.compare(`pg-compare-${db}`, `row count and checksum of every table of ${db} equal on both hosts`, {
        mode: 'equal', left: on(from.name, psql(c, po, db, CHECKSUM)), right: on(to.name, psql(c, pn, db, CHECKSUM)),
        failure: `the tables of ${db} differ between ${from.name} and ${to.name}`,
      }, W),
      cut.command(`pg-drop-subscription-${db}`, `drop subscription ${sub} on ${to.name} (and with it the slot on ${from.name})`,
        on(to.name, psql(c, pn, db, `DROP SUBSCRIPTION ${ident(sub)};`)), W),
      cut.check(`pg-no-slot-${db}`, `no replication slot of this migration is left on ${from.name}`,
        on(from.name, `test "${psqlOut(psql(c, po, 'postgres', `SELECT count(*) FROM pg_replication_slots WHERE slot_name = ${literal(sub)};`))}" = 0`),
        `slot ${sub} is still on ${from.name}: drop it (SELECT pg_drop_replication_slot('${sub}')) or it keeps WAL forever`, W),
    ];
  });
}

/** After the verification: the publication is dropped (the regenerated modules drop the rest after finalize). */
export function pgCleanup(c: Ctx): Step[] {
  const d = c.database!;
  const { command } = stepsOf('verify');
  return d.databases.map((db) => command(`pg-cleanup-${db}`, `drop the publication on ${c.from.name} (the regenerated modules remove the pg_hba entry and settings after finalize)`,
    on(c.from.name, psql(c, d.ports.old, db, `${READ_WRITE}DROP PUBLICATION IF EXISTS ${ident(d.publication)};`))));
}
