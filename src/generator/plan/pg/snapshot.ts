// Snapshots of the frozen state, and the full comparison on them after the start. Inside the window,
// before the application starts on the new host, a holder on each host opens a REPEATABLE READ,
// READ ONLY transaction, takes its snapshot, locks every table in ACCESS SHARE mode (so no DDL can
// change what it reads: an application's schema change at its start waits until the comparison
// ends) and exports the snapshot; the step returns once that is done. The holder then computes
// every table's row count and checksum on that snapshot once the window is over (the comparison
// tells it to go: the hashing takes no CPU from the start), writes them and ends (its transaction
// with it). The check that says go waits for both and compares them: a difference fails the
// migration (and its rollback keeps the new host's writes).
//
// The holder is a process of its own (setsid; its pid, lock, output and exit status in
// DIR=/var/lib/migen/NAME/pg/snapshot-DB on its host), so it outlives the step that started it;
// on the new host it runs inside the cutover coordinator's unit, which outlives the comparison.
// Its session is named (application_name), so the undo ends it on the server even when the
// process runs in a container. Ended by: itself (success), the undo (rollback), a repeat of the
// step (replaced), a reboot.
import { cmd, q } from '../shell.js';
import { literal } from '../sql.js';
import { on, pipe, stepsOf } from '../step.js';
import type { Ctx, Step } from '../types.js';
import { pgDir, psql, psqlStdin, USER_TABLE } from './psql.js';

const CHECKSUM = `SELECT format('SELECT %L || '' '' || count(*) || '' '' || coalesce(sum(hashtext(t::text)::bigint), 0) FROM %I.%I t;', quote_ident(n.nspname) || '.' || quote_ident(c.relname), n.nspname, c.relname)
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE ${USER_TABLE} ORDER BY 1 \\gexec`;

const dirOf = (c: Ctx, db: string): string => `${pgDir(c)}/snapshot-${db}`;
const appName = (c: Ctx, db: string): string => `migen-snapshot-${c.name}-${db}`.slice(0, 63);

function holderScript(c: Ctx, port: number, db: string): string {
  return [
    '#!/bin/bash',
    `# migen: holds a snapshot of ${db}'s frozen state and computes its tables' checksums on it`,
    'set -uo pipefail',
    'd=$1',
    'echo $$ > "$d/pid"',
    'exec 9>"$d/lock"',
    'flock 9',
    // psql runs each statement as it arrives: the snapshot now, the checksums once the window is
    // over (the comparison says go), so that they take no CPU from the start; an hour at most.
    '{',
    "  cat <<'SQL'",
    `SET application_name = ${literal(appName(c, db))};`,
    'BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY;',
    `SELECT format('LOCK TABLE %I.%I IN ACCESS SHARE MODE;', n.nspname, c.relname) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE ${USER_TABLE} ORDER BY 1 \\gexec`,
    "SELECT 'migen-snapshot ' || pg_export_snapshot();",
    'SQL',
    '  for i in $(seq 1 72000); do [ -e "$d/go" ] && break; sleep 0.05; done',
    `  if [ -e "$d/go" ]; then cat <<'SQL'`,
    CHECKSUM,
    'COMMIT;',
    'SQL',
    '  fi',
    `} | ${psqlStdin(c, port, db)} >"$d/out" 2>"$d/err"`,
    'rc=$?',
    '[ -e "$d/go" ] || { echo "no comparison came within an hour: the snapshot was let go" >> "$d/err"; rc=1; }',
    'echo "$rc" > "$d/rc"',
  ].join('\n');
}

/** Ends a holder of an earlier attempt or of a rolled-back run: its process group, its session on the server, then its files. */
function stopHolder(c: Ctx, port: number, db: string): string {
  const dir = dirOf(c, db);
  // no directory, no holder: it is removed only after its holder ended
  return [
    cmd`d=${dir}`,
    'if [ -d "$d" ]; then',
    '  if [ -s "$d/pid" ] && kill -0 -- "-$(cat "$d/pid")" 2>/dev/null; then kill -TERM -- "-$(cat "$d/pid")"; fi',
    `  ${psql(c, port, 'postgres', `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = ${literal(appName(c, db))};`, { pipe: '>/dev/null' })}`,
    '  if [ -e "$d/lock" ]; then flock -w 10 "$d/lock" true; fi',
    '  rm -rf "$d"',
    'fi',
  ].join('\n');
}

function startHolder(c: Ctx, host: string, port: number, db: string): string {
  return [
    stopHolder(c, port, db),
    'mkdir -p -m 0700 "$d"',
    `cat > "$d/holder.sh" <<'MIGEN_HOLDER'\n${holderScript(c, port, db)}\nMIGEN_HOLDER`,
    'setsid bash "$d/holder.sh" "$d" </dev/null >/dev/null 2>&1 &',
    // returns once the snapshot is taken and every table locked, before the application starts
    'for i in $(seq 1 3000); do',
    `  if grep -q '^migen-snapshot ' "$d/out" 2>/dev/null; then echo "snapshot $(sed -n 's/^migen-snapshot //p' "$d/out") of ${db} held on ${host}"; exit 0; fi`,
    `  if [ -e "$d/rc" ]; then echo "the snapshot of ${db} on ${host} failed: $(tail -n 5 "$d/err")" >&2; exit 1; fi`,
    '  sleep 0.01',
    'done',
    `echo "no snapshot of ${db} on ${host} within 30 s" >&2; exit 1`,
  ].join('\n');
}

/** `group`: the concurrent group they join (the freeze's checks). */
export function pgSnapshots(c: Ctx, db: string, group: string): Step[] {
  const { command } = stepsOf('cutover');
  const d = c.database!;
  const o = { window: true, fleet: true, concurrent: group } as const;
  return ([[c.from.name, d.ports.old, 'old'], [c.to.name, d.ports.new, 'new']] as const).map(([host, port, side]) =>
    command(`pg-snapshot-${side}-${db}`, `snapshot of ${db}'s frozen state held on ${host} (REPEATABLE READ, every table locked against DDL) before the application starts; its checksums computed on it from here, after the start`,
      on(host, startHolder(c, host, port, db)), { ...o, undo: on(host, stopHolder(c, port, db)), undoOnFailure: true }));
}

/** On a host: waits for its holder to end, prints its checksums ("table rows sum" lines). */
function sums(c: Ctx, host: string, db: string): string {
  return [
    cmd`d=${dirOf(c, db)}`,
    `test -e "$d/lock" || { echo ${q(`no snapshot of ${db} on ${host}: the pg-snapshot step did not run`)} >&2; exit 1; }`,
    ': > "$d/go"',
    'flock "$d/lock" true',
    `if [ "$(cat "$d/rc" 2>/dev/null)" != 0 ]; then echo "the checksums of ${db} on ${host} failed: $(tail -n 5 "$d/err")" >&2; exit 1; fi`,
    "grep -v '^migen-snapshot ' \"$d/out\" || [ $? = 1 ]",
  ].join('\n');
}

/** After the window: the full comparison on both snapshots (runs as long as the data needs; the application serves meanwhile). */
export function pgCompare(c: Ctx): Step[] {
  const { check } = stepsOf('verify');
  const { from, to } = c;
  return c.database!.databases.map((db) => check(`pg-compare-${db}`, `row count and checksum of every table of ${db} equal on both hosts, on the snapshots of the frozen state (after the start: as long as the data needs)`, pipe(
    on(from.name, sums(c, from.name, db)),
    on(to.name, `theirs=$(cat)
mine=$(${sums(c, to.name, db)}
)
changes=$(diff --old-line-format='  ${from.name}: %L' --new-line-format='  ${to.name}: %L' --unchanged-line-format='' <(printf '%s\\n' "$theirs" | LC_ALL=C sort) <(printf '%s\\n' "$mine" | LC_ALL=C sort)) || [ $? = 1 ]
if [ -z "$theirs" ] || [ -n "$changes" ]; then { echo "tables of ${db} that differ (table, rows, checksum) between ${from.name} (frozen) and ${to.name} as of the freeze:"; printf '%s\\n' "\${changes:-  no checksums from ${from.name}}"; } >&2; exit 1; fi
echo "every table of ${db} equal on ${from.name} and ${to.name} as of the freeze ($(printf '%s\\n' "$mine" | grep -c .) tables)"`),
  ), `the tables of ${db} differ between ${from.name} (frozen) and ${to.name} as of the freeze: the migration failed; its rollback keeps what ${to.name} wrote since in a renamed database`, { fleet: true }));
}
