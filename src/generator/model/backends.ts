// What a proxy's location reaches, and whether that is the old host: its proxy_pass resolved
// through the proxy's upstreams, the old host known by every name a proxy may use for it (its
// address, hostName, FQDN, MagicDNS name; loopback when the proxy is the old host).
import type { Inventory, InventoryHost, MigrationSpec } from '../types.js';
import type { Preset } from './catalog.js';
import type { HostRef } from './hosts.js';
import { parseBackend, portOf, proxyPassesOf, serverBackend, type Backend, type ProxyPass } from './nginx.js';

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1', '[::1]']);

/** The names by which a proxy reaches the old host (lower case). */
export function oldNames(inventory: Inventory, old: HostRef, oldInv: InventoryHost): string[] {
  const names = new Set([old.address, old.name, oldInv.fqdn ?? ''].filter(Boolean).map((n) => n.toLowerCase()));
  for (const h of Object.values(inventory.hosts)) if (h.magicDnsDomain) names.add(`${old.name}.${h.magicDnsDomain}`.toLowerCase());
  return [...names].sort();
}

/** Does this backend mean "the old host" when seen from the proxy? */
export function pointsAt(b: Backend, names: readonly string[], old: HostRef, proxyName: string): boolean {
  if (b.unix !== undefined) return proxyName === old.name;
  if (names.includes(b.host.toLowerCase())) return true;
  return proxyName === old.name && LOOPBACK.has(b.host);
}

/** A proxy_pass resolved: to literal backends, or to the servers of a named upstream. */
export interface Resolved extends ProxyPass {
  readonly upstream: string | null;
  readonly backends: readonly { readonly backend: Backend; readonly address: string; readonly params: Readonly<Record<string, boolean | number | string>> }[];
}

export function resolvePass(proxy: InventoryHost, p: ProxyPass): Resolved {
  const m = /^(https?):\/\/([A-Za-z0-9_.-]+)(\/.*)?$/.exec(p.target);
  const ups = proxy.nginx.upstreams;
  if (m && Object.prototype.hasOwnProperty.call(ups, m[2]!)) {
    const u = ups[m[2]!]!;
    return { ...p, upstream: m[2]!, backends: Object.keys(u.servers).sort().map((address) => ({ backend: serverBackend(address, m[1]!), address, params: u.servers[address]! })) };
  }
  const b = parseBackend(p.target);
  return { ...p, upstream: null, backends: b ? [{ backend: b, address: `${b.host}${b.port}`, params: {} }] : [] };
}

type Pass = Resolved & { readonly domain: string };
// The inventory is read-only once loaded, and every migration of a plan asks about every host with
// nginx (the routes that reach a moved service): parsed once per host, not once per migration.
const PASSES = new WeakMap<InventoryHost, readonly Pass[]>();

/** Every proxy_pass of every vhost of a host, resolved (by domain, then location). */
export function passesOf(h: InventoryHost): readonly Pass[] {
  let got = PASSES.get(h);
  if (!got) {
    got = Object.freeze(Object.keys(h.nginx.virtualHosts).sort().flatMap((d) => proxyPassesOf(h, d).map((p) => ({ ...resolvePass(h, p), domain: d }))));
    PASSES.set(h, got);
  }
  return got;
}

/** The ports the moved service itself listens on, on the old host (its container's, when it runs in one). */
export function servicePorts(m: MigrationSpec, p: Preset | null, oldInv: InventoryHost): number[] {
  const container = m.container ?? p?.container ?? null;
  const c = container !== null && Object.prototype.hasOwnProperty.call(oldInv.containers, container) ? oldInv.containers[container]! : null;
  const ls = c ? c.listen : oldInv.listen.filter((l) => l.service === p?.nixosService);
  return [...new Set(ls.filter((l) => l.protocol === 'tcp').map((l) => l.port))].sort((a, b) => a - b);
}

export { portOf };
