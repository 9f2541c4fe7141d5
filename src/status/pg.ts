// What the PostgreSQL servers of a hot migration hold of it: on the old host its slots (and the WAL
// each retains), publications and replication role; on the new host its subscriptions and the
// databases a rollback kept. Read-only queries; a server that does not answer says so.
import { inside } from '../generator/plan/pg/psql.js';
import { subscriptionOf } from '../generator/plan/pg/replicate.js';
import { cmd } from '../generator/plan/shell.js';
import { literal } from '../generator/plan/sql.js';
import type { MigrationPlan } from '../generator/plan/types.js';
import { bytes } from '../runtime/output.js';

export interface PgSlot { readonly name: string; readonly active: boolean; readonly walStatus: string; readonly retainedBytes: number }
export interface PgFacts {
  readonly up: boolean;
  readonly slots: readonly PgSlot[];
  readonly publications: readonly string[];
  readonly role: boolean;
  readonly subscriptions: readonly string[];
  readonly kept: readonly string[];
}

const list = (xs: readonly string[]): string => xs.map(literal).join(', ');

/** The lines of the facts script that ask this host's server (`pg.KEY=VALUE`). */
export function pgScript(m: MigrationPlan, role: 'old' | 'new'): string[] {
  const d = m.database!;
  const port = role === 'old' ? d.ports.old : d.ports.new;
  const q = (db: string, sql: string): string => inside(m, cmd`runuser -u postgres -- psql -X -q -At -p ${port} -d ${db} -c ${sql}`);
  const subs = d.databases.map((db) => subscriptionOf(m, db));
  const queries = role === 'old'
    ? [q('postgres', `SELECT x FROM (SELECT 'slot=' || slot_name || ' ' || active || ' ' || coalesce(wal_status, '-') || ' ' || coalesce(pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)::bigint, 0) AS x FROM pg_replication_slots
WHERE slot_name IN (${list(subs)}) OR (slot_name ~ '^pg_[0-9]+_sync_' AND database IN (${list(d.databases)})) UNION ALL SELECT 'role=' || rolname FROM pg_roles WHERE rolname = ${literal(d.role)}) s ORDER BY x`),
      ...d.databases.map((db) => `if ${q('postgres', `SELECT 1 FROM pg_database WHERE datname = ${literal(db)}`)} | grep -qx 1; then ${q(db, `SELECT 'publication=' || current_database() FROM pg_publication WHERE pubname = ${literal(d.publication)}`)}; fi`)]
    : [q('postgres', `SELECT 'subscription=' || subname FROM pg_subscription WHERE subname IN (${list(subs)})
UNION ALL SELECT 'kept=' || datname FROM pg_database WHERE ${d.databases.map((db) => `datname ~ ${literal(`^${db.slice(0, 40).replace(/[^A-Za-z0-9_]/g, '.')}_rolled_back_[0-9]{8}_[0-9]{6}$`)}`).join(' OR ')}`)];
  // Each query's lines prefixed; a server that does not answer (stopped, or its container) reports pg.up=0.
  return [`if pgout=$( { ${queries.join(' && ')}; } 2>/dev/null); then echo pg.up=1; printf '%s\\n' "$pgout" | sed -n 's/^\\([a-z]*=\\)/pg.\\1/p'; else echo pg.up=0; fi`];
}

export function parsePg(lines: readonly [string, string][]): PgFacts {
  const slots: PgSlot[] = []; const publications: string[] = []; const subscriptions: string[] = []; const kept: string[] = [];
  let up = false; let role = false;
  for (const [k, v] of lines) {
    if (k === 'pg.up') up = v === '1';
    else if (k === 'pg.slot') { const [name = '', active, walStatus = '-', retained] = v.split(' '); slots.push({ name, active: active === 'true', walStatus, retainedBytes: Number(retained) || 0 }); }
    else if (k === 'pg.publication') publications.push(v);
    else if (k === 'pg.role') role = true;
    else if (k === 'pg.subscription') subscriptions.push(v);
    else if (k === 'pg.kept') kept.push(v);
  }
  return { up, slots, publications, role, subscriptions, kept };
}

/** Status lines, and what is left behind when no run holds the hosts. */
export function pgStatus(m: MigrationPlan, old: PgFacts | undefined, neu: PgFacts | undefined, running: boolean): { lines: string[]; problems: string[] } {
  const lines: string[] = []; const problems: string[] = [];
  const d = m.database!;
  if (old) {
    const parts = old.up ? [
      ...old.slots.map((s) => `slot ${s.name} (${s.active ? 'active' : 'inactive'}, wal_status ${s.walStatus}) retains ${bytes(s.retainedBytes)} of WAL`),
      ...old.publications.map((db) => `publication ${d.publication} in ${db}`),
      ...(old.role ? [`replication role ${d.role}`] : []),
    ] : ['not answering'];
    if (parts.length) lines.push(`  ${m.from.name} PostgreSQL: ${parts.join('; ')}`);
    if (old.up && !running) {
      for (const s of old.slots) problems.push(`replication slot ${s.name} is left on ${m.from.name} and retains ${bytes(s.retainedBytes)} of WAL (until max_slot_wal_keep_size ${d.sizes.publisher.maxSlotWalKeepSize}, then PostgreSQL invalidates it): migen run ${m.name} --rollback drops it, or on ${m.from.name}: SELECT pg_drop_replication_slot('${s.name}')`);
      if (old.publications.length || old.role) problems.push(`left on ${m.from.name} by an unfinished run: ${[...old.publications.map((db) => `publication ${d.publication} in ${db}`), ...(old.role ? [`role ${d.role}`] : [])].join(', ')} (migen run ${m.name} --rollback, or --resume to finish)`);
    }
  }
  if (neu && neu.up && (neu.subscriptions.length || neu.kept.length)) {
    lines.push(`  ${m.to.name} PostgreSQL: ${[...neu.subscriptions.map((s) => `subscription ${s}`), ...neu.kept.map((k) => `writes kept by a rollback in database ${k} (inspect, merge into ${m.from.name}, then drop it)`)].join('; ')}`);
    if (!running) for (const s of neu.subscriptions) problems.push(`subscription ${s} is left on ${m.to.name}: migen run ${m.name} --rollback removes it`);
  }
  return { lines, problems };
}
