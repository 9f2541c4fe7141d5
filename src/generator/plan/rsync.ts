// The state copy with rsync, run on one of the two hosts (rsync cannot copy between two remote
// hosts): the new host pulls (sync.mode pull, the default) or the old host pushes.
import type { HostScript } from '../../runbook/steps.js';
import { cmd } from './shell.js';
import { on } from './step.js';
import type { Ctx, HostRef, StateDir } from './types.js';

/** The user part of an ssh target ("root" for "root@h001" or "h001"). */
const sshUser = (h: HostRef): string => (h.ssh.includes('@') ? h.ssh.slice(0, h.ssh.indexOf('@')) : 'root');

const RSYNC_FLAGS = ['-aHAX', '-x', '-S', '--delete', '--partial', '--stats'];
/**
 * How the state host reaches the other one. One ssh connection is shared by every pass: the live
 * passes open it (ControlMaster), the final pass and the dry run inside the downtime window reuse
 * it instead of paying a handshake each; it closes itself 120 s after its last use. The socket
 * lives in the ssh user's ~/.ssh (0700), made by SSH_DIR.
 */
export const HOST_SSH = 'ssh -o BatchMode=yes -o StrictHostKeyChecking=yes -o ControlMaster=auto -o ControlPath=~/.ssh/migen-%C -o ControlPersist=120';
const SSH_DIR = 'mkdir -p -m 0700 ~/.ssh';

/** mkdir -p for state directories; /var/lib/private (DynamicUser state) must stay mode 0700. */
export function mkdirs(paths: readonly string[]): string {
  const priv = paths.some((p) => p.startsWith('/var/lib/private/')) ? 'install -d -m 0700 /var/lib/private && ' : '';
  return `${priv}${cmd`mkdir -p ${paths}`}`;
}

/** The host rsync runs on. */
const rsyncHost = (c: Ctx): string => (c.sync.mode === 'push' ? c.from.name : c.to.name);

/** Source (the old host's directory) and destination (the new host's), seen from the host rsync runs on. */
function ends(c: Ctx, s: StateDir): { src: string; dst: string; remote: HostRef } {
  const pull = c.sync.mode !== 'push';
  const remote = pull ? c.from : c.to;
  const at = `${sshUser(remote)}@${remote.address}:`;
  return pull ? { src: `${at}${s.old}/`, dst: `${s.new}/`, remote } : { src: `${s.old}/`, dst: `${at}${s.new}/`, remote };
}

/** Makes the state directory on the receiving side (the new host). */
const receiverDir = (c: Ctx, e: { remote: HostRef }, s: StateDir): string =>
  (c.sync.mode === 'push' ? cmd`${HOST_SSH.split(' ')} ${`${sshUser(e.remote)}@${e.remote.address}`} mkdir -p ${s.new}` : mkdirs([s.new]));

const numeric = (c: Ctx): string[] => (c.numericIds ? ['--numeric-ids'] : []);

/** One pass over every state directory. `live`: the service runs, so exit 24 (vanished files) is fine. */
export function passScript(c: Ctx, extra: readonly string[], live: boolean): HostScript {
  const lines = [SSH_DIR];
  for (const s of c.state) {
    const e = ends(c, s);
    lines.push(receiverDir(c, e, s));
    const rs = cmd`rsync ${[...RSYNC_FLAGS, ...numeric(c), ...extra]} -e ${HOST_SSH} ${e.src} ${e.dst}`;
    lines.push(live ? `${rs} || { rc=$?; [ "$rc" -eq 24 ] || exit "$rc"; echo 'rsync: some files vanished during this live pass (exit 24); the next pass picks them up'; }` : rs);
  }
  return on(rsyncHost(c), lines.join('\n'));
}

/** A dry run of a live pass that prints the bytes a pass would move now (the measure of a converge step). */
export function measureScript(c: Ctx): HostScript {
  const lines = ['total=0', SSH_DIR];
  for (const s of c.state) {
    const e = ends(c, s);
    lines.push(receiverDir(c, e, s));
    lines.push(`out=$(${cmd`rsync ${[...RSYNC_FLAGS, ...numeric(c), '-n']} -e ${HOST_SSH} ${e.src} ${e.dst}`}) || { rc=$?; [ "$rc" -eq 24 ] || exit "$rc"; }`);
    lines.push(`n=$(printf '%s\\n' "$out" | sed -n 's/^Total transferred file size: \\([0-9,]*\\).*/\\1/p' | tr -d ,)`);
    lines.push('total=$((total + ${n:-0}))');
  }
  lines.push('echo "$total"');
  return on(rsyncHost(c), lines.join('\n'));
}

/**
 * A dry run (-aHAX, as root) that itemizes any difference in content, size, time, owner, group,
 * mode, ACL or xattr, and fails when it lists one: it also proves what an owners-and-modes
 * listing would.
 */
export function diffScript(c: Ctx): HostScript {
  const lines = c.state.map((s) => {
    const e = ends(c, s);
    return cmd`d=$(rsync -n -i ${['-aHAX', '-x', '--delete', ...numeric(c)]} -e ${HOST_SSH} ${e.src} ${e.dst}) && test -z "$d" || { printf '%s\\n' "$d" | head -n 20; exit 1; }`;
  });
  return on(rsyncHost(c), [SSH_DIR, ...lines].join('\n'));
}
