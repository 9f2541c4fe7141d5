import type { Inventory, Manifest, MigrationSpec, VerifyCheck } from '../types.js';
import { preset } from './catalog.js';
import { findHost, hostRef, resolveRoutes } from './resolve.js';
import { serviceSecrets, stateDirs, unitOf } from './migration.js';
import { buildSteps } from './steps.js';
import type { MigrationPlan, Plan, StateDir } from './types.js';

/** Where NixOS puts a secret at run time: agenix /run/agenix/<name>, sops-nix /run/secrets/<name>. */
function secretPath(h: import('../types.js').InventoryHost, name: string): string {
  return h.secrets.sops.includes(name) && !h.secrets.agenix.includes(name) ? `/run/secrets/${name}` : `/run/agenix/${name}`;
}

export interface PlanContext {
  /** The manifest's path as it appears in headers and plans (relative to the repository). */
  readonly manifestPath: string;
  /** The flake directory relative to the repository root, for deploy commands. */
  readonly flake: string;
}

const DEFAULTS = { thresholdBytes: 64 * 1024 * 1024, maxPasses: 5, bandwidthBytesPerSecond: 50_000_000, verifyDeadlineSeconds: 60, graceDays: 14 };
/** Seconds the cutover needs besides the final pass: stop, checks, start, route switch, first verification. */
const FIXED_WINDOW_SECONDS = 10;

/** A pure function from validated inputs to the plan. Call only after validation passed. */
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
  const container = m.container ?? p?.container ?? null;
  const unit = unitOf(m, p);
  const owner = (p?.nixosService && Object.prototype.hasOwnProperty.call(oldInv.users, p.nixosService)) ? p.nixosService : null;
  const user = owner ? oldInv.users[owner]! : null;
  const gid = user && Object.prototype.hasOwnProperty.call(oldInv.groups, user.group) ? oldInv.groups[user.group]!.gid : null;
  const state: StateDir[] = stateDirs(m, p, oldInv).map((path) => ({ path, owner, uid: user?.uid ?? null, group: user?.group ?? null, gid }));
  // Containers and DynamicUser services own files by uid that the host does not map to names.
  const numericIds = container !== null || (p?.dynamicUser ?? false) || owner === null || (user?.uid != null);
  const firstState = state[0]?.path ?? '';
  const sqlite = (m.sqlite ?? (p?.sqlite ?? []).map((f) => `${firstState}/${f}`)).slice().sort();
  const criticalFiles = (p?.criticalFiles ?? []).map((f) => `${firstState}/${f}`);
  const domains = [...new Set(routes.moved.map((r) => r.domain))];
  const verify: VerifyCheck[] = m.verify ? [...m.verify] : domains.flatMap((d) => (p?.verifyPaths ?? []).map((path) => ({ http: `https://${d}${path}`, status: 200 })));
  const sync = {
    mode: m.sync?.mode ?? 'pull',
    thresholdBytes: m.sync?.thresholdBytes ?? DEFAULTS.thresholdBytes,
    maxPasses: m.sync?.maxPasses ?? DEFAULTS.maxPasses,
    bandwidthBytesPerSecond: m.sync?.bandwidthBytesPerSecond ?? DEFAULTS.bandwidthBytesPerSecond,
  } as const;
  const restic = m.backup?.restic;
  const job = Object.keys(oldInv.backups.restic).sort().find((j) => oldInv.backups.restic[j]!.paths.some((bp) => state.some((s) => s.path === bp || s.path.startsWith(`${bp}/`))));
  const backup: MigrationPlan['backup'] = restic
    ? { kind: 'restic', repository: restic.repository, tag: restic.tag ?? 'pre-migration', passwordFile: restic.passwordFile ?? null }
    : m.backup?.none ? { kind: 'none' } : job ? { kind: 'job', host: oldInv.hostName, job } : { kind: 'none' };
  const warnings: string[] = [...(p?.warnings ?? [])];
  if (backup.kind === 'none') warnings.push(m.backup?.none ? 'No backup is taken before the migration (backup.none). The old host\'s state is the only copy until the move is verified.' : `No backup configured: add backup.restic to the manifest, or a services.restic.backups job on ${from.name} covering the state.`);
  if (!routes.proxy && m.strategy !== 'hot' && p?.subdomain) warnings.push('No proxy routes move with this service: clients reach it by DNS or address, which you must update at cutover.');
  if (m.strategy !== 'hot' && routes.proxy && routes.moved.length > 0) warnings.push(`A rollback after ${routes.proxy} switched to ${to.name} restores ${from.name}'s state as of the stop: writes ${to.name} acknowledged in between (from the switch, which happens while the service starts, to the failed check) are not copied back.`);
  if (!m.verify && verify.length === 0) warnings.push('No verification checks: add verify entries, or the cutover is judged by the unit staying active only.');
  if (oldInv.stateVersion !== newInv.stateVersion) warnings.push(`system.stateVersion differs (${from.name}: ${oldInv.stateVersion ?? 'unset'}, ${to.name}: ${newInv.stateVersion ?? 'unset'}): defaults such as data directories and the PostgreSQL major follow it; pin them for ${m.service} on ${to.name}.`);
  if (user && user.uid === null) warnings.push(`${owner} has no fixed uid on ${from.name}: rsync maps owners by name, so ${to.name} must be deployed (users created) before the copy; the final dry run compares owners by name.`);
  if (container) warnings.push(`${unit} on ${from.name} stays stopped but declared until finalize; the container's root under /var/lib/nixos-containers/${container} is not copied.`);

  const follow = {
    backups: Object.keys(oldInv.backups.restic).sort().filter((j) => oldInv.backups.restic[j]!.paths.some((bp) => state.some((s) => s.path === bp || s.path.startsWith(`${bp}/`) || bp.startsWith(`${s.path}/`)))).map((j) => ({ host: from.name, name: j, repository: oldInv.backups.restic[j]!.repository, passwordFile: oldInv.backups.restic[j]!.passwordFile, paths: oldInv.backups.restic[j]!.paths.filter((bp) => state.some((s) => s.path === bp || s.path.startsWith(`${bp}/`) || bp.startsWith(`${s.path}/`))) })),
    scrapeTargets: Object.keys(inventory.hosts).sort().flatMap((h) => inventory.hosts[h]!.monitoring.scrapeTargets
      .filter((t) => t.target.startsWith(`${from.address}:`) || t.target === from.address)
      .map((t) => ({ host: h, job: t.job, from: t.target, to: t.target.replace(from.address, to.address) }))),
  };
  for (const b of follow.backups) {
    if (Object.prototype.hasOwnProperty.call(newInv.backups.restic, b.name)) warnings.push(`${to.name} already has a restic job ${b.name}: after finalize, add ${b.paths.join(', ')} to it yourself (migen does not merge backup jobs).`);
    else if (b.repository === null) warnings.push(`restic job ${b.name} on ${from.name} has no repository migen can read: after finalize, back up ${b.paths.join(', ')} on ${to.name} yourself.`);
  }
  for (const t of follow.scrapeTargets) warnings.push(`Monitoring: ${t.host}'s Prometheus job ${t.job} scrapes ${t.from}; after the move it should scrape ${t.to} (migen cannot edit one element of services.prometheus.scrapeConfigs: change it in ${t.host}'s configuration).`);
  const database = m.database ? {
    engine: 'postgresql' as const,
    databases: [...m.database.databases].sort(),
    passwordSecret: m.database.passwordSecret ?? `migen-replication-${name}`,
    role: `migen_repl_${name.replace(/-/g, '_')}`,
    publication: `migen_pub_${name.replace(/-/g, '_')}`,
    subscription: `migen_sub_${name.replace(/-/g, '_')}`,
    ports: { old: oldInv.postgresql.port, new: newInv.postgresql.port },
    secretFiles: {
      old: secretPath(oldInv, m.database.passwordSecret ?? `migen-replication-${name}`),
      new: secretPath(newInv, m.database.passwordSecret ?? `migen-replication-${name}`),
    },
  } : null;
  if (database) {
    warnings.push(`Rollback after ${to.name} took writes (once the application started there${routes.proxy ? ` and ${routes.proxy} switched to it` : ''}) loses those writes: migen keeps ${from.name} read-only-then-thawed, it does not replicate back.${routes.proxy ? ` The switch happens while the application starts; the backend check and the verification follow, and a failure there rolls back.` : ''}`);
    warnings.push(`The subscription's connection string holds the replication password (from ${database.passwordSecret}) on ${to.name} until the cutover drops the subscription.`);
    if (!newInv.secrets.agenix.includes(database.passwordSecret) && !newInv.secrets.sops.includes(database.passwordSecret)) warnings.push(`Declare the secret ${database.passwordSecret} (owner postgres) on ${from.name} and ${to.name}: the replication role's password.`);
  }
  const window = m.strategy === 'cold'
    ? { estimateSeconds: null, basis: `a full copy of the state at ${sync.bandwidthBytesPerSecond} B/s plus about ${FIXED_WINDOW_SECONDS} s; preflight measures the state's size` }
    : m.strategy === 'hot'
      ? { estimateSeconds: FIXED_WINDOW_SECONDS, basis: 'replication lag below the threshold at the freeze, plus stop, sequence sync, start and route switch' }
      : { estimateSeconds: Math.ceil(sync.thresholdBytes / sync.bandwidthBytesPerSecond) + FIXED_WINDOW_SECONDS, basis: `final pass below ${sync.thresholdBytes} bytes at ${sync.bandwidthBytesPerSecond} B/s, plus about ${FIXED_WINDOW_SECONDS} s for stop, checks, start and route switch` };

  const loopbackPorts = routes.moved
    .filter((r) => /^https?:\/\/(127\.0\.0\.1|localhost|\[::1\])(:|\/|$)/.test(r.from))
    .map((r) => { const port = /:(\d+)/.exec(r.from.replace(/^https?:\/\//, ''))?.[1]; return port ? Number(port) : r.from.startsWith('https') ? 443 : 80; });
  const listen = loopbackPorts.length ? { option: p?.listenOption ?? null, address: to.address, ports: [...new Set(loopbackPorts)].sort((a, b) => a - b) } : null;
  if (listen && !listen.option) warnings.push(`${from.name}'s proxy reaches ${m.service} on loopback; on ${to.name} it must listen on ${to.address} (ports ${listen.ports.join(', ')}): set its listen address in ${to.name}'s configuration.`);
  const ctxNoSteps = {
    name,
    description: m.description ?? null,
    service: m.service,
    serviceTitle: p?.title ?? `custom service (${unit})`,
    nixosService: p?.nixosService ?? null,
    strategy: m.strategy,
    status: m.status ?? 'planned',
    from, to,
    proxy: proxyInv ? hostRef(manifest, proxyInv) : null,
    container, unit, state, sqlite, criticalFiles,
    secrets: serviceSecrets(m, p, oldInv),
    numericIds, sync, database,
    routes: { moved: routes.moved, staying: routes.staying },
    specialisation: `migen-${name}`,
    listen,
    follow,
    graceDays: m.graceDays ?? DEFAULTS.graceDays,
    warnings,
    flake: ctx.flake,
    backup,
    maintenance: m.maintenance ?? p?.maintenance ?? null,
    verify,
    verifyDeadlineSeconds: m.verifyDeadlineSeconds ?? DEFAULTS.verifyDeadlineSeconds,
  };
  const steps = buildSteps(ctxNoSteps);
  return { ...ctxNoSteps, window, steps };
}
