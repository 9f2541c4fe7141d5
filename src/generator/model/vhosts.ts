// The fleet's virtual hosts indexed once per inventory: resolving each migration's routes then
// costs no scan of the whole fleet.
import type { Inventory } from '../types.js';
import { passesOf } from './backends.js';
import type { Backend } from './nginx.js';

interface IndexedVhost { readonly host: string; readonly domain: string; readonly backends: readonly Backend[] }
interface VhostIndex {
  /** Host names, sorted. */
  readonly hosts: readonly string[];
  /** Virtual hosts of every host with nginx enabled, by host then domain (both sorted), with the backends of their proxy_passes (upstreams resolved). */
  readonly vhosts: readonly IndexedVhost[];
  /** The same, by the domain's first label (what a preset's subdomain matches). */
  readonly byFirstLabel: ReadonlyMap<string, readonly IndexedVhost[]>;
  /** Domain -> the hosts (sorted) whose nginx serves it. */
  readonly servers: ReadonlyMap<string, string[]>;
}

const byStr = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
const indexes = new WeakMap<Inventory, VhostIndex>();

export function vhostIndex(inventory: Inventory): VhostIndex {
  const hit = indexes.get(inventory);
  if (hit) return hit;
  const hosts = Object.keys(inventory.hosts).sort(byStr);
  const vhosts: IndexedVhost[] = [];
  const byFirstLabel = new Map<string, IndexedVhost[]>();
  const servers = new Map<string, string[]>();
  for (const h of hosts) {
    const inv = inventory.hosts[h]!;
    if (!inv.nginx.enable) continue;
    const passes = passesOf(inv);
    for (const d of Object.keys(inv.nginx.virtualHosts).sort(byStr)) {
      const v = { host: h, domain: d, backends: passes.filter((x) => x.domain === d).flatMap((x) => x.backends.map((b) => b.backend)) };
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

export function allVhosts(inventory: Inventory): string[] {
  const out = new Set<string>();
  for (const h of Object.values(inventory.hosts)) for (const d of Object.keys(h.nginx.virtualHosts)) out.add(d);
  return [...out].sort(byStr);
}
