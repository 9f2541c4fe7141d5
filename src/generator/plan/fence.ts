// Fences and route files: what a run leaves on the hosts, so that activations, reboots and other
// migrations respect it (the markers are checked by systemd's ConditionPathExists= at every
// start; the proxy's moved routes read their backend from a file nginx includes).
import { parseBackend, type RouteChange, type UpstreamMove } from '../model/routes.js';
import { serverParams } from '../model/nginx.js';
import type { InventoryHost } from '../types.js';
import type { Fence, FencedUnit, RouteEdit, RouteFile } from './types.js';

/** `unit`: what must never run on both hosts (in a hot migration the application, inside its container when it has one: the container runs on both hosts for its PostgreSQL). */
export function fenceOf(name: string, unit: FencedUnit): Fence {
  const dir = `/var/lib/migen/${name}`;
  const service = unit.unit.endsWith('.service') ? unit.unit : `${unit.unit}.service`;
  return {
    dir, moved: `${dir}/moved`, ready: `${dir}/ready`, verified: `${dir}/verified`, prepared: `${dir}/prepared`, rolledBack: `${dir}/rolled-back`,
    dropIn: `/run/systemd/system/${service}.d/50-migen-fence.conf`,
    units: { old: unit, new: unit },
  };
}

const servers = (xs: readonly { address: string; params: Readonly<Record<string, boolean | number | string>> }[]): string =>
  xs.map((s) => `server ${[s.address, serverParams(s.params)].filter(Boolean).join(' ')};`).join(' ');

/**
 * One route file per moved backend: a location's proxyPass or a proxy_pass in extraConfig becomes
 * an upstream of migen's (migen_NAME_I) that includes the file; an upstream of the user's whose
 * servers are all the old host's includes the file instead of its servers (one file per upstream).
 * `byChange[i]` is the file of `moved[i]`.
 */
export function routeFilesOf(name: string, moved: readonly RouteChange[], upstreams: readonly UpstreamMove[], newAddress: string): { files: RouteFile[]; byChange: RouteFile[] } {
  const id = name.replace(/-/g, '_');
  const files: RouteFile[] = [];
  const file = (): string => `/var/lib/migen/nginx/${name}/${files.length}.upstream`;
  const byChange = moved.map((r): RouteFile => {
    if (r.via === 'upstream') {
      const had = files.find((f) => f.via === 'upstream' && f.upstream === r.upstream);
      if (had) return had;
      const u = upstreams.find((x) => x.name === r.upstream)!;
      const f: RouteFile = { domain: r.domain, location: r.location, via: 'upstream', upstream: u.name, file: file(), proxyPass: null,
        old: servers(u.servers.map((s) => ({ address: s.old, params: s.params }))), new: servers(u.servers.map((s) => ({ address: s.new, params: s.params }))) };
      files.push(f);
      return f;
    }
    const b = parseBackend(r.from)!;
    const port = b.port || (b.scheme === 'https' ? ':443' : ':80');
    const upstream = `migen_${id}_${files.length}`;
    const f: RouteFile = { domain: r.domain, location: r.location, via: r.via, upstream, file: file(), proxyPass: `${b.scheme}://${upstream}${b.path}`, old: `server ${b.host}${port};`, new: `server ${newAddress}${port};` };
    files.push(f);
    return f;
  });
  return { files, byChange };
}

/** The extraConfig texts whose proxy_pass moves: with migen's upstream while planned, with the new backend once done. */
export function routeEditsOf(proxy: InventoryHost | null, moved: readonly RouteChange[], byChange: readonly RouteFile[]): RouteEdit[] {
  if (!proxy) return [];
  const edits = new Map<string, { domain: string; location: string | null; text: string; parts: { span: readonly [number, number]; planned: string; done: string }[] }>();
  moved.forEach((r, i) => {
    if ((r.via !== 'extraConfig' && r.via !== 'vhostExtraConfig') || !r.span) return;
    const location = r.via === 'vhostExtraConfig' ? null : r.location.split(' > ')[0]!;
    const vh = proxy.nginx.virtualHosts[r.domain]!;
    const key = `${r.domain}\n${location ?? ''}`;
    const e = edits.get(key) ?? { domain: r.domain, location, text: location === null ? vh.extraConfig : vh.locations[location]!.extraConfig, parts: [] };
    e.parts.push({ span: r.span, planned: byChange[i]!.proxyPass!, done: r.to });
    edits.set(key, e);
  });
  return [...edits.values()].map((e) => {
    const apply = (pick: 'planned' | 'done'): string => {
      let t = e.text;
      for (const p of [...e.parts].sort((a, b) => b.span[0] - a.span[0])) t = t.slice(0, p.span[0]) + p[pick] + t.slice(p.span[1]);
      return t;
    };
    return { domain: e.domain, location: e.location, planned: apply('planned'), done: apply('done') };
  });
}
