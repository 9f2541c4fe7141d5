/**
 * migen lab: addresses beyond the lab's one per host, and the routes that reach them, so that a
 * lab host can be an outside server with its real address (1.1.1.1, say) on the lab's bridge.
 * - `addAddress(lab, host, '1.1.1.1/32')`: one more address on the host's eth0 (`ip addr add`).
 * - `addRoute(lab, at, '1.1.1.1/32', via)`: a route on a host or in the operator's namespace.
 * - `routeEverywhere(lab, '1.1.1.1/32', host)`: that route via `host`'s lab address on every
 *   other host and for the operator (where the lab's clients run), as the network's router would
 *   forward it. A route per destination, never a default route: anything else outside the lab
 *   stays unreachable at once, as it was.
 * Real: the kernel's addresses and routes of each namespace (iproute2).
 */
import type { Lab } from './lab.js';

const CIDR_RE = /^(\d{1,3}\.){3}\d{1,3}\/\d{1,2}$/;
const IP_RE = /^(\d{1,3}\.){3}\d{1,3}$/;

async function ip(lab: Lab, at: 'operator' | string, args: string[]): Promise<void> {
  const r = at === 'operator' ? await lab.operator(['ip', ...args]) : await lab.exec(at, ['ip', ...args].join(' '));
  if (r.code !== 0) throw new Error(`lab net: ip ${args.join(' ')} on ${at}: exit ${r.code}: ${r.stderr.trim()}`);
}

export async function addAddress(lab: Lab, host: string, cidr: string): Promise<void> {
  if (!CIDR_RE.test(cidr)) throw new Error(`lab net: bad address ${cidr} (want a.b.c.d/len)`);
  await ip(lab, host, ['addr', 'add', cidr, 'dev', 'eth0']);
}

export async function addRoute(lab: Lab, at: 'operator' | string, dest: string, via: string): Promise<void> {
  if (!CIDR_RE.test(dest) || !IP_RE.test(via)) throw new Error(`lab net: bad route ${dest} via ${via}`);
  await ip(lab, at, ['route', 'replace', dest, 'via', via]);
}

/** `dest` reached through `host` from every other host and from the operator */
export async function routeEverywhere(lab: Lab, dest: string, host: string): Promise<void> {
  const via = lab.hosts.find((h) => h.name === host)?.address;
  if (!via) throw new Error(`lab net: no host ${host}`);
  for (const h of lab.hosts) if (h.name !== host) await addRoute(lab, h.name, dest, via);
  await addRoute(lab, 'operator', dest, via);
}
