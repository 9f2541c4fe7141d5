// Sync of a hot migration: the subscription's initial copy and then its lag, watched until the
// freeze can start. Ready means every table copied ('r') with a live apply worker and no errors:
// a dead worker or an error is never reported as caught up. Each check also refuses, before
// anything is frozen, DDL on the old host since prepare and a slot that lost WAL.
import { literal } from '../sql.js';
import { q } from '../shell.js';
import { on, pipe, stepsOf } from '../step.js';
import type { Ctx, Step } from '../types.js';
import { psql, psqlOut } from './psql.js';
import { driftMessage, schemaChanges } from './schema.js';

const { command, probe } = stepsOf('sync');
const LAG_THRESHOLD = 16 * 1024 * 1024;

export const subscriptionOf = (c: Ctx, db: string): string => `${c.database!.subscription}_${db}`;

export function pgSync(c: Ctx): Step[] {
  const d = c.database!;
  const steps = d.databases.map((db) => syncOf(c, db));
  // The initial copy leaves both servers with its WAL and dirty buffers, and the new one with rows
  // that autovacuum would visit and no statistics: vacuumed, analysed (the application's first
  // queries get plans from statistics) and checkpointed here, before the freeze, not by autovacuum
  // or a checkpoint that the WAL volume would start inside the window.
  const checkpoint = ([[c.from.name, d.ports.old, 'old'], [c.to.name, d.ports.new, 'new']] as const).map(([h, port, side]) =>
    command(`pg-checkpoint-${side}`, `${side === 'new' ? `${h}'s copy vacuumed and analysed, then ` : ''}${h}'s PostgreSQL and disk write out what the copy left (CHECKPOINT, sync) before the freeze`,
      on(h, [...(side === 'new' ? d.databases.map((db) => psql(c, port, db, 'VACUUM (ANALYZE);')) : []), psql(c, port, 'postgres', 'CHECKPOINT;'), 'sync'].join('\n')), { concurrent: 'pg-checkpoint' }));
  return [...steps.map((x) => x[0]), ...checkpoint, ...steps.map((x) => x[1])];
}

function syncOf(c: Ctx, db: string): [Step, Step] {
  const d = c.database!;
  const sub = subscriptionOf(c, db);
  const slotState = psql(c, d.ports.old, 'postgres', `SELECT coalesce(wal_status, '-') FROM pg_replication_slots WHERE slot_name = ${literal(sub)};`);
  const drift = `${driftMessage(c, db)}. Nothing is frozen; the run undoes what it created: run it again once the schema stays put (it copies the new one).`;
  const lost = `the slot ${sub} on ${c.from.name} lost WAL it needed (it retained more than max_slot_wal_keep_size): ${c.to.name} cannot catch up. Nothing is frozen; the run undoes what it created: raise max_slot_wal_keep_size on ${c.from.name} (or move at a quieter time) and run again.`;
  return [
    probe(`pg-ready-${db}`, `every table of ${db} copied and streaming on ${c.to.name}; ${db}'s schema on ${c.from.name} unchanged since prepare`, pipe(
      on(c.from.name, `${schemaChanges(c, db)}
if [ -n "$changes" ]; then printf '%s\\n' "$changes" >&2; echo changed; else echo same; fi
slot=${psqlOut(slotState)}
echo "\${slot:-none}"`),
      on(c.to.name, `read -r schema
read -r slot
if [ "$schema" != same ]; then echo ${q(drift)} >&2; exit 3; fi
if [ "$slot" = lost ]; then echo ${q(lost)} >&2; exit 3; fi
state=${psqlOut(psql(c, d.ports.new, db, `SELECT (SELECT count(*) FROM pg_subscription_rel r JOIN pg_subscription s ON s.oid = r.srsubid WHERE s.subname = ${literal(sub)} AND r.srsubstate <> 'r')
  || ' ' || (SELECT count(*) FROM pg_stat_subscription WHERE subname = ${literal(sub)} AND pid IS NOT NULL AND relid IS NULL)
  || ' ' || (SELECT coalesce(sum(apply_error_count + sync_error_count), 0) FROM pg_stat_subscription_stats WHERE subname = ${literal(sub)});`))}
read -r pending workers errors <<<"$state"
echo "tables not ready: $pending, apply worker: $workers, errors: $errors"
if [ "$errors" != 0 ]; then echo "the subscription reports $errors apply/sync errors: see the PostgreSQL log on ${c.to.name}" >&2; exit 3; fi
# A worker that stays away (not merely restarting) is a failure, never "still catching up".
miss=${q(`/run/migen/${c.name}-${db}.noworker`)}
mkdir -p /run/migen
if [ "$workers" = 0 ]; then
  n=$(( $(cat "$miss" 2>/dev/null || echo 0) + 1 )); echo "$n" > "$miss"
  if [ "$n" -ge 15 ]; then echo "no apply worker for ${sub} in 15 consecutive checks: it keeps dying, see the PostgreSQL log on ${c.to.name}" >&2; rm -f "$miss"; exit 3; fi
else rm -f "$miss"; fi
test "$pending" = 0 && test "$workers" = 1`),
    ), { intervalSeconds: 2, deadlineSeconds: 3600, fatalExit: [3] }),
    probe(`pg-lag-${db}`, `replication lag of ${sub} below ${LAG_THRESHOLD} bytes; ${db}'s schema still unchanged`,
      on(c.from.name, `${schemaChanges(c, db)}
if [ -n "$changes" ]; then printf '%s\\n' "$changes" >&2; echo ${q(drift)} >&2; exit 3; fi
state=${psqlOut(psql(c, d.ports.old, db, `SELECT coalesce(wal_status, '-') || ' ' || coalesce(pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn), -1)::bigint FROM pg_replication_slots WHERE slot_name = ${literal(sub)};`))}
read -r status lag <<<"\${state:-none -1}"
if [ "$status" = lost ]; then echo ${q(lost)} >&2; exit 3; fi
echo "lag: $lag bytes (slot: $status)"
[ "$lag" -ge 0 ] && [ "$lag" -lt ${LAG_THRESHOLD} ]`),
      { intervalSeconds: 1, deadlineSeconds: 600, fatalExit: [3] }),
  ];
}
