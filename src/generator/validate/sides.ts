// Rules that compare the two sides as each host's own inventory describes it: the state's paths
// per side, PostgreSQL majors under a file copy, ports on the new host, what its impermanence
// keeps, and the secrets the service needs there.
import { findHost } from '../model/hosts.js';
import { portCollisions } from '../model/ports.js';
import { isDatabaseDir, pgMajor, pgOf } from '../model/postgres.js';
import type { Finding } from '../model/routes.js';
import { serviceSecrets } from '../model/service.js';
import { resolveState } from '../model/state.js';
import type { InventoryHost } from '../types.js';
import { at, type Ctx, type Rule } from './rule.js';

const sides = (c: Ctx): [InventoryHost, InventoryHost] | null => {
  const o = findHost(c.inventory, c.m.from);
  const n = findHost(c.inventory, c.m.to);
  return o && n && o !== n ? [o, n] : null;
};
const containerOf = (c: Ctx): string | null => c.m.container ?? c.p?.container ?? null;

/** A preset directory named by the new host's default but not the old host's cannot be mapped. */
const statePaths: Rule = (c) => {
  const s = sides(c);
  if (!s) return [];
  return resolveState(c.m, c.p, s[0], s[1]).problems.map((p) => ({ path: at(c, 'state', p.index), message: p.message }));
};

/** A data directory copied as files starts only under the same PostgreSQL major. */
const pgMajors: Rule = (c) => {
  const s = sides(c);
  if (!s || (c.m.strategy === 'hot' && c.m.database)) return [];
  const dirs = resolveState(c.m, c.p, s[0], s[1]).dirs.filter((d) => isDatabaseDir(d.old) || isDatabaseDir(d.new));
  if (dirs.length === 0) return [];
  const container = containerOf(c);
  const [o, n] = [pgOf(s[0], container), pgOf(s[1], container)];
  const [mo, mn] = [pgMajor(o?.version ?? null), pgMajor(n?.version ?? null)];
  if (!o || !n || !mo || !mn || mo === mn) return [];
  return [{
    path: at(c, 'strategy'),
    message: `strategy: ${c.m.strategy} copies ${dirs.map((d) => d.old).join(', ')}, a PostgreSQL data directory, as files, but ${o.where} runs PostgreSQL ${mo} (${o.version}) and ${n.where} runs PostgreSQL ${mn} (${n.version}): PostgreSQL ${mn} refuses a data directory of another major. Use strategy: hot (logical replication, with database: { engine: postgresql, databases: [...] }), or a dump and restore (pg_dumpall on ${s[0].hostName}, psql on ${s[1].hostName}), or pin services.postgresql.package to PostgreSQL ${mo} on ${n.where} and upgrade there with pg_upgrade after the move`,
  }];
};

const portsFree: Rule = (c) => {
  const s = sides(c);
  if (!s) return [];
  return portCollisions(s[1], c.p?.nixosService ?? null, containerOf(c)).filter((x) => x.certain).map((x) => ({ path: at(c, 'to'), message: `to: ports on ${s[1].hostName}: ${x.message}` }));
};

/** With impermanence only the persisted directories survive a reboot. */
const persisted: Rule = (c) => {
  const s = sides(c);
  if (!s || !s[1].persistence.enable) return [];
  const keep = s[1].persistence.directories;
  const kept = (p: string): boolean => keep.some((d) => p === d || p.startsWith(`${d.replace(/\/$/, '')}/`));
  const out: Finding[] = [];
  const hint = `add it to environment.persistence.<storage>.directories on ${s[1].hostName}`;
  for (const d of resolveState(c.m, c.p, s[0], s[1]).dirs) {
    if (!kept(d.new)) out.push({ path: at(c, 'to'), message: `to: ${s[1].hostName} keeps only its persisted directories across a reboot (impermanence), and ${d.new} is not one of them: the moved state would be gone after its next boot; ${hint}` });
  }
  // Users without a fixed uid keep theirs in /var/lib/nixos: without it the owner's uid may change at the next boot.
  const owner = c.p?.nixosService;
  const user = owner && Object.prototype.hasOwnProperty.call(s[1].users, owner) ? s[1].users[owner]! : null;
  if (user && user.uid === null && !containerOf(c) && !kept('/var/lib/nixos')) {
    out.push({ path: at(c, 'to'), message: `to: ${s[1].hostName} uses impermanence without persisting /var/lib/nixos, and ${owner} has no fixed uid there: its uid (the owner of the moved files) may change at the next boot; persist /var/lib/nixos or pin users.users.${owner}.uid` });
  }
  return out;
};

/** The service's secrets (and a hot migration's replication password) declared where they are read. */
const secretsDeclared: Rule = (c) => {
  const s = sides(c);
  if (!s) return [];
  const [oldH, newH] = s;
  const declared = (h: InventoryHost, name: string): boolean => h.secrets.agenix.includes(name) || h.secrets.sops.includes(name);
  const out: Finding[] = [];
  serviceSecrets(c.m, c.p, oldH).forEach((x, i) => {
    if (!declared(newH, x.name)) {
      out.push({
        path: c.m.secrets ? at(c, 'secrets', i) : at(c, 'to'),
        message: `secret ${x.name} (${x.kind}) used by ${c.m.service} on ${oldH.hostName} is not declared on ${newH.hostName}; declare it there and rekey it for ${newH.hostName}'s host key`,
      });
    }
  });
  if (c.m.strategy === 'hot' && c.m.database) {
    const secret = c.m.database.passwordSecret ?? `migen-replication-${c.name}`;
    for (const h of s) {
      if (!declared(h, secret)) out.push({ path: c.m.database.passwordSecret ? at(c, 'database', 'passwordSecret') : at(c, 'database'), message: `database: the replication password ${secret} is not declared on ${h.hostName} (age.secrets or sops.secrets, owner postgres): ${h === oldH ? 'the replication role' : 'the subscription'} reads it there` });
    }
  }
  return out;
};

export const SIDE_RULES: readonly Rule[] = [statePaths, pgMajors, portsFree, persisted, secretsDeclared];
