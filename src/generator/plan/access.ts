// Least privilege for the copy between the hosts. The host that runs rsync reaches the other one
// only with keys of this migration, made on it at prepare: the other host's generated module makes
// its sshd read a migen-owned authorized-keys file (services.openssh.authorizedKeysFiles), where a
// prepare step writes one `restrict,command="rrsync -ro DIR"` line per state directory (rrsync
// confines a key to one directory; -wo where it receives, in push mode). `restrict`: no pty, no
// port, agent or X11 forwarding, no ~/.ssh/rc. The keys cannot exist when the module is generated,
// so the module names the file and the runbook fills it; the verification removes both, and after
// `migen finalize` the module no longer names the file.
import { sha256 } from '../sha256.js';
import type { SyncMode } from '../types.js';
import type { CopyAccess, HostRef, StateDir } from './types.js';

export type { CopyAccess, CopyKey } from './types.js';

/** nixpkgs' pkgs.rrsync as the generated module installs it (environment.systemPackages): an absolute path, as a forced command gets sshd's default PATH. */
export const RRSYNC = '/run/current-system/sw/bin/rrsync';

/** The user part of an ssh target ("root" for "root@h001" or "h001"). */
export const sshUser = (h: HostRef): string => (h.ssh.includes('@') ? h.ssh.slice(0, h.ssh.indexOf('@')) : 'root');

/** `copy`: the state rsync copies. Null when nothing goes host to host (relay, or no state). */
export function copyAccessOf(name: string, mode: SyncMode, from: HostRef, to: HostRef, copy: readonly StateDir[]): CopyAccess | null {
  if (mode === 'relay' || copy.length === 0) return null;
  const pull = mode !== 'push';
  const [client, server] = pull ? [to, from] : [from, to];
  const keyDir = `/var/lib/migen/copy-keys/${name}`;
  const dir = `/var/lib/migen/copy-access/${name}`;
  const user = sshUser(server);
  const flag = pull ? '-ro' : '-wo';
  // A master connection per key: its sessions run the forced command of the key it authenticated
  // with. The socket's name is short (a unix socket path has at most 107 bytes) and unique per
  // migration and key, so two migrations between the same hosts never share one.
  const socket = (i: number): string => `~/.ssh/migen-${sha256(`${name}:${i}`).slice(0, 10)}-%C`;
  return {
    client: client.name, server: server.name, user, address: server.address || server.name, mode: pull ? 'ro' : 'wo', keyDir,
    authorizedKeysFiles: `${dir}/%u`, file: `${dir}/${user}`,
    // rrsync confines the key to the server's directory; the client reads into (or sends from) its own
    keys: copy.map((s, i) => ({
      local: pull ? s.new : s.old,
      remote: pull ? s.old : s.new,
      key: `${keyDir}/${i}`,
      command: `${RRSYNC} ${flag} ${pull ? s.old : s.new}`,
      ssh: `ssh -F /dev/null -i ${keyDir}/${i} -o IdentitiesOnly=yes -o ForwardAgent=no -o BatchMode=yes -o StrictHostKeyChecking=yes -o ControlMaster=auto -o ControlPath=${socket(i)} -o ControlPersist=120`,
    })),
  };
}
