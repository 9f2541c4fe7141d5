// The safety net of a hot migration: a pg_dumpall of the old server (roles, every database),
// taken before the first change and kept on the old host, where a restore needs nothing else.
import { cmd } from '../shell.js';
import { on, stepsOf } from '../step.js';
import type { Ctx, Step } from '../types.js';
import { inside, pgDir, psql, psqlOut } from './psql.js';

export const dumpFile = (c: Pick<Ctx, 'fence'>): string => `${pgDir(c)}/pg_dumpall.sql.gz`;

/** How to restore it on the old host, into a server without these databases (initdb'd, or after dropping them). */
export const restoreCommand = (c: Ctx): string =>
  `gunzip -c ${dumpFile(c)} | ${inside(c, cmd`runuser -u postgres -- psql -X -p ${c.database!.ports.old} -d postgres`)}`;

export function pgDumpall(c: Ctx): Step {
  const { command } = stepsOf('prepare');
  const d = c.database!;
  const file = dumpFile(c);
  const tmp = `${file}.tmp`;
  return command('pg-dumpall', `pg_dumpall of ${c.from.name}'s PostgreSQL (roles and every database) to ${file} on ${c.from.name}, before anything changes (restore: ${restoreCommand(c)})`,
    on(c.from.name, [
      cmd`mkdir -p -m 0700 ${pgDir(c)}`,
      // The dump never fills the disk PostgreSQL writes its WAL to: it needs at most the databases' size.
      `need=${psqlOut(psql(c, d.ports.old, 'postgres', 'SELECT sum(pg_database_size(oid))::bigint FROM pg_database;'))}`,
      `free=$(${cmd`df -B1 --output=avail ${pgDir(c)}`} | tail -n 1)`,
      `if [ "$free" -lt "$need" ]; then echo "${c.from.name} has $free bytes free in ${pgDir(c)}, the dump may need $need (the databases' size): free some space first" >&2; exit 1; fi`,
      // Written aside and renamed: an interrupted dump never passes for a complete one.
      cmd`rm -f ${tmp}`,
      `(umask 077 && ${inside(c, cmd`runuser -u postgres -- pg_dumpall -p ${d.ports.old}`)} | gzip -1 > ${tmp})`,
      cmd`gzip -t ${tmp} && mv ${tmp} ${file}`,
      `${cmd`printf 'safety net: %s (%s bytes); restore: %s\\n' ${file}`} "$(${cmd`stat -c %s ${file}`})" ${cmd`${restoreCommand(c)}`}`,
    ].join('\n')));
}

/** At the end: where the safety net is, and how to use it. */
export function pgDumpNote(c: Ctx): Step {
  const { note } = stepsOf('finalize');
  return note('pg-dumpall-kept', `the pg_dumpall of ${c.from.name} taken before the migration is kept at ${dumpFile(c)} on ${c.from.name}`,
    `${c.from.name} keeps ${dumpFile(c)} (roles with their password hashes, and every database as it was before the migration; mode 0600): remove it with the old state after the grace period. Restore on ${c.from.name}, into a server without these databases (initdb'd, or after DROP DATABASE of ${c.database!.databases.join(', ')}): ${restoreCommand(c)}`);
}
