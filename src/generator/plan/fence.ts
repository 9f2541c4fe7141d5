// Fences and route files: what a run leaves on the hosts, so that activations, reboots and other
// migrations respect it (the markers are checked by systemd's ConditionPathExists= at every
// start; the proxy's moved locations read their backend from a file nginx includes).
import { parseBackend, type RouteChange } from '../model/routes.js';
import type { Fence, FencedUnit, RouteFile } from './types.js';

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

export function routeFilesOf(name: string, moved: readonly RouteChange[], newAddress: string): RouteFile[] {
  const id = name.replace(/-/g, '_');
  return moved.map((r, i) => {
    const b = parseBackend(r.from)!;
    const port = b.port || (b.scheme === 'https' ? ':443' : ':80');
    const upstream = `migen_${id}_${i}`;
    return {
      domain: r.domain, location: r.location, upstream,
      file: `/var/lib/migen/nginx/${name}/${i}.upstream`,
      proxyPass: `${b.scheme}://${upstream}${b.path}`,
      old: `server ${b.host}${port};`,
      new: `server ${newAddress}${port};`,
    };
  });
}
