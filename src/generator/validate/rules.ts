import type { Inventory, Manifest } from '../types.js';
import { preset } from '../model/catalog.js';
import { findHost, hostRef, runsService } from '../model/hosts.js';
import { resolveRoutes, type Finding } from '../model/routes.js';
import { stateDirs } from '../model/service.js';
import { at, type Ctx, type Rule } from './rule.js';
import { SIDE_RULES } from './sides.js';
import { outsideFindings } from './outside-rules.js';
const hostList = (inv: Inventory): string => Object.keys(inv.hosts).sort().join(', ');

const hostsExist: Rule = (c) => {
  const out: Finding[] = [];
  for (const f of ['from', 'to'] as const) {
    if (!findHost(c.inventory, c.m[f])) out.push({ path: at(c, f), message: `${f}: host ${JSON.stringify(c.m[f])} is not in the inventory; valid: ${hostList(c.inventory)}` });
  }
  return out;
};

const distinctHosts: Rule = (c) => (c.m.from === c.m.to ? [{ path: at(c, 'to'), message: `to: ${JSON.stringify(c.m.to)} is the same host as from; a migration moves a service to another host` }] : []);

const addresses: Rule = (c) => {
  const out: Finding[] = [];
  for (const f of ['from', 'to'] as const) {
    const h = findHost(c.inventory, c.m[f]);
    if (h && !hostRef(c.manifest, h).address) out.push({ path: at(c, f), message: `${f}: host ${h.hostName} has no address; set migen.address in its configuration or hosts.${h.hostName}.address in the manifest` });
  }
  return out;
};

const customNeedsBasics: Rule = (c) => {
  if (c.m.service !== 'custom') return [];
  const out: Finding[] = [];
  if (!c.m.unit && !c.m.container) out.push({ path: at(c, 'service'), message: 'service: custom needs "unit" (or "container") since no preset provides it' });
  if (!c.m.state) out.push({ path: at(c, 'service'), message: 'service: custom needs "state": the directories to copy' });
  return out;
};

const oldRunsService: Rule = (c) => {
  const h = findHost(c.inventory, c.m.from);
  if (!h || !c.p) return [];
  const container = c.m.container ?? c.p.container;
  if (runsService(h, c.p.nixosService, container)) return [];
  const where = container ? `container ${container}` : `services.${c.p.nixosService}`;
  const has = [...h.services, ...Object.keys(h.containers).map((n) => `container ${n}`)].sort().join(', ') || 'nothing migen knows';
  return [{ path: at(c, 'from'), message: `from: ${h.hostName} does not run ${c.m.service} (${where}); it runs ${has}` }];
};

const newDeclaresService: Rule = (c) => {
  const h = findHost(c.inventory, c.m.to);
  if (!h || !c.p) return [];
  const container = c.m.container ?? c.p.container;
  if (runsService(h, c.p.nixosService, container)) return [];
  const where = container ? `containers.${container}` : `services.${c.p.nixosService}.enable`;
  return [{ path: at(c, 'to'), message: `to: ${h.hostName} does not declare ${where}; import the same service module as on ${c.m.from} into ${h.hostName} (migen keeps it stopped there until cutover)` }];
};

const hotNeedsDatabase: Rule = (c) => (c.m.strategy === 'hot' && !c.m.database
  ? [{ path: at(c, 'strategy'), message: 'strategy: hot needs "database: { engine: postgresql, databases: [...] }"; without a database use warm' }]
  : []);

const databaseOnOldHost: Rule = (c) => {
  if (!c.m.database) return [];
  const h = findHost(c.inventory, c.m.from);
  if (!h) return [];
  const container = c.m.container ?? c.p?.container ?? null;
  const inContainer = container !== null && (h.containers[container]?.services.includes('postgresql') ?? false);
  if (h.postgresql.enable || inContainer) return [];
  return [{ path: at(c, 'database'), message: `database: ${h.hostName} runs no PostgreSQL (services.postgresql.enable is false${container ? ` on the host and in container ${container}` : ''})` }];
};

const routes: Rule = (c) => resolveRoutes(c.manifest, c.inventory, c.name, c.m, c.p).findings;

const outside: Rule = (c) => outsideFindings(c.manifest, c.name, c.m, resolveRoutes(c.manifest, c.inventory, c.name, c.m, c.p).proxy);

export const RULES: readonly Rule[] = [hostsExist, distinctHosts, addresses, customNeedsBasics, oldRunsService, newDeclaresService, hotNeedsDatabase, databaseOnOldHost, routes, outside, ...SIDE_RULES];

/** Across migrations: two migrations may not copy overlapping state from one host. */
function overlaps(manifest: Manifest, inventory: Inventory): Finding[] {
  const out: Finding[] = [];
  const seen: { name: string; host: string; path: string }[] = [];
  for (const name of Object.keys(manifest.migrations).sort()) {
    const m = manifest.migrations[name]!;
    const h = findHost(inventory, m.from);
    const dirs = stateDirs(m, preset(m.service), h ?? null, findHost(inventory, m.to) ?? null);
    dirs.forEach((d, i) => {
      for (const s of seen) {
        if (s.host !== m.from) continue;
        if (d === s.path || d.startsWith(`${s.path}/`) || s.path.startsWith(`${d}/`)) {
          out.push({ path: m.state ? ['migrations', name, 'state', i] : ['migrations', name], message: `state ${d} overlaps ${s.path} of migration ${s.name} on ${m.from}; one directory can move only once` });
        }
      }
    });
    for (const d of dirs) seen.push({ name, host: m.from, path: d });
  }
  return out;
}

/** Semantic checks of a schema-valid manifest against the inventory. */
export function semanticFindings(manifest: Manifest, inventory: Inventory): Finding[] {
  const out: Finding[] = [];
  for (const name of Object.keys(manifest.migrations).sort()) {
    const m = manifest.migrations[name]!;
    const c: Ctx = { manifest, inventory, name, m, p: preset(m.service) };
    for (const rule of RULES) out.push(...rule(c));
  }
  out.push(...overlaps(manifest, inventory));
  return out;
}
