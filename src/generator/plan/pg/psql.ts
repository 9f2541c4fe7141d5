// psql as the postgres superuser, where the database lives (on the host, or inside the service's
// nixos-container), with the SQL on stdin as a quoted here-document: no shell expansion inside
// SQL; values from the shell reach it as psql variables (:'name').
import { cmd } from '../shell.js';
import type { Ctx } from '../types.js';

/** A command run where the database lives: on the host, or inside the service's nixos-container. */
export function inside(c: Ctx, command: string): string {
  return c.container ? cmd`nixos-container run ${c.container} -- ` + command : command;
}

export interface PsqlOpts {
  /** Continues the command line (`| grep -qx ok`): after a here-document's end marker nothing may follow on its line. */
  readonly pipe?: string;
  /** psql variables from shell words (e.g. { target: '"$target"' }), read in SQL as :'target'. */
  readonly vars?: Readonly<Record<string, string>>;
}

/** psql with the SQL as a here-document; -At prints bare values. */
export function psql(c: Ctx, port: number, db: string, sql: string, o: PsqlOpts = {}): string {
  const vars = Object.entries(o.vars ?? {}).map(([k, v]) => ` -v ${k}=${v}`).join('');
  return `${inside(c, cmd`runuser -u postgres -- psql -X -q -v ON_ERROR_STOP=1 -At -p ${port} -d ${db}`)}${vars} <<'SQL'${o.pipe ? ` ${o.pipe}` : ''}\n${sql}\nSQL`;
}

/** psql reading its SQL from the script's standard input (a pipe's second part). */
export const psqlStdin = (c: Ctx, port: number, db: string, extra = ''): string =>
  inside(c, `${cmd`runuser -u postgres -- psql -X -q -v ON_ERROR_STOP=1 -At -p ${port} -d ${db}`}${extra}`);

/** `$(psql ...)`: the closing parenthesis on a line of its own, after the here-document's end. */
export const psqlOut = (script: string): string => `$(${script}\n)`;

/** First line of a session that writes to the old host's database after the freeze. */
export const READ_WRITE = 'SET default_transaction_read_only = off; -- this session only: the database stays read-only for every other one\n';

/**
 * First lines of a session whose statements carry a password or a password hash: nothing of it in
 * the server log (the statement, its duration line, a sampled transaction, an error's statement,
 * the parse and plan dumps, auto_explain), in pg_stat_activity or in pg_stat_statements. Each of
 * these settings is the session's own (the superuser may set them; an extension's that is not
 * loaded is a placeholder, harmless).
 */
export const QUIET = [
  "SET log_statement = 'none'; SET log_min_duration_statement = -1; SET log_min_duration_sample = -1; SET log_transaction_sample_rate = 0;",
  "SET log_min_error_statement = 'panic'; SET log_duration = off; SET debug_print_parse = off; SET debug_print_rewritten = off; SET debug_print_plan = off;",
  'SET track_activities = off; SET auto_explain.log_min_duration = -1; SET pg_stat_statements.track_utility = off;',
].join('\n');

/** What a table of the migrated database is, in SQL over pg_class c and pg_namespace n: an ordinary table of a user schema (a partition counts, its parent holds no rows). */
export const USER_TABLE = "c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp%'";

/** Where a migration keeps its PostgreSQL files on a host (schema baseline, snapshots, markers). */
export const pgDir = (c: Pick<Ctx, 'fence'>): string => `${c.fence.dir}/pg`;
