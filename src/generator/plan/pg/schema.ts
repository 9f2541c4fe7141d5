// The schema of a migrated database as text, one line per object (schemas, extensions, relations
// with their columns, constraints, indexes, triggers, functions, enum and domain types), in a
// fixed order: taken on the old host right before its schema is copied, it is the baseline against
// which DDL during the migration (which logical replication does not carry) is detected, before
// the freeze and inside it; equal on both hosts once the copy loaded. It reads only the catalogue:
// O(objects), whatever the data.
import { cmd } from '../shell.js';
import type { Ctx } from '../types.js';
import { pgDir, psql, psqlOut } from './psql.js';

export const FINGERPRINT = `WITH ns AS (SELECT oid, nspname FROM pg_namespace WHERE nspname NOT IN ('pg_catalog', 'information_schema') AND nspname NOT LIKE 'pg\\_toast%' AND nspname NOT LIKE 'pg\\_temp%'),
ext AS (SELECT classid, objid FROM pg_depend WHERE deptype = 'e')
SELECT x FROM (
  SELECT 'schema ' || quote_ident(nspname) AS x FROM ns
  UNION ALL SELECT 'extension ' || quote_ident(extname) FROM pg_extension
  UNION ALL SELECT 'relation ' || quote_ident(n.nspname) || '.' || quote_ident(c.relname) || ' ' || c.relkind::text || ' ('
    || coalesce((SELECT string_agg(quote_ident(a.attname) || ' ' || format_type(a.atttypid, a.atttypmod) || CASE WHEN a.attnotnull THEN ' not null' ELSE '' END
      || coalesce(' default ' || pg_get_expr(d.adbin, d.adrelid), ''), ', ' ORDER BY a.attnum)
      FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped), '') || ')'
    || CASE WHEN c.relkind IN ('v', 'm') THEN ' ' || md5(pg_get_viewdef(c.oid)) ELSE '' END
    FROM pg_class c JOIN ns n ON n.oid = c.relnamespace
    WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f') AND NOT EXISTS (SELECT 1 FROM ext WHERE ext.classid = 'pg_class'::regclass AND ext.objid = c.oid)
  UNION ALL SELECT 'constraint ' || quote_ident(n.nspname) || '.' || quote_ident(c.relname) || ' ' || quote_ident(k.conname) || ' ' || pg_get_constraintdef(k.oid)
    FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid JOIN ns n ON n.oid = c.relnamespace
  UNION ALL SELECT 'index ' || pg_get_indexdef(i.indexrelid) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN ns n ON n.oid = c.relnamespace
    WHERE NOT EXISTS (SELECT 1 FROM ext WHERE ext.classid = 'pg_class'::regclass AND ext.objid = i.indrelid)
  UNION ALL SELECT 'trigger ' || pg_get_triggerdef(t.oid) FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN ns n ON n.oid = c.relnamespace WHERE NOT t.tgisinternal
  UNION ALL SELECT 'function ' || p.oid::regprocedure::text || ' ' || md5(coalesce(p.prosrc, '') || coalesce(p.probin, '')) FROM pg_proc p JOIN ns n ON n.oid = p.pronamespace
    WHERE NOT EXISTS (SELECT 1 FROM ext WHERE ext.classid = 'pg_proc'::regclass AND ext.objid = p.oid)
  UNION ALL SELECT 'type ' || t.oid::regtype::text || ' ' || t.typtype::text || coalesce(' (' || (SELECT string_agg(quote_literal(e.enumlabel), ', ' ORDER BY e.enumsortorder) FROM pg_enum e WHERE e.enumtypid = t.oid) || ')', '')
    FROM pg_type t JOIN ns n ON n.oid = t.typnamespace WHERE t.typtype IN ('e', 'd') AND NOT EXISTS (SELECT 1 FROM ext WHERE ext.classid = 'pg_type'::regclass AND ext.objid = t.oid)
) s ORDER BY x;`;

/** The baseline on the old host, written by the schema copy. */
export const baselineOf = (c: Ctx, db: string): string => `${pgDir(c)}/${db}.schema`;

/**
 * On the old host: sets `changes` to the lines of the schema that differ from the baseline ("was:"
 * and "now:"), empty when none. The baseline missing is an error (the schema copy writes it).
 */
export function schemaChanges(c: Ctx, db: string): string {
  const base = baselineOf(c, db);
  return [
    `now=${psqlOut(psql(c, c.database!.ports.old, db, FINGERPRINT))}`,
    cmd`test -s ${base} || { echo ${`the schema baseline ${base} is missing on ${c.from.name}: run the prepare steps first`} >&2; exit 1; }`,
    // diff: 0 the same, 1 different, 2 trouble (which fails the script)
    cmd`changes=$(printf '%s\\n' "$now" | diff --old-line-format='  was: %L' --new-line-format='  now: %L' --unchanged-line-format='' ${base} -) || [ $? = 1 ]`,
  ].join('\n');
}

/** The message for DDL on the old host during the migration (the diff follows it on stderr). */
export const driftMessage = (c: Ctx, db: string): string =>
  `the schema of ${db} on ${c.from.name} changed since prepare copied it to ${c.to.name} (DDL during the migration; logical replication does not carry it), so ${c.to.name}'s copy would differ`;
