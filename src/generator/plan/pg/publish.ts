// Publication and subscription of a hot migration, each created only when missing (a repeated
// step finds it), each undone on the old host: the publication dropped, and the subscription's
// slots (its own and its table-sync workers') dropped there, which is what holds WAL; the
// subscription object itself goes with the new host's database (target.ts), so a rollback with
// the new host out of reach still leaves nothing on the old one.
import { cmd, q } from '../shell.js';
import { ident, literal } from '../sql.js';
import { on, pipe, stepsOf } from '../step.js';
import type { Ctx, Step } from '../types.js';
import { inside, pgDir, psql, psqlOut, QUIET, READ_WRITE } from './psql.js';
import { subscriptionOf } from './replicate.js';

const { command } = stepsOf('prepare');

/** On the old host: the subscription's oid, from which its table-sync slots are named (pg_OID_sync_RELID_SYSID). */
export const subOidFile = (c: Ctx, db: string): string => `${pgDir(c)}/${db}.suboid`;

/** SQL (old server) selecting this migration's slots of `db`: the subscription's and its table-sync workers'; :'oid' is the subscription's oid or empty. */
export const ourSlots = (sub: string): string => `slot_name = ${literal(sub)} OR (:'oid' <> '' AND slot_name LIKE 'pg\\_' || :'oid' || '\\_sync\\_%')`;

/** Reads the recorded oid into $oid (empty when none was recorded). */
export const readOid = (c: Ctx, db: string): string => cmd`oid=''; if [ -s ${subOidFile(c, db)} ]; then oid=$(cat ${subOidFile(c, db)}); fi`;

export function pgPublication(c: Ctx, db: string): Step {
  const d = c.database!;
  const pub = literal(d.publication);
  return command(`pg-publication-${db}`, `publication ${d.publication} for all tables of ${db} on ${c.from.name}`,
    on(c.from.name, psql(c, d.ports.old, db, `SELECT format('CREATE PUBLICATION %I FOR ALL TABLES', ${pub}) WHERE NOT EXISTS (SELECT 1 FROM pg_publication WHERE pubname = ${pub}) \\gexec
SELECT CASE WHEN puballtables THEN 'ok' ELSE 'not for all tables' END FROM pg_publication WHERE pubname = ${pub};`, { pipe: '| grep -qx ok' })),
    // After the freeze the database defaults to read-only: this session opts out to drop it.
    { undo: on(c.from.name, psql(c, d.ports.old, db, `${READ_WRITE}DROP PUBLICATION IF EXISTS ${ident(d.publication)};`)), undoOnFailure: true });
}

/**
 * Applied transactions are flushed as they commit (synchronous_commit on, not the subscription's
 * default off): the slot then confirms the freeze's position at once instead of after the new
 * host's WAL writer's next round, up to 200 ms later, inside the window.
 * The connection string carries the password (a subscription needs it): built inside bash from
 * the secret file and fed to psql on stdin, in a session that keeps its statement out of every
 * log, so no command line or log shows it.
 */
export function pgSubscription(c: Ctx, db: string): Step {
  const d = c.database!;
  const sub = subscriptionOf(c, db);
  const pn = d.ports.new;
  const exists = psql(c, pn, db, `SELECT oid FROM pg_subscription WHERE subname = ${literal(sub)} AND subdbid = (SELECT oid FROM pg_database WHERE datname = current_database());`);
  return command(`pg-subscription-${db}`, `subscription ${sub} on ${c.to.name} to ${c.from.name}'s publication (initial copy starts); its oid recorded on ${c.from.name}, where its table-sync slots are named after it`, pipe(
    on(c.to.name, [
      `oid=${psqlOut(exists)}`,
      'if [ -z "$oid" ]; then',
      `  pw=$(cat ${q(d.secretFiles.new)})`,
      String.raw`  pwc=$(printf '%s' "$pw" | sed -e 's/\\/\\\\/g' -e "s/'/\\\\'/g")`,
      `  conn="host=${c.from.address} port=${d.ports.old} dbname=${db} user=${d.role} connect_timeout=10 password='$pwc'"`,
      String.raw`  lit=$(printf '%s' "$conn" | sed "s/'/''/g")`,
      `  { cat <<'SQL'\n${QUIET}\nSQL`,
      `    printf 'CREATE SUBSCRIPTION "%s" CONNECTION '"'"'%s'"'"' PUBLICATION "%s" WITH (synchronous_commit = on);\\n' ${q(sub)} "$lit" ${q(d.publication)}; } \\`,
      `    | ${inside(c, cmd`runuser -u postgres -- psql -X -q -v ON_ERROR_STOP=1 -p ${pn} -d ${db}`)}`,
      `  oid=${psqlOut(exists)}`,
      'fi',
      'test -n "$oid" && printf \'%s\\n\' "$oid"',
    ].join('\n')),
    on(c.from.name, `read -r oid\n${cmd`mkdir -p ${pgDir(c)} && printf '%s\\n' "$oid" > ${subOidFile(c, db)}`}`),
  ), { undo: on(c.from.name, dropSlots(c, db)), undoOnFailure: true });
}

/**
 * On the old host: this migration's slots of `db` dropped, their walsenders ended first (a
 * subscriber that reconnects in between is ended again, for up to 10 s). Safe to repeat; needs
 * nothing from the new host.
 */
export function dropSlots(c: Ctx, db: string): string {
  const d = c.database!;
  const sub = subscriptionOf(c, db);
  return `${readOid(c, db)}
${psql(c, d.ports.old, 'postgres', `SELECT set_config('migen.oid', :'oid', false), set_config('migen.sub', ${literal(sub)}, false);
DO $$
DECLARE s record; remaining int;
BEGIN
  FOR i IN 1..100 LOOP
    remaining := 0;
    FOR s IN SELECT slot_name, active_pid FROM pg_replication_slots
      WHERE slot_name = current_setting('migen.sub') OR (current_setting('migen.oid') <> '' AND slot_name LIKE 'pg\\_' || current_setting('migen.oid') || '\\_sync\\_%') LOOP
      remaining := remaining + 1;
      IF s.active_pid IS NOT NULL THEN PERFORM pg_terminate_backend(s.active_pid);
      ELSE
        BEGIN PERFORM pg_drop_replication_slot(s.slot_name); remaining := remaining - 1;
        EXCEPTION WHEN object_in_use OR undefined_object THEN NULL; -- taken again in between, or gone: the next round sees it
        END;
      END IF;
    END LOOP;
    IF remaining = 0 THEN RETURN; END IF;
    PERFORM pg_sleep(0.1);
  END LOOP;
  RAISE EXCEPTION 'the replication slots of this migration are still in use after 10 s';
END $$;`, { vars: { oid: '"$oid"' }, pipe: '>/dev/null' })}`;
}
