// Preflight of a hot migration: what must hold before anything is created on either server.
import { cmd } from '../shell.js';
import { on, stepsOf } from '../step.js';
import type { Ctx, Step } from '../types.js';
import { psql, psqlOut } from './psql.js';
import { pgLargeObjects } from './server.js';

const { check } = stepsOf('preflight');

export function pgPreflight(c: Ctx): Step[] {
  const d = c.database!;
  const secrets = ([[c.to.name, d.secretFiles.new], [c.from.name, d.secretFiles.old]] as const).map(([h, file]) =>
    check(`secret-replication-${h}`, `replication password ${d.passwordSecret} is present on ${h}`, on(h, cmd`test -s ${file}`),
      `${file} is missing on ${h}: declare the secret ${d.passwordSecret} (owner postgres) and deploy`));
  // Tables without a primary key or replica identity would make UPDATE and DELETE fail on the
  // old host as soon as the publication exists: list them and stop before creating anything.
  const identity = d.databases.map((db) => check(`pg-identity-${db}`, `every table of ${db} on ${c.from.name} has a primary key or replica identity`,
    on(c.from.name, `bad=${psqlOut(psql(c, d.ports.old, db, `SELECT n.nspname || '.' || c.relname
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%'
  AND (c.relreplident = 'n' OR (c.relreplident = 'd' AND NOT EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND i.indisprimary)))
ORDER BY 1;`))}
if [ -n "$bad" ]; then { echo "tables without a primary key or replica identity:"; printf '%s\\n' "$bad"; } >&2; exit 1; fi`),
    `some tables of ${db} have neither a primary key nor a replica identity; add one (or ALTER TABLE ... REPLICA IDENTITY FULL) and plan again`));
  return [...secrets, ...identity, ...pgLargeObjects(c)];
}
