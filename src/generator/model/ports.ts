// Ports that would collide on the new host: what the moved service listens on there against
// everything else in the same network namespace (the host's own services and every container
// without privateNetwork share the host's). Two sockets of one protocol and port collide when
// their addresses overlap: the second bind fails with EADDRINUSE and that service cannot start.
import type { InventoryHost, Listener } from '../types.js';

interface Socket extends Listener { readonly owner: string; readonly autoStart: boolean }
export interface Collision { readonly certain: boolean; readonly message: string }

const strip = (a: string): string => { const x = a === '' ? '*' : a.replace(/^\[(.*)\]$/, '$1'); return /^::0*$/.test(x) ? '::' : x; };
const isIp = (a: string): boolean => /^\d{1,3}(\.\d{1,3}){3}$/.test(a) || a.includes(':');
/** localhost means both loopbacks (nixpkgs' PostgreSQL default listen_addresses). */
const expand = (a: string): string[] => (a === 'localhost' ? ['127.0.0.1', '::1'] : [strip(a)]);

/** null: cannot tell (a host name the planner does not resolve). */
function overlap(a: string, b: string): boolean | null {
  if (a === '*' || b === '*' || a === '::' || b === '::' || a === b) return true; // '::' is dual-stack on Linux (bindv6only=0)
  if (a === '0.0.0.0') return !b.includes(':');
  if (b === '0.0.0.0') return !a.includes(':');
  if (!isIp(a) || !isIp(b)) return null;
  return false;
}

function overlapAny(as: readonly string[], bs: readonly string[]): boolean | null {
  let unknown = false;
  for (const a of as.flatMap(expand)) for (const b of bs.flatMap(expand)) {
    const o = overlap(a, b);
    if (o === true) return true;
    if (o === null) unknown = true;
  }
  return unknown ? null : false;
}

const show = (s: Socket): string => `${s.addresses.map((a) => (a.includes(':') ? `[${strip(a)}]` : a)).join(',')}:${s.port}/${s.protocol}`;

/**
 * `container`: the moved service runs in this container on `h` (it moves with everything in it);
 * else it is the host's `service`.
 */
export function portCollisions(h: InventoryHost, service: string | null, container: string | null): Collision[] {
  const host = (l: Listener): Socket => ({ ...l, owner: `${l.service} on ${h.hostName}`, autoStart: true });
  const inContainer = (name: string) => (l: Listener): Socket => ({ ...l, owner: `${l.service} in container ${name} on ${h.hostName}`, autoStart: h.containers[name]!.autoStart });
  const names = Object.keys(h.containers).sort();
  const moved = container !== null && Object.prototype.hasOwnProperty.call(h.containers, container);
  let mine: Socket[];
  let others: Socket[];
  if (moved) {
    mine = h.containers[container!]!.listen.map(inContainer(container!));
    others = h.containers[container!]!.privateNetwork ? [] : [
      ...h.listen.map(host),
      ...names.filter((n) => n !== container && !h.containers[n]!.privateNetwork).flatMap((n) => h.containers[n]!.listen.map(inContainer(n))),
    ];
  } else {
    mine = h.listen.filter((l) => l.service === service).map(host);
    others = [
      ...h.listen.filter((l) => l.service !== service).map(host),
      ...names.filter((n) => !h.containers[n]!.privateNetwork).flatMap((n) => h.containers[n]!.listen.map(inContainer(n))),
    ];
  }
  const out: Collision[] = [];
  for (const a of mine) for (const b of others) {
    if (a.protocol !== b.protocol || a.port !== b.port) continue;
    const o = overlapAny(a.addresses, b.addresses);
    if (o === false) continue;
    const certain = o === true && b.autoStart;
    const why = o === null ? ' (if those names resolve to one address)' : !b.autoStart ? ' (once that container is started: it has autoStart off)' : '';
    out.push({ certain, message: `${a.owner} listens on ${show(a)}, and so does ${b.owner} (${show(b)}): the second to start cannot bind it${why}; give one of them another port` });
  }
  return out;
}
