// Which proxy serves the moved domains, which of its locations move to the new host and how
// (their proxyPass, the upstream they name, or a proxy_pass in extraConfig), which stay, and every
// reference to the old host's service that cannot move (an error naming vhost and location).
import type { Inventory, Manifest, MigrationSpec } from '../types.js';
import { oldNames, passesOf, pointsAt, portOf, servicePorts, type Resolved } from './backends.js';
import type { Preset } from './catalog.js';
import { findHost, hostRef } from './hosts.js';
import { withHost, withoutComments, type Backend } from './nginx.js';
import { innerLayer, type InnerVhost } from './inner.js';
import type { Finding, RouteChange, RouteStay, UpstreamMove } from './route-types.js';
import { vhostIndex, allVhosts } from './vhosts.js';

export { parseBackend, withHost, type Backend } from './nginx.js';

export type { Finding, RouteChange, RouteStay, UpstreamMove } from './route-types.js';

export interface ResolvedRoutes {
  readonly proxy: string | null;
  readonly moved: RouteChange[];
  readonly staying: RouteStay[];
  readonly upstreams: UpstreamMove[];
  readonly findings: Finding[];
  /** The old host's names and the ports of the moved service that no route may reach after the switch. */
  readonly stale: { readonly names: readonly string[]; readonly ports: readonly number[] };
  /** Moved domains the proxy sends to the old host's own nginx, and how the new host serves them (inner.ts). */
  readonly inner: InnerVhost[];
  /** What the plan must tell the reviewer about the moved routes (backends nothing listens on). */
  readonly warnings: string[];
}

const byStr = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
const none = (proxy: string | null, findings: Finding[]): ResolvedRoutes => ({ proxy, moved: [], staying: [], upstreams: [], findings, stale: { names: [], ports: [] }, inner: [], warnings: [] });
const esc = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

export function resolveRoutes(manifest: Manifest, inventory: Inventory, name: string, m: MigrationSpec, p: Preset | null): ResolvedRoutes {
  const findings: Finding[] = [];
  const oldInv = findHost(inventory, m.from);
  const newInv = findHost(inventory, m.to);
  if (!oldInv || !newInv) return none(null, findings);
  const old = hostRef(manifest, oldInv);
  const neu = hostRef(manifest, newInv);
  const names = oldNames(inventory, old, oldInv);
  const index = vhostIndex(inventory);
  const isOld = (b: Backend, on: string): boolean => pointsAt(b, names, old, on);

  let domains: string[];
  const explicit = m.domains !== undefined;
  if (m.domains) domains = [...m.domains];
  else {
    // Default: vhosts named <subdomain>.* on some proxy that point at the old host, but for the
    // names whose DNS records move (dns:): clients follow those to the new host, no proxy between.
    const sub = p?.subdomain;
    const byDns = new Set((m.dns?.records ?? []).map((r) => r.name));
    domains = [];
    if (sub) {
      const candidates = sub.includes('.') ? index.vhosts.filter((v) => v.domain.startsWith(`${sub}.`)) : index.byFirstLabel.get(sub) ?? [];
      for (const v of candidates) if (!byDns.has(v.domain) && !domains.includes(v.domain) && v.backends.some((b) => isOld(b, v.host))) domains.push(v.domain);
    }
  }
  if (domains.length === 0) return none(manifest.proxy ?? null, findings);

  let proxy = manifest.proxy ?? null;
  if (proxy === null) {
    const first = domains[0]!;
    // The old host's own nginx serving the domain too is the inner of two proxies: the edge is the one that sends it there.
    let candidates = index.servers.get(first) ?? [];
    const edges = candidates.filter((h) => h !== old.name && index.vhosts.some((v) => v.host === h && v.domain === first && v.backends.some((b) => isOld(b, h))));
    if (candidates.length > 1 && candidates.includes(old.name) && edges.length) candidates = edges;
    if (candidates.length === 1) proxy = candidates[0]!;
    else if (candidates.length === 0) {
      findings.push({ path: explicit ? ['migrations', name, 'domains', 0] : ['migrations', name], message: `domain ${first} is not a virtual host of any nginx in the inventory; valid: ${allVhosts(inventory).join(', ') || '(none)'}` });
      return none(null, findings);
    } else {
      findings.push({ path: ['migrations', name, 'domains', 0], message: `domain ${first} is served by several hosts (${candidates.join(', ')}); name the proxy with the top-level "proxy:" field` });
      return none(null, findings);
    }
  }
  const proxyInv = findHost(inventory, proxy);
  if (!proxyInv) {
    findings.push({ path: ['proxy'], message: `proxy host ${JSON.stringify(proxy)} is not in the inventory; valid: ${index.hosts.join(', ')}` });
    return none(null, findings);
  }
  const at = (i: number): (string | number)[] => (explicit ? ['migrations', name, 'domains', i] : ['migrations', name]);
  const ports = servicePorts(m, p, oldInv);
  const passes = passesOf(proxyInv);
  const movedSet = new Set(domains);
  const moved: RouteChange[] = [];
  const upstreams = new Map<string, UpstreamMove>();
  const newHost = neu.address || neu.name;
  const vhosts = proxyInv.nginx.virtualHosts;

  domains.forEach((d, i) => {
    if (!Object.prototype.hasOwnProperty.call(vhosts, d)) {
      findings.push({ path: at(i), message: `domain ${d} is not a virtual host of the proxy ${proxy}; its virtual hosts: ${Object.keys(vhosts).sort(byStr).join(', ') || '(none)'}` });
      return;
    }
    let any = false;
    for (const x of passes.filter((y) => y.domain === d)) {
      const olds = x.backends.filter((b) => isOld(b.backend, proxy!));
      if (olds.length === 0) continue;
      any = true;
      const where = `${d} location ${x.location} on ${proxy}`;
      const sock = olds.find((b) => b.backend.unix !== undefined);
      if (sock) {
        findings.push({ path: at(i), message: `${where} proxies to the unix socket ${sock.backend.unix} on ${old.name}${x.upstream ? ` (upstream ${x.upstream})` : ''}: a socket cannot be reached from the new host; make ${m.service} listen on TCP on ${old.name} (an address and port ${proxy} reaches, in ${x.source === 'proxyPass' ? 'proxyPass' : 'the proxy_pass'}), deploy that, then migrate` });
        continue;
      }
      if (x.upstream) {
        if (olds.length !== x.backends.length) {
          findings.push({ path: at(i), message: `${where} proxies to upstream ${x.upstream}, whose servers are ${x.backends.map((b) => b.address).join(', ')}: only some are ${old.name}'s, and migen moves a single backend; give ${d} an upstream of ${old.name}'s servers only` });
          continue;
        }
        const users = passes.filter((y) => y.upstream === x.upstream && !movedSet.has(y.domain));
        if (users.length > 0) {
          findings.push({ path: at(i), message: `${where} proxies to upstream ${x.upstream}, which ${users.map((u) => `${u.domain} location ${u.location}`).join(', ')} also use${users.length === 1 ? 's' : ''}: moving the upstream would move ${users.length === 1 ? 'it' : 'them'} too; add ${[...new Set(users.map((u) => u.domain))].join(', ')} to domains, or give ${d} an upstream of its own` });
          continue;
        }
        if (!upstreams.has(x.upstream)) upstreams.set(x.upstream, { name: x.upstream, servers: olds.map((b) => ({ old: b.address, new: `${newHost}${b.backend.port}`, params: b.params })) });
        const u = upstreams.get(x.upstream)!;
        moved.push({ domain: d, location: x.location, from: `upstream ${x.upstream}: ${u.servers.map((s) => s.old).join(', ')}`, to: `upstream ${x.upstream}: ${u.servers.map((s) => s.new).join(', ')}`, backend: `${/^(https?):\/\//.exec(x.target)?.[1] ?? 'http'}://${u.servers[0]!.new}`, via: 'upstream', upstream: x.upstream, span: null });
        continue;
      }
      moved.push({ domain: d, location: x.location, from: x.target, to: withHost(olds[0]!.backend, newHost), backend: withHost(olds[0]!.backend, newHost), via: x.source, upstream: null, span: x.span ?? null });
    }
    if (!any) {
      const current = passes.filter((y) => y.domain === d).map((y) => y.target).join(', ') || 'no proxyPass';
      findings.push({ path: at(i), message: `domain ${d} on ${proxy} points at ${current}, not at the old host ${old.name} (${old.address || 'no address'}); is "from" right?` });
    }
  });

  // Outside the moved domains: routes to the old host stay, unless they reach the moved service's own ports.
  const staying: RouteStay[] = [];
  const reaches = (x: Resolved, on: string): boolean => x.backends.some((b) => isOld(b.backend, on) && b.backend.unix === undefined && ports.includes(portOf(b.backend)));
  for (const x of passes) {
    if (movedSet.has(x.domain) || (x.upstream && upstreams.has(x.upstream))) continue;
    if (!x.backends.some((b) => isOld(b.backend, proxy!))) continue;
    if (reaches(x, proxy)) findings.push({ path: at(0), message: `${x.domain} location ${x.location} on ${proxy} reaches ${m.service} on ${old.name} (${x.target}${x.upstream ? `, upstream ${x.upstream}` : ''}) and does not move with it: after the cutover it would point at a stopped backend; add ${x.domain} to domains` });
    else staying.push({ domain: x.domain, location: x.location, proxyPass: x.target });
  }
  for (const h of index.hosts) {
    if (h === proxy || h === old.name || h === neu.name || !inventory.hosts[h]!.nginx.enable) continue;
    for (const x of passesOf(inventory.hosts[h]!)) {
      if (reaches(x, h)) findings.push({ path: at(0), message: `${x.domain} location ${x.location} on ${h} reaches ${m.service} on ${old.name} (${x.target}) and migen moves only ${proxy}'s routes: after the cutover it would point at a stopped backend; point it at ${proxy}, or move it by hand in the same change` });
    }
  }

  // Any other mention of the old host at the service's ports in extraConfig (set $backend ..., proxy_redirect): nothing migen can move.
  const movedPorts = moved.filter((r) => r.via !== 'upstream').map((r) => portOf(parseUrl(r.from)));
  const stalePorts = [...new Set([...ports, ...movedPorts])].filter((pt) => !staying.some((s) => portOf(parseUrl(s.proxyPass)) === pt)).sort((a, b) => a - b);
  const hostsRe = [...names, ...(proxy === old.name ? ['127.0.0.1', 'localhost', '\\[::1\\]'] : [])].map((n) => (n.startsWith('\\') ? n : esc(n))).join('|');
  if (stalePorts.length > 0) {
    const mention = new RegExp(`(?<![A-Za-z0-9_.-])(?:${hostsRe}):(?:${stalePorts.join('|')})(?![0-9])`, 'gi');
    for (const d of Object.keys(vhosts).sort(byStr)) {
      // proxy_pass targets were classified above (moved, staying or refused)
      const spans = passes.filter((x) => x.domain === d && x.span);
      const texts: [string, string, boolean][] = [...Object.keys(vhosts[d]!.locations).sort(byStr).map((l): [string, string, boolean] => [l, vhosts[d]!.locations[l]!.extraConfig, false]), ['(server block)', vhosts[d]!.extraConfig, true]];
      for (const [loc, text, vhost] of texts) {
        for (const hit of withoutComments(text).matchAll(mention)) {
          const handled = spans.some((x) => (x.source === 'vhostExtraConfig') === vhost && (vhost || x.location.split(' > ')[0] === loc) && hit.index! >= x.span![0] && hit.index! < x.span![1]);
          if (!handled) findings.push({ path: at(0), message: `${d} location ${loc} on ${proxy} names ${hit[0]} (${m.service} on ${old.name}) in its extraConfig outside a proxy_pass migen can move: after the cutover it would point at a stopped backend; write it as a proxy_pass (or proxyPass), or change it in the same change` });
        }
      }
    }
  }
  const ups = [...upstreams.values()];
  const layer = innerLayer({ service: m.service, old, neu, oldInv, newInv, proxy, moved, upstreams: ups, names, ports, at: (d) => at(Math.max(0, domains.indexOf(d))) });
  findings.push(...layer.findings);
  return { proxy, moved, staying, upstreams: ups, findings, stale: { names: proxy === old.name ? [...names, '127.0.0.1', 'localhost', '[::1]'] : names, ports: stalePorts }, inner: layer.inner, warnings: layer.warnings };
}

const parseUrl = (u: string): { scheme: string; port: string } => {
  const m = /^(https?):\/\/(?:\[[^\]]+\]|[^/:]+)(:\d+)?/.exec(u);
  return { scheme: m?.[1] ?? 'http', port: m?.[2] ?? '' };
};
