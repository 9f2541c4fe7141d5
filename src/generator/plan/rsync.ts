// The state copy with rsync, run on one of the two hosts (rsync cannot copy between two remote
// hosts): the new host pulls (sync.mode pull, the default) or the old host pushes. It reaches the
// other host only with this migration's copy keys (access.ts), one per state directory, each
// confined to its directory by its forced command: the remote path is that directory's root
// (`host::state/` from rsync's daemon, `host:./` through rrsync).
import type { HostScript } from '../../runbook/steps.js';
import type { CopyAccess, CopyKey } from './access.js';
import { cmd } from './shell.js';
import { on } from './step.js';
import type { Ctx } from './types.js';

// --modify-window=-1: times compare to the nanosecond. rsync's default quick check compares whole
// seconds, so a file rewritten at the same size within the second of the live pass that copied it
// (a SQLite -wal reused after a checkpoint, a database that did not grow) looked unchanged to the
// final pass and kept its stale content on the new host (seen in test/lab/sides.test.ts).
const TIMES = '--modify-window=-1';
const RSYNC_FLAGS = ['-aHAX', '-x', '-S', '--delete', '--partial', '--stats', TIMES];
/** The keys' master connections live in the ssh user's ~/.ssh (0700), made by SSH_DIR. */
const SSH_DIR = 'mkdir -p -m 0700 ~/.ssh';

/** mkdir -p for state directories; /var/lib/private (DynamicUser state) must stay mode 0700. */
export function mkdirs(paths: readonly string[]): string {
  const priv = paths.some((p) => p.startsWith('/var/lib/private/')) ? 'install -d -m 0700 /var/lib/private && ' : '';
  return `${priv}${cmd`mkdir -p ${paths}`}`;
}

function access(c: Ctx): CopyAccess {
  if (!c.copyAccess) throw new Error(`internal: ${c.name} copies host to host without copy access`);
  return c.copyAccess;
}

/** Source and destination of one state directory, seen from the client (the host rsync runs on). */
function ends(a: CopyAccess, k: CopyKey): { src: string; dst: string } {
  return a.mode === 'ro' ? { src: k.far, dst: `${k.local}/` } : { src: `${k.local}/`, dst: k.far };
}

/** In a pull the client makes the directories it receives into; in a push the access step made them on the server. */
const receiver = (a: CopyAccess, k: CopyKey): string[] => (a.mode === 'ro' ? [mkdirs([k.local])] : []);

const numeric = (c: Ctx): string[] => (c.numericIds ? ['--numeric-ids'] : []);

/** One pass over every state directory. `live`: the service runs, so exit 24 (vanished files) is fine. */
export function passScript(c: Ctx, extra: readonly string[], live: boolean): HostScript {
  const a = access(c);
  const lines = [SSH_DIR];
  for (const k of a.keys) {
    const e = ends(a, k);
    lines.push(...receiver(a, k));
    const rs = cmd`rsync ${[...RSYNC_FLAGS, ...numeric(c), ...extra]} -e ${k.ssh} ${e.src} ${e.dst}`;
    lines.push(live ? `${rs} || { rc=$?; [ "$rc" -eq 24 ] || exit "$rc"; echo 'rsync: some files vanished during this live pass (exit 24); the next pass picks them up'; }` : rs);
  }
  return on(a.client, lines.join('\n'));
}

/** A dry run of a live pass that prints the bytes a pass would move now (the measure of a converge step). */
export function measureScript(c: Ctx): HostScript {
  const a = access(c);
  const lines = ['total=0', SSH_DIR];
  for (const k of a.keys) {
    const e = ends(a, k);
    lines.push(...receiver(a, k));
    lines.push(`out=$(${cmd`rsync ${[...RSYNC_FLAGS, ...numeric(c), '-n']} -e ${k.ssh} ${e.src} ${e.dst}`}) || { rc=$?; [ "$rc" -eq 24 ] || exit "$rc"; }`);
    lines.push(`n=$(printf '%s\\n' "$out" | sed -n 's/^Total transferred file size: \\([0-9,]*\\).*/\\1/p' | tr -d ,)`);
    lines.push('total=$((total + ${n:-0}))');
  }
  lines.push('echo "$total"');
  return on(a.client, lines.join('\n'));
}

/**
 * A dry run (-aHAX, as root) that itemizes any difference in content, size, time, owner, group,
 * mode, ACL or xattr, and fails when it lists one: it also proves what an owners-and-modes
 * listing would. -c: content by checksum (both hosts read every file), not by size and time,
 * which is what the final pass itself trusted (../shared/STATE-COPY.md: `rsync -n -c`).
 */
export function diffScript(c: Ctx): HostScript {
  const a = access(c);
  const lines = a.keys.map((k) => {
    const e = ends(a, k);
    return cmd`d=$(rsync -n -i -c ${['-aHAX', '-x', '--delete', TIMES, ...numeric(c)]} -e ${k.ssh} ${e.src} ${e.dst}) && test -z "$d" || { printf '%s\\n' "$d" | head -n 20; exit 1; }`;
  });
  return on(a.client, [SSH_DIR, ...lines].join('\n'));
}
