// Least privilege for the copy between the hosts. The host that runs rsync reaches the other one
// only with keys of this migration, made on it at prepare: the other host's generated module makes
// its sshd read a migen-owned authorized-keys file (services.openssh.authorizedKeysFiles), where a
// prepare step writes one line per state directory whose forced command confines the key to that
// directory. `restrict`: no pty, no port, agent or X11 forwarding, no ~/.ssh/rc.
// - Pulled (the default: the old host sends): rsync's own daemon mode over ssh, `rsync --server
//   --daemon --config=FILE .` (rsync(1), "USING RSYNC-DAEMON FEATURES VIA A REMOTE-SHELL
//   CONNECTION"), one read-only module per key (daemonConfig). No interpreter starts: rrsync (a
//   Python script) cost about 35 ms per rsync in the lab, twice inside the downtime window.
// - Pushed (the new host receives): `rrsync -wo DIR`. A daemon module that receives rewrites the
//   symlinks it is sent unless it chroots (rsyncd.conf(5), "munge symlinks"), and a chroot gives up
//   the mapping of owners by name that differing uids need (STATE-COPY.md).
// The keys cannot exist when the module is generated, so the module names the file and the
// runbook fills it; the verification removes both, and after `migen finalize` the module no longer
// names the file.
import { sha256 } from '../sha256.js';
import type { SyncMode } from '../types.js';
import type { CopyAccess, HostRef, StateDir } from './types.js';

export type { CopyAccess, CopyKey } from './types.js';

/** nixpkgs' pkgs.rrsync and pkgs.rsync as the generated module installs them (environment.systemPackages): absolute paths, as a forced command gets sshd's default PATH. */
export const RRSYNC = '/run/current-system/sw/bin/rrsync';
export const RSYNC = '/run/current-system/sw/bin/rsync';
/** The daemon module of a pulled key: the remote path of its state directory is `MODULE/`. */
export const MODULE = 'state';

/**
 * rsyncd.conf(5) of one pulled key: its state directory, read only. As root (the ssh user of the
 * key) the daemon would chroot into the path by default and then stop mapping owners by name, and
 * would run the transfer as `nobody`: so no chroot, root's uid, names mapped. Without the chroot
 * rsync sanitizes the client's paths to the module, and rsync 3.4+ opens them without following a
 * symlink out of it (refused: "Too many levels of symbolic links"); the options that would make it
 * follow links, or delete what it sent, are refused; nothing is looked up in DNS. Checked against
 * rsync 3.5.0 in test/lab/copy-access.test.ts.
 */
export function daemonConfig(dir: string): string {
  if (!/^(\/[A-Za-z0-9_@+][A-Za-z0-9._@+-]*)+$/.test(dir)) throw new Error(`internal: ${dir} cannot be an rsyncd.conf path`);
  return [
    'use chroot = no', 'numeric ids = no', 'uid = root', 'gid = root', 'reverse lookup = no', 'munge symlinks = no',
    `[${MODULE}]`, `path = ${dir}`, 'read only = yes',
    'refuse options = copy-links copy-unsafe-links copy-dirlinks remove-source-files remove-sent-files',
    '',
  ].join('\n');
}

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
  const address = server.address || server.name;
  // A master connection per key: its sessions run the forced command of the key it authenticated
  // with. The socket's name is short (a unix socket path has at most 107 bytes) and unique per
  // migration and key, so two migrations between the same hosts never share one.
  const socket = (i: number): string => `~/.ssh/migen-${sha256(`${name}:${i}`).slice(0, 10)}-%C`;
  return {
    client: client.name, server: server.name, user, address, mode: pull ? 'ro' : 'wo', keyDir,
    authorizedKeysFiles: `${dir}/%u`, file: `${dir}/${user}`,
    // the forced command confines the key to the server's directory; the client reads into (or sends from) its own
    keys: copy.map((s, i) => ({
      local: pull ? s.new : s.old,
      remote: pull ? s.old : s.new,
      key: `${keyDir}/${i}`,
      command: pull ? `${RSYNC} --server --daemon --config=${dir}/${i}.conf .` : `${RRSYNC} -wo ${s.new}`,
      config: pull ? { file: `${dir}/${i}.conf`, text: daemonConfig(s.old) } : null,
      far: `${user}@${address}${pull ? `::${MODULE}/` : ':./'}`,
      ssh: `ssh -F /dev/null -i ${keyDir}/${i} -o IdentitiesOnly=yes -o ForwardAgent=no -o BatchMode=yes -o StrictHostKeyChecking=yes -o ControlMaster=auto -o ControlPath=${socket(i)} -o ControlPersist=120`,
    })),
  };
}
