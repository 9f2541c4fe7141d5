// The second of two proxies: a moved route of the edge proxy that reaches the old host's own nginx
// (a host-local reverse proxy routing by Host to its containers, the seed's h001), and what the new
// host then needs. migen gives the new host that virtual host, copied into its generated module
// (unless it declares one itself), and keeps the edge route's port: the alternative, pointing the
// edge straight at the container's port, would skip the inner vhost's own settings (a
// client_max_body_size for git pushes, say), need that port open on the new host's mesh interface,
// and break for a service listening on loopback only.
// Also here: the moved routes' backends that nothing on the old or new host serves (its listeners).
import type { InventoryHost, Listener } from '../types.js';
import { passesOf } from './backends.js';
import type { HostRef } from './hosts.js';
import { parseBackend, portOf, serverBackend, withHost, type Backend } from './nginx.js';
import type { Finding, RouteChange, UpstreamMove } from './route-types.js';

export interface InnerLocation {
  readonly location: string;
  readonly proxyPass: string | null;
  readonly proxyWebsockets: boolean;
  readonly recommendedProxySettings: boolean;
  readonly extraConfig: string;
}
/** A moved domain that the edge sends to the old host's nginx, and how the new host serves it. */
export interface InnerVhost {
  readonly domain: string;
  /** The port the edge reaches the host-local nginx on (it stays: the edge moves to the new host's). */
  readonly port: number;
  /** copy: the new host's generated module gets the old host's vhost (nginx enabled there); declared: the new host's nginx has its own. */
  readonly mode: 'copy' | 'declared';
  /** What the old host's vhost proxies to, by location ("/ -> http://127.0.0.1:3000"). */
  readonly backends: readonly string[];
  /** Why the plan does this, for the reviewer. */
  readonly reason: string;
  /** The vhost the new host gets (mode copy; else what it declares, for the record). */
  readonly serverAliases: readonly string[];
  readonly extraConfig: string;
  readonly locations: readonly InnerLocation[];
}

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1', '[::1]']);
const loopbackOnly = (l: Listener): boolean => l.addresses.length > 0 && l.addresses.every((a) => LOOPBACK.has(a) || a.startsWith('127.'));

/** Who listens on a TCP port of a host (the host's own services and its containers on the host's network), from another host's view unless `self`. */
export function listenersOn(h: InventoryHost, port: number, self: boolean): string[] {
  const all: [Listener, string][] = [
    ...h.listen.map((l): [Listener, string] => [l, l.service]),
    ...Object.keys(h.containers).sort().filter((n) => !h.containers[n]!.privateNetwork)
      .flatMap((n) => h.containers[n]!.listen.map((l): [Listener, string] => [l, `${l.service} in container ${n}`])),
  ];
  return all.filter(([l]) => l.protocol === 'tcp' && l.port === port && (self || !loopbackOnly(l))).map(([, who]) => who);
}

const allPorts = (h: InventoryHost): string => {
  const ls = [...h.listen.map((l) => `${l.service} ${l.port}`), ...Object.keys(h.containers).sort().flatMap((n) => h.containers[n]!.listen.map((l) => `${l.service} ${l.port} in container ${n}`))];
  return ls.length ? ls.join(', ') : 'none';
};

export interface InnerArgs {
  readonly service: string;
  readonly old: HostRef;
  readonly neu: HostRef;
  readonly oldInv: InventoryHost;
  readonly newInv: InventoryHost;
  readonly proxy: string;
  readonly moved: readonly RouteChange[];
  readonly upstreams: readonly UpstreamMove[];
  /** The names the old host goes by (lower case). */
  readonly names: readonly string[];
  /** The moved service's own ports (empty: unknown). */
  readonly ports: readonly number[];
  readonly at: (domain: string) => (string | number)[];
}

/** The old backends of a moved route (an upstream's servers, else its proxy_pass). */
function oldBackends(r: RouteChange, upstreams: readonly UpstreamMove[]): Backend[] {
  if (r.via === 'upstream') return upstreams.find((u) => u.name === r.upstream)!.servers.map((s) => serverBackend(s.old, 'http'));
  const b = parseBackend(r.from);
  return b ? [b] : [];
}

export function innerLayer(a: InnerArgs): { inner: InnerVhost[]; warnings: string[]; findings: Finding[] } {
  const { old, neu, oldInv, newInv, proxy } = a;
  const inner: InnerVhost[] = [];
  const warnings: string[] = [];
  const findings: Finding[] = [];
  const self = proxy === old.name;
  const vhostFor = (h: InventoryHost, d: string): string | null => (!h.nginx.enable ? null : Object.prototype.hasOwnProperty.call(h.nginx.virtualHosts, d) ? d
    : Object.keys(h.nginx.virtualHosts).sort().find((v) => h.nginx.virtualHosts[v]!.serverAliases?.includes(d)) ?? null);
  const seen = new Set<string>();
  for (const r of a.moved) {
    for (const b of oldBackends(r, a.upstreams)) {
      if (b.unix !== undefined) continue;
      const port = portOf(b);
      const key = `${r.domain}\n${port}`;
      if (seen.has(key)) continue;
      seen.add(key);
      const where = `${proxy} routes ${r.domain} ${r.location} to ${r.from}`;
      const who = listenersOn(oldInv, port, self);
      if (who.length === 0) {
        warnings.push(`${where}, but nothing on ${old.name} listens on port ${port} as far as its configuration says (${old.name}'s listeners: ${allPorts(oldInv)}): the route may not work today, and after the cutover ${neu.name} must serve port ${port} (migen reads the listeners of its catalogue's services, nginx and PostgreSQL only).`);
        continue;
      }
      if (self || !who.includes('nginx')) {
        // straight to the service (or whatever listens there): the new host must serve the same port
        if (!self && listenersOn(newInv, port, false).length === 0) warnings.push(`${where} (${who.join(', ')} on ${old.name}); after the cutover it goes to ${neu.name} port ${port}, where nothing listens as far as ${neu.name}'s configuration says (${neu.name}'s listeners: ${allPorts(newInv)}).`);
        continue;
      }
      const v = innerVhost(a, r.domain, port, vhostFor(oldInv, r.domain), vhostFor(newInv, r.domain), findings);
      if (v) inner.push(v);
    }
  }
  return { inner, warnings, findings };
}

function innerVhost(a: InnerArgs, domain: string, port: number, oldName: string | null, newName: string | null, findings: Finding[]): InnerVhost | null {
  const { old, neu, oldInv, newInv, proxy } = a;
  const at = a.at(domain);
  if (oldName === null) {
    findings.push({ path: at, message: `${proxy} sends ${domain} to ${old.name}'s nginx (port ${port}), which has no virtual host for it: its default server answers, not ${a.service}; declare ${domain} in ${old.name}'s nginx (routing to ${a.service}), or point ${proxy} at ${a.service}'s own port` });
    return null;
  }
  const vh = oldInv.nginx.virtualHosts[oldName]!;
  const passes = passesOf(oldInv).filter((x) => x.domain === oldName);
  const backends = passes.map((x) => `${x.location} -> ${x.target}`);
  let ok = true;
  const refuse = (message: string): void => { findings.push({ path: at, message }); ok = false; };
  const local = (b: Backend): 'loopback' | 'self' | null => (b.unix !== undefined || LOOPBACK.has(b.host) ? 'loopback' : a.names.includes(b.host.toLowerCase()) ? 'self' : null);
  for (const x of passes) {
    const what = `${old.name}'s nginx sends ${domain} ${x.location} to ${x.target}`;
    if (x.upstream) { refuse(`${what} (upstream ${x.upstream}): migen copies a virtual host to ${neu.name} only with plain proxy_pass targets; declare ${domain} in ${neu.name}'s nginx yourself (migen then copies nothing)`); continue; }
    for (const b of x.backends.map((y) => y.backend)) {
      const l = local(b);
      if (l === null) refuse(`${what}, which is not on ${old.name}: moving ${a.service} changes nothing for it; is ${domain} ${a.service}'s domain?`);
      else if (b.unix === undefined && a.ports.length && !a.ports.includes(portOf(b))) refuse(`${what}, where ${a.service} does not listen (its ports on ${old.name}: ${a.ports.join(', ')}): that backend stays on ${old.name}; is ${domain} ${a.service}'s domain?`);
      else if (l === 'self' && x.source !== 'proxyPass') refuse(`${what} in its extraConfig, by ${old.name}'s own address: write it as a proxyPass, or with 127.0.0.1, so that the copy on ${neu.name} reaches ${a.service} there`);
    }
  }
  const others = [...(vh.others ?? []), ...Object.keys(vh.locations).sort().flatMap((l) => (vh.locations[l]!.others ?? []).map((o) => `locations."${l}".${o}`))];
  if (newName === null && others.length) refuse(`${old.name}'s virtual host ${domain} sets ${others.join(', ')}, which migen does not copy: declare ${domain} in ${neu.name}'s nginx yourself, the same way (migen then copies nothing)`);
  if (newName === null && port !== 80) refuse(`${proxy} reaches ${old.name}'s nginx for ${domain} on port ${port}; migen copies the virtual host into ${neu.name}'s nginx on its default port 80 only: declare ${domain} in ${neu.name}'s nginx yourself, listening on ${port}`);
  if (newName === null) {
    const busy = [80, 443].flatMap((p) => listenersOn(newInv, p, true).filter((w) => w !== 'nginx').map((w) => `${w} (${p})`));
    if (busy.length) refuse(`the copy of ${domain} runs nginx on ${neu.name}'s ports 80 and 443, where ${busy.join(', ')} already listen${busy.length === 1 ? 's' : ''}: move ${busy.length === 1 ? 'it' : 'them'}, or declare ${domain} in ${neu.name}'s nginx yourself`);
  }
  if (!ok) return null;
  const newHost = neu.address || neu.name;
  const rewrite = (pp: string | null): string | null => {
    const b = pp ? parseBackend(pp) : null;
    return b && b.unix === undefined && a.names.includes(b.host.toLowerCase()) ? withHost(b, newHost) : pp;
  };
  const source = newName === null ? vh : newInv.nginx.virtualHosts[newName]!;
  const locations = Object.keys(source.locations).sort().map((l) => {
    const x = source.locations[l]!;
    return { location: l, proxyPass: newName === null ? rewrite(x.proxyPass) : x.proxyPass, proxyWebsockets: x.proxyWebsockets ?? false, recommendedProxySettings: x.recommendedProxySettings, extraConfig: x.extraConfig };
  });
  const reason = newName === null
    ? `${proxy} reaches ${a.service} through ${old.name}'s own nginx, which routes ${domain} by Host (${backends.join(', ')}). ${neu.name} gets that virtual host as ${old.name} declares it (its generated module, nginx enabled there), so ${proxy}'s route keeps port ${port} and the vhost's own settings; routing ${proxy} straight to the container's port instead would skip those settings and need that port open on ${neu.name}'s mesh interface. http-wide settings (services.nginx.clientMaxBodySize, commonHttpConfig, ...) are ${neu.name}'s own.`
    : `${proxy} reaches ${a.service} through ${old.name}'s own nginx, which routes ${domain} by Host (${backends.join(', ')}); ${neu.name}'s nginx declares ${domain} itself${newName !== domain ? ` (as an alias of ${newName})` : ''}, so migen copies nothing and ${proxy}'s route keeps port ${port}.`;
  return { domain, port, mode: newName === null ? 'copy' : 'declared', backends, reason, serverAliases: source.serverAliases ?? [], extraConfig: source.extraConfig, locations };
}
