// Sync of a hot migration: the subscription's initial copy and then its lag, watched until the
// freeze can start. Ready means every table copied ('r') with a live apply worker and no errors:
// a dead worker or an error is never reported as caught up.
import { literal } from '../sql.js';
import { q } from '../shell.js';
import { on, stepsOf } from '../step.js';
import type { Ctx, Step } from '../types.js';
import { psql, psqlOut } from './psql.js';

const { probe } = stepsOf('sync');
const LAG_THRESHOLD = 16 * 1024 * 1024;

export const subscriptionOf = (c: Ctx, db: string): string => `${c.database!.subscription}_${db}`;

export function pgSync(c: Ctx): Step[] {
  const d = c.database!;
  return d.databases.flatMap((db) => {
    const sub = subscriptionOf(c, db);
    return [
      probe(`pg-ready-${db}`, `every table of ${db} copied and streaming on ${c.to.name}; lag on ${c.from.name}'s slot`,
        on(c.to.name, `state=${psqlOut(psql(c, d.ports.new, db, `SELECT (SELECT count(*) FROM pg_subscription_rel r JOIN pg_subscription s ON s.oid = r.srsubid WHERE s.subname = ${literal(sub)} AND r.srsubstate <> 'r')
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
        { intervalSeconds: 2, deadlineSeconds: 3600, fatalExit: [3] }),
      probe(`pg-lag-${db}`, `replication lag of ${sub} below ${LAG_THRESHOLD} bytes`,
        on(c.from.name, `lag=${psqlOut(psql(c, d.ports.old, db, `SELECT coalesce(pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn), -1)::bigint FROM pg_replication_slots WHERE slot_name = ${literal(sub)};`))}
echo "lag: \${lag:-no slot} bytes"
test -n "$lag" && [ "$lag" -ge 0 ] && [ "$lag" -lt ${LAG_THRESHOLD} ]`),
        { intervalSeconds: 1, deadlineSeconds: 600 }),
    ];
  });
}
