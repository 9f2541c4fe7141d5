// Roles of a hot migration: the application's roles copied to the new server (created when
// missing, attributes, password hashes, settings and memberships as on the old one; safe to
// repeat), and the replication role on the old server: created with its password from the secret,
// granted SELECT, and dropped again by a rollback or after the cutover (nothing left behind).
import { ident, literal } from '../sql.js';
import { on, pipe, stepsOf } from '../step.js';
import type { Ctx, Step } from '../types.js';
import { psql, psqlStdin, QUIET, READ_WRITE } from './psql.js';

const { command } = stepsOf('prepare');

/** SQL (run on the old server) that prints the SQL recreating its roles on another server: every statement safe to repeat. */
const ROLES = `WITH r AS (SELECT * FROM pg_authid WHERE rolname !~ '^pg_' AND rolname NOT IN ('postgres', :'skip'))
SELECT s FROM (
  SELECT 1 AS k, rolname AS o, format('SELECT %L WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = %L) \\gexec', format('CREATE ROLE %I', rolname), rolname) AS s FROM r
  UNION ALL SELECT 2, rolname, format('ALTER ROLE %I WITH %s %s %s %s %s %s %s CONNECTION LIMIT %s%s%s;', rolname,
    CASE WHEN rolsuper THEN 'SUPERUSER' ELSE 'NOSUPERUSER' END, CASE WHEN rolinherit THEN 'INHERIT' ELSE 'NOINHERIT' END,
    CASE WHEN rolcreaterole THEN 'CREATEROLE' ELSE 'NOCREATEROLE' END, CASE WHEN rolcreatedb THEN 'CREATEDB' ELSE 'NOCREATEDB' END,
    CASE WHEN rolcanlogin THEN 'LOGIN' ELSE 'NOLOGIN' END, CASE WHEN rolreplication THEN 'REPLICATION' ELSE 'NOREPLICATION' END,
    CASE WHEN rolbypassrls THEN 'BYPASSRLS' ELSE 'NOBYPASSRLS' END, rolconnlimit,
    CASE WHEN rolpassword IS NOT NULL THEN ' PASSWORD ' || quote_literal(rolpassword) ELSE '' END,
    CASE WHEN rolvaliduntil IS NOT NULL THEN ' VALID UNTIL ' || quote_literal(rolvaliduntil::text) ELSE '' END) FROM r
  UNION ALL SELECT 3, r.rolname || ' ' || cfg, format('ALTER ROLE %I SET %s TO %s;', r.rolname,
      CASE WHEN split_part(cfg, '=', 1) ~ '^[a-z_][a-z0-9_]*(\\.[a-z_][a-z0-9_]*)?$' THEN split_part(cfg, '=', 1) ELSE quote_ident(split_part(cfg, '=', 1)) END,
      -- list settings are stored quoted element by element: as they are; any other one as a literal
      CASE WHEN split_part(cfg, '=', 1) IN ('search_path', 'temp_tablespaces', 'local_preload_libraries', 'session_preload_libraries') THEN substr(cfg, length(split_part(cfg, '=', 1)) + 2)
        ELSE quote_literal(substr(cfg, length(split_part(cfg, '=', 1)) + 2)) END)
    FROM r JOIN pg_db_role_setting s ON s.setrole = r.oid AND s.setdatabase = 0, unnest(s.setconfig) AS cfg
  UNION ALL SELECT 4, g.rolname || ' ' || m.rolname, format('GRANT %I TO %I%s;', g.rolname, m.rolname, CASE WHEN a.admin_option THEN ' WITH ADMIN OPTION' ELSE '' END)
    FROM pg_auth_members a JOIN pg_roles g ON g.oid = a.roleid JOIN r m ON m.oid = a.member
) x ORDER BY k, o;`;

export function pgRoles(c: Ctx): Step {
  const d = c.database!;
  return command('pg-roles', `copy the roles of ${c.from.name} to ${c.to.name} (missing ones created; attributes, password hashes, settings and memberships as on ${c.from.name}; not postgres, not the replication role ${d.role})`, pipe(
    on(c.from.name, psql(c, d.ports.old, 'postgres', ROLES, { vars: { skip: d.role } })),
    // The hashes travel in these statements: the session keeps them out of the new server's log.
    on(c.to.name, `{ cat <<'SQL'\n${QUIET}\nSET client_min_messages = warning;\nSQL\ncat; } | ${psqlStdin(c, d.ports.new, 'postgres')}`),
  ));
}

/** The replication role on the old server, for one database: LOGIN REPLICATION, the password from the secret (psql reads the file itself: it is in no command line), SELECT on its tables. */
export function pgReplicationRole(c: Ctx, db: string): Step {
  const d = c.database!;
  return command(`pg-role-${db}`, `replication role ${d.role} on ${c.from.name}: password from the secret, SELECT on ${db}`,
    on(c.from.name, psql(c, d.ports.old, db, `${QUIET}
\\set pw \`cat ${d.secretFiles.old}\`
SELECT format('CREATE ROLE %I LOGIN REPLICATION', ${literal(d.role)}) WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = ${literal(d.role)}) \\gexec
ALTER ROLE ${ident(d.role)} WITH LOGIN REPLICATION PASSWORD :'pw';
SELECT format('GRANT USAGE ON SCHEMA %I TO ${ident(d.role)}; GRANT SELECT ON ALL TABLES IN SCHEMA %I TO ${ident(d.role)};', nspname, nspname)
FROM pg_namespace WHERE nspname NOT IN ('pg_catalog', 'information_schema') AND nspname NOT LIKE 'pg_toast%' AND nspname NOT LIKE 'pg_temp%' \\gexec`)),
    { undo: on(c.from.name, dropReplicationRole(c, db, '>/dev/null')), undoOnFailure: true });
}

/**
 * On the old server: the replication role's privileges in `db` revoked (DROP OWNED BY: it owns
 * nothing else), its sessions ended, and the role dropped once no database holds a privilege of it
 * (the last database's run does it). Safe to repeat; works on a frozen database.
 */
export function dropReplicationRole(c: Ctx, db: string, redirect?: string): string {
  const d = c.database!;
  const role = literal(d.role);
  return psql(c, d.ports.old, db, `${READ_WRITE}SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE usename = ${role} AND pid <> pg_backend_pid();
SELECT format('DROP OWNED BY %I', rolname) FROM pg_roles WHERE rolname = ${role} \\gexec
SELECT format('DROP ROLE %I', rolname) FROM pg_roles r WHERE rolname = ${role} AND NOT EXISTS (SELECT 1 FROM pg_shdepend WHERE refclassid = 'pg_authid'::regclass AND refobjid = r.oid) \\gexec`, { pipe: redirect });
}
