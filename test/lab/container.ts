/**
 * migen lab: nixos-containers on lab hosts (STAND-IN: nspawn and the container's systemd cannot run
 * here). `defineContainer(lab, host, name, spec)` declares one the way containers.<name> does in
 * NixOS: the host unit container@NAME (main process container/nspawn.sh, KillMode=mixed,
 * KillSignal=TERM, TimeoutStopSec 90 s, TimeoutStartSec 1 min, as nixpkgs'
 * nixos/modules/virtualisation/nixos-containers.nix), the container's "system" under
 * /nix/var/nix/profiles/per-container/NAME/system (units, users, tmpfiles lines, bindMounts, files
 * such as a postgresql.conf: what the NixOS closure would carry), and /usr/local/sbin/nixos-container
 * (stand-ins/nixos-container: run, status, start, stop, restart).
 *
 * What a container is here (see container/nspawn.sh and container/init.sh for the details):
 * - its own mount, PID, UTS and IPC namespaces; the host's network (privateNetwork = false);
 * - its own /var/lib, /var/log, /root, /tmp (under /var/lib/nixos-containers/NAME, the container
 *   root), /run (a tmpfs), /etc/passwd and /etc/group (its users, pinned uids), /var/lib/nixos/uid-map;
 *   everything else (/usr, /etc, /nix/store) is the host's: no separate root file system;
 * - bindMounts from host paths (a missing host path fails the start, as with nspawn);
 * - start: its units start in the given order (the lab's systemctl stand-in inside the container),
 *   then container@NAME is active (Type=notify); a unit that fails does not fail the container;
 * - stop: its units stop in reverse order, each waited for, then the container ends; on SIGKILL of
 *   the main process every process of the container dies.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Lab, UnitSpec } from './lab.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
export const NSPAWN_SH = path.join(HERE, 'container', 'nspawn.sh');
export const CONTAINER_POSTGRESQL_SH = path.join(HERE, 'container', 'postgresql.sh');
const NIXOS_CONTAINER = path.join(HERE, 'stand-ins', 'nixos-container');

export interface ContainerUser { name: string; uid: number; gid?: number; group?: string; home?: string }
export interface ContainerSpec {
  /** containers.<name>.bindMounts: mount point in the container -> host path */
  bindMounts?: Record<string, { hostPath: string; isReadOnly?: boolean }>;
  /** users besides root and nobody (NixOS: users.users with pinned uids; a group of the same name and gid) */
  users?: ContainerUser[];
  /** systemd-tmpfiles lines run as root at boot: `d PATH MODE USER GROUP` */
  tmpfiles?: string[];
  /** the container's units, in start order (stopped in reverse) */
  units: { name: string; spec: UnitSpec }[];
  /** files of the container's system profile, by path relative to it (seen in the container under /nix/var/nix/profiles/system/) */
  files?: Record<string, string>;
}

/** mount points are allowed under the container's own directories */
const OWN_DIRS = ['/var/lib', '/run', '/var/log', '/root', '/tmp'];

/** the container's system profile as seen on the host, and (inside the container) */
export const containerSystem = (name: string): string => `/nix/var/nix/profiles/per-container/${name}/system`;
export const CONTAINER_SYSTEM_INSIDE = '/nix/var/nix/profiles/system';
export const containerRoot = (name: string): string => `/var/lib/nixos-containers/${name}`;

/** /usr/local/sbin/nixos-container on the host */
export function installNixosContainer(lab: Lab, host: string): void {
  const dst = lab.hostFile(host, '/usr/local/sbin/nixos-container');
  fs.copyFileSync(NIXOS_CONTAINER, dst);
  fs.chmodSync(dst, 0o755);
}

export async function defineContainer(lab: Lab, host: string, name: string, spec: ContainerSpec): Promise<void> {
  if (!/^[a-z][a-z0-9-]{0,10}$/.test(name)) throw new Error(`lab: bad container name ${name}`);
  const sys = lab.hostFile(host, containerSystem(name));
  fs.rmSync(sys, { recursive: true, force: true });
  fs.mkdirSync(path.join(sys, 'lab-container'), { recursive: true });
  const put = (rel: string, content: string): void => {
    fs.mkdirSync(path.dirname(path.join(sys, rel)), { recursive: true });
    fs.writeFileSync(path.join(sys, rel), content);
  };
  const binds = Object.entries(spec.bindMounts ?? {}).map(([mountPoint, b]) => {
    for (const p of [mountPoint, b.hostPath]) if (!/^\/[A-Za-z0-9._/@-]+$/.test(p) || p.includes('..')) throw new Error(`lab: bad bind mount path ${p}`);
    if (!OWN_DIRS.some((d) => mountPoint.startsWith(`${d}/`))) throw new Error(`lab: bind mount point ${mountPoint} must be under ${OWN_DIRS.join(', ')}`);
    return `${b.hostPath} ${mountPoint} ${b.isReadOnly === false ? 'rw' : 'ro'}\n`;
  });
  put('lab-container/binds', binds.join(''));
  const users = [{ name: 'root', uid: 0, home: '/root' }, ...(spec.users ?? []), { name: 'nobody', uid: 65534, group: 'nogroup', home: '/var/empty' }];
  put('lab-container/passwd', users.map((u) => `${u.name}:x:${u.uid}:${u.gid ?? u.uid}::${u.home ?? '/var/empty'}:${u.uid === 65534 ? '/usr/sbin/nologin' : '/bin/bash'}\n`).join(''));
  put('lab-container/group', users.map((u) => `${u.group ?? u.name}:x:${u.gid ?? u.uid}:\n`).join(''));
  put('lab-container/tmpfiles', (spec.tmpfiles ?? []).map((l) => `${l}\n`).join(''));
  put('lab-container/units', spec.units.map((u) => `${u.name}\n`).join(''));
  for (const [rel, content] of Object.entries(spec.files ?? {})) put(rel, content);
  for (const u of spec.units) await lab.defineUnit(host, u.name, u.spec, { unitsDir: `${containerSystem(name)}/lab-units` });
  installNixosContainer(lab, host);
  await lab.defineUnit(host, `container@${name}`, {
    exec: ['/bin/bash', NSPAWN_SH, name],
    killMode: 'mixed',
    killSignal: 'TERM',
    stopTimeoutSec: 90,
    ready: { cmd: `read -r pid _ </run/lab-units/container@${name}/pid && grep -qx READY=1 /run/nixos-containers/${name}.notify.$pid`, timeoutSec: 60 },
  });
}

/** runs `script` (bash) inside the running container NAME on the host, as root (nixos-container run) */
export async function inContainer(lab: Lab, host: string, name: string, script: string, input?: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return lab.exec(host, `nixos-container run ${name} -- /bin/bash -c ${shq(script)}`, { input });
}

const shq = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;
