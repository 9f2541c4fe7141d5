import type { Inventory, Manifest, MigrationSpec } from '../types.js';
import type { Preset } from './catalog.js';
import { findHost, hostRef, type HostRef } from './hosts.js';

/** A located finding about the inputs: the path is into the manifest document. */
export interface Finding { readonly path: readonly (string | number)[]; readonly message: string; readonly key?: boolean }

export interface RouteChange { readonly domain: string; readonly location: string; readonly from: string; readonly to: string }
export interface RouteStay { readonly domain: string; readonly location: string; readonly proxyPass: string }

/** Parsed proxyPass: scheme://host[:port][path]. */
export interface Backend { readonly scheme: string; readonly host: string; readonly port: string; readonly path: string }
export function parseBackend(proxyPass: string): Backend | null {
  const m = /^(https?):\/\/(\[[^\]]+\]|[^/:]+)(:\d+)?(\/.*)?$/.exec(proxyPass);
  if (!m) return null;
  return { scheme: m[1]!, host: m[2]!, port: m[3] ?? '', path: m[4] ?? '' };
}
export function withHost(b: Backend, host: string): string {
  return `${b.scheme}://${host}${b.port}${b.path}`;
}

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1', '[::1]']);

/** Does this backend address mean "the old host" when seen from the proxy? */
export function pointsAt(b: Backend, old: HostRef, proxyName: string): boolean {
  if (b.host === old.address || b.host === old.name) return true;
  return proxyName === old.name && LOOPBACK.has(b.host);
}

export interface ResolvedRoutes {
  readonly proxy: string | null;
  readonly moved: RouteChange[];
  readonly staying: RouteStay[];
  readonly findings: Finding[];
}

const byStr = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** Works out which proxy host serves the moved domains, and what changes and what stays. */
export function resolveRoutes(manifest: Manifest, inventory: Inventory, name: string, m: MigrationSpec, p: Preset | null): ResolvedRoutes {
  const findings: Finding[] = [];
  const oldInv = findHost(inventory, m.from);
  const newInv = findHost(inventory, m.to);
  if (!oldInv || !newInv) return { proxy: null, moved: [], staying: [], findings };
  const old = hostRef(manifest, oldInv);
  const neu = hostRef(manifest, newInv);
  const index = vhostIndex(inventory);
  const hosts = index.hosts;
  const servers = (domain: string): string[] => index.servers.get(domain) ?? [];

  let domains: string[];
  let explicit = true;
  if (m.domains) domains = [...m.domains];
  else {
    explicit = false;
    // Default: vhosts named <subdomain>.* on some proxy that point at the old host, but for the
    // names whose DNS records move (dns:): clients follow those to the new host, no proxy between.
    const sub = p?.subdomain;
    const byDns = new Set((m.dns?.records ?? []).map((r) => r.name));
    domains = [];
    if (sub) {
      const candidates = sub.includes('.') ? index.vhosts.filter((v) => v.domain.startsWith(`${sub}.`)) : index.byFirstLabel.get(sub) ?? [];
      for (const v of candidates) if (!byDns.has(v.domain) && v.backends.some((b) => pointsAt(b, old, v.host))) domains.push(v.domain);
    }
  }
  if (domains.length === 0) return { proxy: manifest.proxy ?? null, moved: [], staying: [], findings };

  let proxy = manifest.proxy ?? null;
  if (proxy === null) {
    const first = domains[0]!;
    const candidates = servers(first);
    if (candidates.length === 1) proxy = candidates[0]!;
    else if (candidates.length === 0) {
      findings.push({ path: explicit ? ['migrations', name, 'domains', 0] : ['migrations', name], message: `domain ${first} is not a virtual host of any nginx in the inventory; valid: ${allVhosts(inventory).join(', ') || '(none)'}` });
      return { proxy: null, moved: [], staying: [], findings };
    } else {
      findings.push({ path: ['migrations', name, 'domains', 0], message: `domain ${first} is served by several hosts (${candidates.join(', ')}); name the proxy with the top-level "proxy:" field` });
      return { proxy: null, moved: [], staying: [], findings };
    }
  }
  const proxyInv = findHost(inventory, proxy);
  if (!proxyInv) {
    findings.push({ path: ['proxy'], message: `proxy host ${JSON.stringify(proxy)} is not in the inventory; valid: ${hosts.join(', ')}` });
    return { proxy: null, moved: [], staying: [], findings };
  }
  const moved: RouteChange[] = [];
  const vhosts = proxyInv.nginx.virtualHosts;
  domains.forEach((d, i) => {
    const vh = Object.prototype.hasOwnProperty.call(vhosts, d) ? vhosts[d] : undefined;
    if (!vh) {
      findings.push({ path: ['migrations', name, 'domains', i], message: `domain ${d} is not a virtual host of the proxy ${proxy}; its virtual hosts: ${Object.keys(vhosts).sort(byStr).join(', ') || '(none)'}` });
      return;
    }
    let any = false;
    for (const loc of Object.keys(vh.locations).sort(byStr)) {
      const pp = vh.locations[loc]!.proxyPass;
      if (!pp) continue;
      const b = parseBackend(pp);
      if (!b) continue;
      if (!pointsAt(b, old, proxy!)) continue;
      any = true;
      moved.push({ domain: d, location: loc, from: pp, to: withHost(b, neu.address || neu.name) });
    }
    if (!any) {
      const current = Object.values(vh.locations).map((l) => l.proxyPass).filter(Boolean).join(', ') || 'no proxyPass';
      findings.push({ path: ['migrations', name, 'domains', i], message: `domain ${d} on ${proxy} points at ${current}, not at the old host ${old.name} (${old.address || 'no address'}); is "from" right?` });
    }
  });
  const staying: RouteStay[] = [];
  const movedDomains = new Set(domains);
  for (const d of Object.keys(vhosts).sort(byStr)) {
    if (movedDomains.has(d)) continue;
    for (const loc of Object.keys(vhosts[d]!.locations).sort(byStr)) {
      const pp = vhosts[d]!.locations[loc]!.proxyPass;
      const b = pp ? parseBackend(pp) : null;
      if (pp && b && pointsAt(b, old, proxy)) staying.push({ domain: d, location: loc, proxyPass: pp });
    }
  }
  return { proxy, moved, staying, findings };
}

interface IndexedVhost { readonly host: string; readonly domain: string; readonly backends: readonly Backend[] }
interface VhostIndex {
  /** Host names, sorted. */
  readonly hosts: readonly string[];
  /** Virtual hosts of every host with nginx enabled, by host then domain (both sorted), with their parsed proxyPass backends. */
  readonly vhosts: readonly IndexedVhost[];
  /** The same, by the domain's first label (what a preset's subdomain matches). */
  readonly byFirstLabel: ReadonlyMap<string, readonly IndexedVhost[]>;
  /** Domain -> the hosts (sorted) whose nginx serves it. */
  readonly servers: ReadonlyMap<string, string[]>;
}

const indexes = new WeakMap<Inventory, VhostIndex>();

/** Built once per inventory: resolving each migration's routes then costs no scan of the whole fleet. */
function vhostIndex(inventory: Inventory): VhostIndex {
  const hit = indexes.get(inventory);
  if (hit) return hit;
  const hosts = Object.keys(inventory.hosts).sort(byStr);
  const vhosts: IndexedVhost[] = [];
  const byFirstLabel = new Map<string, IndexedVhost[]>();
  const servers = new Map<string, string[]>();
  for (const h of hosts) {
    const inv = inventory.hosts[h]!;
    if (!inv.nginx.enable) continue;
    for (const d of Object.keys(inv.nginx.virtualHosts).sort(byStr)) {
      const backends: Backend[] = [];
      for (const l of Object.values(inv.nginx.virtualHosts[d]!.locations)) {
        const b = l.proxyPass ? parseBackend(l.proxyPass) : null;
        if (b) backends.push(b);
      }
      const v = { host: h, domain: d, backends };
      vhosts.push(v);
      const dot = d.indexOf('.');
      if (dot !== -1) { const label = d.slice(0, dot); const list = byFirstLabel.get(label); if (list) list.push(v); else byFirstLabel.set(label, [v]); }
      const on = servers.get(d);
      if (on) on.push(h); else servers.set(d, [h]);
    }
  }
  const index = { hosts, vhosts, byFirstLabel, servers };
  indexes.set(inventory, index);
  return index;
}

function allVhosts(inventory: Inventory): string[] {
  const out = new Set<string>();
  for (const h of Object.values(inventory.hosts)) for (const d of Object.keys(h.nginx.virtualHosts)) out.add(d);
  return [...out].sort(byStr);
}
