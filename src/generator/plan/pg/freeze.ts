// The freeze of a hot migration, inside the window, after the application stopped on the old
// host. Only what costs O(1) or O(tables), whatever the data's size: every session read-only, the
// new host caught up to the old one's last WAL position, the schema unchanged since prepare,
// sequences copied (they are not replicated), every table in the subscription and ready, exact
// row counts of the small tables (8 MiB at most each), the subscription (and with it the slot)
// dropped, snapshots of the frozen state taken on both servers (snapshot.ts). The full per-table
// comparison runs on those snapshots after the start (verify).
import { ident, literal } from '../sql.js';
import { on, pipe, stepsOf } from '../step.js';
import type { Ctx, Step } from '../types.js';
import { psql, psqlOut, psqlStdin, USER_TABLE } from './psql.js';
import { ourSlots, readOid } from './publish.js';
import { subscriptionOf } from './replicate.js';
import { driftMessage, schemaChanges } from './schema.js';
import { pgSnapshots } from './snapshot.js';

const cut = stepsOf('cutover');
// The freeze is in the window: the cutover coordinator on the new host runs it.
const W = { window: true, fleet: true } as const;
/** Tables up to this size are counted exactly inside the window; larger ones are compared after the start. */
export const SMALL_TABLE_BYTES = 8 * 1024 * 1024;

const COUNTS = `SELECT format(CASE WHEN pg_relation_size(c.oid) <= ${SMALL_TABLE_BYTES} THEN 'SELECT %L || E''\\t'' || count(*) FROM %I.%I;' ELSE 'SELECT %L || E''\\t-'';' END,
  quote_ident(n.nspname) || '.' || quote_ident(c.relname), n.nspname, c.relname)
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE ${USER_TABLE} ORDER BY 1 \\gexec`;

const COUNTS_OF = `SELECT CASE WHEN split_part(l, E'\\t', 2) = '-' THEN format('SELECT %L;', l)
  ELSE format('SELECT %L || E''\\t'' || count(*) FROM %s;', split_part(l, E'\\t', 1), split_part(l, E'\\t', 1)::regclass) END
FROM regexp_split_to_table(:'old', E'\\n') AS l WHERE l <> '' ORDER BY 1 \\gexec`;

export function pgFreeze(c: Ctx): Step[] {
  const d = c.database!;
  const { from, to } = c;
  const { old: po, new: pn } = d.ports;
  return d.databases.flatMap((db) => {
    const sub = subscriptionOf(c, db);
    const frozen = { ...W, concurrent: `pg-frozen-${db}` };
    return [
      // From the postgres database: a session in the database itself would be read-only once this
      // is set, and the undo (the thaw) could not run ALTER DATABASE there. Then, in the same
      // session, a commit of its own: every change before it (an asynchronous commit too) is
      // flushed, so the slot can confirm it now rather than after the WAL writer's next round; and
      // it polls the slot every 10 ms (the view reads shared memory: no snapshot in the way).
      cut.command(`pg-freeze-${db}`, `${db} on ${from.name} read-only for every role, remaining sessions terminated; then ${to.name} confirmed every change up to ${from.name}'s WAL position (O(1))`,
        on(from.name, psql(c, po, 'postgres', `ALTER DATABASE ${ident(db)} SET default_transaction_read_only = on;
SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = ${literal(db)} AND pid <> pg_backend_pid() AND backend_type = 'client backend' \\g /dev/null
SELECT pg_current_xact_id() \\g /dev/null
SELECT set_config('migen.target', pg_current_wal_flush_lsn()::text, false) \\g /dev/null
DO $$
DECLARE st text; ok boolean;
BEGIN
  FOR i IN 1..6000 LOOP
    SELECT wal_status, confirmed_flush_lsn >= current_setting('migen.target')::pg_lsn INTO st, ok FROM pg_replication_slots WHERE slot_name = ${literal(sub)};
    IF NOT FOUND THEN RAISE EXCEPTION 'no slot ${sub}'; END IF;
    IF st = 'lost' THEN RAISE EXCEPTION 'the slot ${sub} lost WAL it needed (max_slot_wal_keep_size): the copy on ${to.name} is incomplete'; END IF;
    IF ok THEN RETURN; END IF;
    PERFORM pg_sleep(0.01);
  END LOOP;
  RAISE EXCEPTION 'the slot ${sub} did not confirm % within 60 s', current_setting('migen.target');
END $$;
SELECT 'caught up at ' || current_setting('migen.target');`)),
        // its undo also when it fails: the database may be read-only already
        { ...W, undo: on(from.name, psql(c, po, 'postgres', `ALTER DATABASE ${ident(db)} RESET default_transaction_read_only;`)), undoOnFailure: true }),
      // From here at once (the slot confirmed everything: nothing changes on either side until the
      // start): the checks, the sequences, the subscription's drop and the snapshots.
      cut.check(`pg-schema-frozen-${db}`, `${db}'s schema on ${from.name} is still the one prepare copied (O(tables))`,
        on(from.name, `${schemaChanges(c, db)}\nif [ -n "$changes" ]; then printf '%s\\n' "$changes" >&2; exit 1; fi`),
        `${driftMessage(c, db)}: rolled back before ${to.name} took any write`, frozen),
      cut.command(`pg-sequences-${db}`, `sequences of ${db}: ${to.name} continues where ${from.name} stopped (they are not replicated; O(sequences))`, pipe(
        on(from.name, psql(c, po, db, `SELECT format('SELECT setval(%L, %s, %s);', quote_ident(schemaname) || '.' || quote_ident(sequencename), coalesce(last_value, start_value), (last_value IS NOT NULL)::text) FROM pg_sequences ORDER BY 1;`)),
        on(to.name, `${psqlStdin(c, pn, db)} >/dev/null`),
      ), frozen),
      cut.check(`pg-counts-${db}`, `every table of ${db} is in ${sub} and ready on ${to.name}, and the small ones (${SMALL_TABLE_BYTES / 1048576} MiB at most) hold as many rows on both hosts (O(tables)); the rest is compared after the start`, pipe(
        on(from.name, psql(c, po, db, COUNTS)),
        on(to.name, `theirs=$(cat)
mine=${psqlOut(psql(c, pn, db, `SELECT 'not ready: ' || count(*) FROM pg_subscription_rel r JOIN pg_subscription s ON s.oid = r.srsubid WHERE s.subname = ${literal(sub)} AND r.srsubstate <> 'r' HAVING count(*) > 0;\n${COUNTS_OF}`, { vars: { old: '"$theirs"' } }))}
changes=$(diff --old-line-format='  ${from.name}: %L' --new-line-format='  ${to.name}: %L' --unchanged-line-format='' <(printf '%s\\n' "$theirs" | LC_ALL=C sort) <(printf '%s\\n' "$mine" | LC_ALL=C sort)) || [ $? = 1 ]
if [ -n "$changes" ]; then { echo "row counts of ${db} differ, or tables are not ready (table, rows):"; printf '%s\\n' "$changes"; } >&2; exit 1; fi
echo "$(printf '%s\\n' "$theirs" | grep -vc $'\\t-$') tables counted, $(printf '%s\\n' "$theirs" | grep -c $'\\t-$') compared after the start"`),
      ), `the tables of ${db} on ${to.name} are not a complete copy of ${from.name}'s`, frozen),
      // The check on the old host reads the drop's output to its end: it runs once the drop is done.
      cut.check(`pg-drop-subscription-${db}`, `drop subscription ${sub} on ${to.name} (and with it the slot on ${from.name}); no slot of this migration left on ${from.name}`, pipe(
        on(to.name, psql(c, pn, db, `DROP SUBSCRIPTION IF EXISTS ${ident(sub)};`)),
        on(from.name, `cat >/dev/null\n${readOid(c, db)}\ntest "${psqlOut(psql(c, po, 'postgres', `SELECT count(*) FROM pg_replication_slots WHERE ${ourSlots(sub)};`, { vars: { oid: '"$oid"' } }))}" = 0`),
      ), `a slot of ${sub} is still on ${from.name}, or the subscription could not be dropped: drop the slot (SELECT pg_drop_replication_slot('${sub}')) or it keeps WAL until max_slot_wal_keep_size`, frozen),
      ...pgSnapshots(c, db, frozen.concurrent),
    ];
  });
}
