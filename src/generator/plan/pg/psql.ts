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

/** `$(psql ...)`: the closing parenthesis on a line of its own, after the here-document's end. */
export const psqlOut = (script: string): string => `$(${script}\n)`;

/** First line of a session that writes to the old host's database after the freeze. */
export const READ_WRITE = 'SET default_transaction_read_only = off; -- this session only: the database stays read-only for every other one\n';
