// The planner: a pure function from (Manifest, Inventory, catalog) to the Plan.
import type { Inventory, InventoryHost, Manifest, MigrationSpec, VerifyCheck } from '../types.js';
import { preset } from '../model/catalog.js';
import { pgOf } from '../model/postgres.js';
import { findHost, hostRef, secretPath } from '../model/hosts.js';
import { resolveRoutes } from '../model/routes.js';
import { serviceSecrets, unitOf } from '../model/service.js';
import { onNew, resolveState } from '../model/state.js';
import { copyAccessOf } from './access.js';
import { backupOf } from './backup.js';
import { containerMap } from './container-map.js';
import { fenceOf, routeEditsOf, routeFilesOf } from './fence.js';
import { dnsOf } from './dns.js';
import { dnsServerOf, handoffsOf } from './handoffs.js';
import { followOf } from './follow.js';
import { isDatabaseDir, pgSizes } from './pg/index.js';
import { routeDefaults } from './proxy.js';
import { buildSteps } from './steps.js';
import { toolsOf } from './tools.js';
import type { Ctx, Database, MigrationPlan, Plan, StateDir } from './types.js';
import { warningsOf } from './warnings.js';
import { windowEstimate } from './window.js';

export interface PlanContext {
  /** The manifest's path as it appears in headers and plans (relative to the repository). */
  readonly manifestPath: string;
  /** The flake directory relative to the repository root, for deploy commands. */
  readonly flake: string;
}

const DEFAULTS = { thresholdBytes: 64 * 1024 * 1024, maxPasses: 5, bandwidthBytesPerSecond: 50_000_000, verifyDeadlineSeconds: 60, graceDays: 14 };
const has = (o: object, k: string): boolean => Object.prototype.hasOwnProperty.call(o, k);

/** Call only after validation passed. */
export function buildPlan(manifest: Manifest, inventory: Inventory, ctx: PlanContext): Plan {
  const names = Object.keys(manifest.migrations).sort();
  return { formatVersion: 1, manifest: ctx.manifestPath, migrations: names.map((n) => buildMigration(manifest, inventory, ctx, n, manifest.migrations[n]!)) };
}

function buildMigration(manifest: Manifest, inventory: Inventory, ctx: PlanContext, name: string, m: MigrationSpec): MigrationPlan {
  const p = preset(m.service);
  const oldInv = findHost(inventory, m.from)!;
  const newInv = findHost(inventory, m.to)!;
  const from = hostRef(manifest, oldInv);
  const to = hostRef(manifest, newInv);
  const routes = resolveRoutes(manifest, inventory, name, m, p);
  const proxyInv = routes.proxy ? findHost(inventory, routes.proxy) : undefined;
  const proxy = proxyInv ? hostRef(manifest, proxyInv) : null;
  const container = m.container ?? p?.container ?? null;
  const unit = unitOf(m, p);
  const owner = p?.nixosService && has(oldInv.users, p.nixosService) ? p.nixosService : null;
  const user = owner ? oldInv.users[owner]! : null;
  const gid = user && has(oldInv.groups, user.group) ? oldInv.groups[user.group]!.gid : null;
  const own: StateDir[] = resolveState(m, p, oldInv, newInv).dirs.map((d) => ({ ...d, owner, uid: user?.uid ?? null, group: user?.group ?? null, gid }));
  const firstState = own[0]?.old ?? '';
  // A container's uid/gid map travels with its state (container-map.ts); a hot move copies no owners' files.
  const map = container ? containerMap(container) : null;
  const state: StateDir[] = map && m.strategy !== 'hot' ? [...own, { old: map, new: map, owner: null, uid: null, group: null, gid: null }] : own;
  const sqlite = (m.sqlite ?? (p?.sqlite ?? []).map((f) => `${firstState}/${f}`)).slice().sort().map((f) => onNew(state, f));
  // The preset's default checks ask each moved domain: through the proxy, or where its DNS record now points.
  const domains = [...new Set([...routes.moved.map((r) => r.domain), ...(m.dns?.records ?? []).filter((r) => (r.type ?? 'A') !== 'CNAME').map((r) => r.name)])];
  const verify: VerifyCheck[] = m.verify ? [...m.verify] : domains.flatMap((d) => (p?.verifyPaths ?? []).map((path) => ({ http: `https://${d}${path}`, status: 200 })));
  const sync = {
    mode: m.sync?.mode ?? 'pull',
    thresholdBytes: m.sync?.thresholdBytes ?? DEFAULTS.thresholdBytes,
    maxPasses: m.sync?.maxPasses ?? DEFAULTS.maxPasses,
    bandwidthBytesPerSecond: m.sync?.bandwidthBytesPerSecond ?? DEFAULTS.bandwidthBytesPerSecond,
  } as const;
  const files = routeFilesOf(name, routes.moved, routes.upstreams, to.address || to.name);
  const c: Omit<Ctx, 'warnings'> = {
    name,
    description: m.description ?? null,
    service: m.service,
    serviceTitle: p?.title ?? `custom service (${unit})`,
    nixosService: p?.nixosService ?? null,
    strategy: m.strategy,
    status: m.status ?? 'planned',
    after: [...(m.after ?? [])].sort(),
    from, to,
    proxy,
    container, unit, state,
    sqlite,
    criticalFiles: (p?.criticalFiles ?? []).map((f) => onNew(state, `${firstState}/${f}`)),
    secrets: serviceSecrets(m, p, oldInv).map((s) => ({ ...s, file: secretPath(newInv, s.name) })),
    // Containers and DynamicUser services own files by uid that the host does not map to names.
    numericIds: container !== null || (p?.dynamicUser ?? false) || owner === null || user?.uid != null,
    sync,
    database: databaseOf(name, m, container, oldInv, newInv),
    dns: dnsOf(name, m, from, to),
    dnsServer: dnsServerOf(m, from, to, proxy),
    handoffs: handoffsOf(m, { from, to, proxy }),
    routes: { moved: routes.moved, staying: routes.staying, upstreams: routes.upstreams, stale: routes.stale, inner: routes.inner },
    fence: fenceOf(name, m.strategy === 'hot' && m.database ? { unit: p?.nixosService ?? unit, container } : { unit, container: null }),
    routeFiles: files.files,
    routeEdits: routeEditsOf(proxyInv ?? null, routes.moved, files.byChange),
    routeDefaults: routeDefaults(files.files),
    listen: listenOf(routes, p?.listenOption ?? null, to.address),
    follow: followOf(inventory, oldInv, newInv, from, to, state),
    graceDays: m.graceDays ?? DEFAULTS.graceDays,
    flake: ctx.flake,
    backup: backupOf({ name, m, oldInv, state, sqlite: sqlite.map((s) => s.old), container, strategy: m.strategy }),
    copyAccess: copyAccessOf(name, sync.mode, from, to, m.strategy === 'hot' && m.database ? state.filter((s) => !isDatabaseDir(s.old)) : state),
    maintenance: m.maintenance ?? p?.maintenance ?? null,
    verify,
    verifyDeadlineSeconds: m.verifyDeadlineSeconds ?? DEFAULTS.verifyDeadlineSeconds,
  };
  const full: Ctx = { ...c, warnings: [...routes.warnings, ...warningsOf(c, m, p, oldInv, newInv, owner ? { name: owner, uid: user!.uid } : null, proxyInv ?? null)] };
  const steps = buildSteps(full);
  return { ...full, window: windowEstimate(m.strategy, sync, full.sqlite.length, full.dns?.lowerTo ?? null, steps.some((x) => x.id === 'backend-healthy' && x.concurrent !== undefined)), steps, tools: toolsOf(steps, full.copyAccess) };
}

function databaseOf(name: string, m: MigrationSpec, container: string | null, oldInv: InventoryHost, newInv: InventoryHost): Database | null {
  if (!m.database) return null;
  const secret = m.database.passwordSecret ?? `migen-replication-${name}`;
  const id = name.replace(/-/g, '_');
  const inContainer = (h: InventoryHost): boolean => container !== null && (h.containers[container]?.services.includes('postgresql') ?? false);
  return {
    engine: 'postgresql',
    databases: [...m.database.databases].sort(),
    passwordSecret: secret,
    role: `migen_repl_${id}`,
    publication: `migen_pub_${id}`,
    subscription: `migen_sub_${id}`,
    ports: { old: pgOf(oldInv, container)?.port ?? oldInv.postgresql.port, new: pgOf(newInv, container)?.port ?? newInv.postgresql.port },
    secretFiles: { old: secretPath(oldInv, secret), new: secretPath(newInv, secret) },
    inContainer: { old: inContainer(oldInv), new: inContainer(newInv) },
    sizes: pgSizes(m.database.databases.length),
  };
}

/** Set when the old host served the proxy on loopback: on the new host the service must listen on its mesh address. */
function listenOf(routes: Pick<Ctx['routes'], 'moved' | 'upstreams'>, option: readonly string[] | null, address: string): Ctx['listen'] {
  // every old backend as scheme://address (an upstream's servers as http://)
  const backends = routes.moved.flatMap((r) => (r.via === 'upstream' ? routes.upstreams.find((u) => u.name === r.upstream)!.servers.map((s) => `http://${s.old}`) : [r.from]));
  const ports = backends
    .filter((u) => /^https?:\/\/(127\.0\.0\.1|localhost|\[::1\])(:|\/|$)/.test(u))
    .map((u) => { const port = /:(\d+)/.exec(u.replace(/^https?:\/\/(\[::1\])?/, ''))?.[1]; return port ? Number(port) : u.startsWith('https') ? 443 : 80; });
  return ports.length ? { option, address, ports: [...new Set(ports)].sort((a, b) => a - b) } : null;
}
