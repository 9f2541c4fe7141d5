import type { MigrationPlan, Step, Script, HostRef } from './types.js';
import { cmd, q } from './shell.js';
import { hotParts } from './hot.js';

type Ctx = Omit<MigrationPlan, 'steps' | 'window'>;

const on = (where: string, script: string): Script => ({ on: where, script });
const base = { undo: null, window: false } as const;

/** The user part of an ssh target ("root" for "root@h001" or "h001"). */
const sshUser = (h: HostRef): string => (h.ssh.includes('@') ? h.ssh.slice(0, h.ssh.indexOf('@')) : 'root');

const RSYNC_FLAGS = ['-aHAX', '-x', '-S', '--delete', '--partial', '--stats'];
/**
 * How the state host reaches the other one for rsync. One ssh connection is shared by every pass:
 * the live passes open it (ControlMaster), the final pass and the dry run inside the downtime
 * window reuse it instead of paying a handshake each; it closes itself 120 s after its last use.
 * The socket lives in the ssh user's ~/.ssh (0700), made by hostSshDir below.
 */
const HOST_SSH = 'ssh -o BatchMode=yes -o StrictHostKeyChecking=yes -o ControlMaster=auto -o ControlPath=~/.ssh/migen-%C -o ControlPersist=120';
const hostSshDir = 'mkdir -p -m 0700 ~/.ssh';

function rsyncArgs(c: Ctx, extra: readonly string[]): string[] {
  return [...RSYNC_FLAGS, ...(c.numericIds ? ['--numeric-ids'] : []), ...extra];
}

/** One copy of every state directory, run on the host that rsync runs on (pull: new, push: old). */
function rsyncScript(c: Ctx, extra: readonly string[], opts: { accept24: boolean; measure?: boolean }): Script {
  const pull = c.sync.mode !== 'push';
  const where = pull ? c.to.name : c.from.name;
  const lines: string[] = [];
  if (opts.measure) lines.push('total=0');
  lines.push(hostSshDir);
  for (const s of c.state) {
    const remote = pull ? `${sshUser(c.from)}@${c.from.address}:${s.path}/` : `${sshUser(c.to)}@${c.to.address}:${s.path}/`;
    const src = pull ? remote : `${s.path}/`;
    const dst = pull ? `${s.path}/` : remote;
    const rs = cmd`rsync ${rsyncArgs(c, extra)} -e ${HOST_SSH} ${src} ${dst}`;
    const mk = pull ? mkdirs([s.path]) : cmd`${HOST_SSH.split(' ')} ${`${sshUser(c.to)}@${c.to.address}`} mkdir -p ${s.path}`;
    lines.push(mk);
    if (opts.measure) {
      lines.push(`out=$(${rs}) || { rc=$?; [ "$rc" -eq 24 ] || exit "$rc"; }`);
      lines.push(`n=$(printf '%s\\n' "$out" | sed -n 's/^Total transferred file size: \\([0-9,]*\\).*/\\1/p' | tr -d ,)`);
      lines.push('total=$((total + ${n:-0}))');
    } else if (opts.accept24) {
      lines.push(`${rs} || { rc=$?; [ "$rc" -eq 24 ] || exit "$rc"; echo 'rsync: some files vanished during this live pass (exit 24); the next pass picks them up'; }`);
    } else lines.push(rs);
  }
  if (opts.measure) lines.push('echo "$total"');
  return on(where, lines.join('\n'));
}

/** Listing of owners and modes of every file, for comparing both sides. */
function ownersScript(c: Ctx, host: string): Script {
  const fmt = c.numericIds ? '%P %U:%G %m\\n' : '%P %u:%g %m\\n';
  return on(host, `{\n${c.state.map((s) => cmd`  (cd ${s.path} && find . -printf ${fmt} | LC_ALL=C sort)`).join('\n')}\n} | sha256sum`);
}

/** mkdir -p for state directories; /var/lib/private (DynamicUser state) must stay mode 0700. */
function mkdirs(paths: readonly string[]): string {
  const priv = paths.some((p) => p.startsWith('/var/lib/private/')) ? 'install -d -m 0700 /var/lib/private && ' : '';
  return `${priv}${cmd`mkdir -p ${paths}`}`;
}

function deployScript(c: Ctx, h: HostRef, action: 'switch' | 'boot'): string {
  switch (h.deploy) {
    case 'colmena': return cmd`colmena apply --on ${h.name} ${action}`;
    case 'deploy-rs': return cmd`deploy --skip-checks ${`${c.flake}#${h.name}`}`;
    default: return cmd`nixos-rebuild ${action} --flake ${`${c.flake}#${h.name}`} --target-host ${h.ssh}`;
  }
}

const SYSTEM = '/nix/var/nix/profiles/system';

/**
 * Activates a configuration of the proxy and returns once nginx answers every new connection with
 * it. switch-to-configuration returns when nginx has been told (a reload is `kill -HUP`, a restart
 * a start job): after a reload the master starts new workers and lets the old ones accept for
 * 100 ms more before it asks them to shut down (ngx_process_cycle.c, ngx_msleep(100)), and a
 * restarted nginx may not listen yet. So this waits until no worker of the previous configuration
 * still accepts (gone, or titled "worker process is shutting down", which closed its listening
 * sockets) and a worker of the new one runs. An activation that changes nothing (a repeated step)
 * waits for nothing.
 */
export function activateProxy(top: string): string {
  return [
    "before=$(pgrep -d ' ' -f '^nginx: worker process *$' || true)",
    'was=$(readlink -f /run/current-system)',
    cmd`${`${top}/bin/switch-to-configuration`} test`,
    cmd`if [ "$was" != "$(readlink -f ${top})" ]; then`,
    '  for i in $(seq 1 200); do',
    `    now=" $(pgrep -d ' ' -f '^nginx: worker process *$' || true) "`,
    '    stale=0; for p in $before; do case $now in *" $p "*) stale=1 ;; esac; done',
    '    if [ "$stale" = 0 ] && [ "$now" != "  " ]; then break; fi',
    '    if [ "$i" = 200 ]; then echo "nginx still answers with the previous configuration (or not at all) 10 s after the activation" >&2; exit 1; fi',
    '    sleep 0.05',
    '  done',
    'fi',
  ].join('\n');
}

/** Database directories move by replication in a hot migration, never by rsync. */
export function isDatabaseDir(p: string): boolean {
  return /(^|\/)(postgres|postgresql|pgdata)(\/|$)/.test(p) || p.startsWith('/var/lib/postgresql');
}

export function buildSteps(full: Ctx): Step[] {
  const hot = full.strategy === 'hot' && full.database ? hotParts(full, full.database.ports, full.database.secretFiles) : null;
  // In a hot migration rsync copies only the files beside the database.
  const c: Ctx = hot ? { ...full, state: full.state.filter((s) => !isDatabaseDir(s.path)) } : full;
  const copyFiles = c.state.length > 0;
  const steps: Step[] = [];
  const { from, to, proxy } = c;
  const add = (s: Step): void => { steps.push(s); };
  const hosts = [from, to, ...(proxy && proxy.name !== from.name && proxy.name !== to.name ? [proxy] : [])];

  // preflight
  for (const h of hosts) {
    add({ ...base, id: `reach-${h.name}`, phase: 'preflight', kind: 'check', title: `${h.name} answers over ssh (${h.ssh})`, run: on(h.name, 'true'), failure: `cannot reach ${h.name} over ssh as ${h.ssh}` });
  }
  const paths = full.state.map((s) => s.path);
  add({
    ...base, id: 'disk', phase: 'preflight', kind: 'compare', mode: 'fits', title: `free space on ${to.name} exceeds the state's size on ${from.name} (+10%)`,
    left: on(from.name, cmd`du -sb --one-file-system ${paths} | awk '{ s += $1 } END { print s + 0 }'`),
    right: on(to.name, `${mkdirs(paths)} && ${cmd`df -B1 --output=avail ${paths[0] ?? '/var/lib'}`} | tail -n 1`),
    failure: `not enough free disk on ${to.name} for the state of ${from.name}`,
  });
  if (copyFiles) {
    // A symlinked state directory would make rsync copy whatever it points at.
    add({ ...base, id: 'state-real-dirs', phase: 'preflight', kind: 'check', title: `every state directory on ${from.name} is a real directory, not a symlink`, run: on(from.name, c.state.map((s) => cmd`if [ ! -d ${s.path} ] || [ -L ${s.path} ]; then echo ${`${s.path} is missing or a symlink`} >&2; exit 1; fi`).join('\n')), failure: `a state path on ${from.name} is missing or a symlink: name the real directory in state:` });
    // Never overwrite data on the new host that this migration did not put there.
    const marker = `/var/lib/migen/${c.name}.target`;
    add({
      ...base, id: 'target-empty', phase: 'preflight', kind: 'check', title: `the state directories on ${to.name} are empty, or hold only what an earlier run of ${c.name} copied`,
      run: on(to.name, [cmd`if test -e ${marker}; then exit 0; fi`, ...c.state.map((s) => cmd`if test -d ${s.path} && test -n "$(ls -A ${s.path})"; then echo ${`${s.path} on ${to.name} already holds data that migen did not copy`} >&2; exit 1; fi`), cmd`mkdir -p /var/lib/migen && printf '%s\\n' ${c.state.map((s) => s.path)} > ${marker}`].join('\n')),
      failure: `refusing to overwrite data on ${to.name}: move it away or pick another target`,
    });
  }
  for (const s of c.secrets) {
    const file = s.kind === 'agenix' ? `/run/agenix/${s.name}` : `/run/secrets/${s.name}`;
    add({ ...base, id: `secret-${s.name}`, phase: 'preflight', kind: 'check', title: `secret ${s.name} is present on ${to.name}`, run: on(to.name, cmd`test -s ${file}`), failure: `${file} is missing on ${to.name}: deploy it (rekey for ${to.name}'s host key) before migrating` });
  }
  add({ ...base, id: 'new-stopped', phase: 'preflight', kind: 'check', title: `${c.unit} is not running on ${to.name}`, run: on(to.name, cmd`! systemctl is-active --quiet ${c.unit}`), failure: `${c.unit} already runs on ${to.name}: two writers must never run at once` });
  add({ ...base, id: 'old-running', phase: 'preflight', kind: 'check', title: `${c.unit} runs on ${from.name}`, run: on(from.name, cmd`systemctl is-active --quiet ${c.unit}`), failure: `${c.unit} is not running on ${from.name}: nothing to migrate, or it was already moved` });
  if (hot) {
    for (const [h, file] of [[to.name, full.database!.secretFiles.new], [from.name, full.database!.secretFiles.old]] as const) {
      add({ ...base, id: `secret-replication-${h}`, phase: 'preflight', kind: 'check', title: `replication password ${full.database!.passwordSecret} is present on ${h}`, run: on(h, cmd`test -s ${file}`), failure: `${file} is missing on ${h}: declare the secret ${full.database!.passwordSecret} (owner postgres) and deploy` });
    }
    hot.preflight.forEach(add);
  }

  // prepare
  if (c.backup.kind === 'restic') {
    add({ ...base, id: 'backup', phase: 'prepare', kind: 'command', title: `restic backup of the state on ${from.name}, tag ${c.backup.tag}`, run: on(from.name, `${cmd`restic -r ${c.backup.repository}`}${c.backup.passwordFile ? cmd` --password-file ${c.backup.passwordFile}` : ''} ${cmd`backup --tag ${c.backup.tag} ${paths}`}`) });
  } else if (c.backup.kind === 'job') {
    add({ ...base, id: 'backup', phase: 'prepare', kind: 'command', title: `run the host's backup job ${c.backup.job} on ${from.name}`, run: on(from.name, cmd`systemctl start --wait ${`restic-backups-${c.backup.job}.service`}`) });
  }
  add({ ...base, id: `deploy-${to.name}`, phase: 'prepare', kind: 'command', title: `deploy ${to.name} with ${c.service} installed but not started`, run: on('operator', deployScript(c, to, 'switch')) });
  if (proxy) add({ ...base, id: `deploy-${proxy.name}`, phase: 'prepare', kind: 'command', title: `deploy ${proxy.name}: routing unchanged, cutover routing ready as specialisation ${c.specialisation}`, run: on('operator', deployScript(c, proxy, 'switch')) });
  if (hot) {
    add({ ...base, id: `deploy-${from.name}`, phase: 'prepare', kind: 'command', title: `deploy ${from.name}: replication settings (wal_level, slots, pg_hba entry for ${to.name}, mesh listener, role)`, run: on('operator', deployScript(c, from, 'switch')) });
    hot.prepare.forEach(add);
  }

  // What the deploys must have produced, checked before anything stops: a deploy that went to the
  // wrong host, failed half-way or was skipped shows up here, not as a failing step in the window.
  add({ ...base, id: `deployed-${to.name}`, phase: 'prepare', kind: 'check', title: `${to.name} has ${c.unit} installed (and, checked before, not running)`, run: on(to.name, cmd`test "$(systemctl show -p LoadState --value ${c.unit})" = loaded`), failure: `${c.unit} is not installed on ${to.name}: its deploy did not take effect` });
  if (proxy) add({ ...base, id: `deployed-${proxy.name}`, phase: 'prepare', kind: 'check', title: `${proxy.name} has the cutover routing ready (specialisation ${c.specialisation})`, run: on(proxy.name, cmd`test -x ${`${SYSTEM}/specialisation/${c.specialisation}/bin/switch-to-configuration`}`), failure: `${proxy.name}'s system has no specialisation ${c.specialisation}: its deploy did not take effect` });

  // sync
  if (hot) hot.sync.forEach(add);
  if (c.strategy !== 'cold' && c.sync.mode !== 'relay' && copyFiles) {
    add({
      ...base, id: 'sync-live', phase: 'sync', kind: 'converge', title: `copy the state to ${to.name} while ${c.unit} runs, until a final pass would move less than ${c.sync.thresholdBytes} bytes`,
      run: rsyncScript(c, ['--info=progress2'], { accept24: true }),
      measure: rsyncScript(c, ['-n'], { accept24: true, measure: true }),
      acceptExit: [24], thresholdBytes: c.sync.thresholdBytes, maxPasses: c.sync.maxPasses, bandwidthBytesPerSecond: c.sync.bandwidthBytesPerSecond,
    });
  }
  // The live passes (and the backup) leave up to gigabytes of dirty page cache that the kernel
  // writes back some 30 s later: inside the window, where the final pass, the service's fsyncs at
  // start and every command would queue behind it. Both hosts flush before the stop instead.
  if (copyFiles && c.strategy !== 'cold') {
    for (const h of [to.name, from.name]) {
      add({ ...base, id: `flush-${h}`, phase: 'sync', kind: 'command', concurrent: 'flush', title: `${h} writes its dirty page cache to disk before the stop (sync)`, run: on(h, 'sync') });
    }
  }

  // cutover
  const m = c.maintenance;
  if (m) add({ ...base, id: 'maintenance-on', phase: 'cutover', kind: 'command', title: `maintenance mode on ${from.name}`, run: on(from.name, m.on), undo: on(from.name, m.off) });
  if (hot) {
    add({ ...base, id: 'stop-old', phase: 'cutover', kind: 'command', window: true, stopsService: true, title: `stop ${hot.app.unitTitle} on ${from.name} (PostgreSQL keeps running, read-only from the next step)`, run: on(from.name, hot.app.stop(from.name)), undo: on(from.name, hot.app.start(from.name)) });
    hot.freeze.forEach(add);
  } else {
    add({ ...base, id: 'stop-old', phase: 'cutover', kind: 'command', window: true, stopsService: true, title: `stop ${c.unit} on ${from.name}`, run: on(from.name, cmd`systemctl stop ${c.unit}`), undo: on(from.name, cmd`systemctl start ${c.unit}`) });
  }
  if (!copyFiles) {
    // Nothing but the database: replication moved it.
  } else if (c.sync.mode === 'relay') {
    const lines = c.state.map((s) => `migen_ssh ${q(from.name)} ${q(cmd`tar -C ${s.path} --numeric-owner --xattrs --acls -cf - .`)} | migen_ssh ${q(to.name)} ${q(cmd`mkdir -p ${s.path} && find ${s.path} -mindepth 1 -delete && tar -C ${s.path} --numeric-owner --xattrs --acls -xpf -`)}`);
    add({ ...base, id: 'final-pass', phase: 'cutover', kind: 'command', window: true, title: `copy the state from ${from.name} to ${to.name} through the operator`, run: on('operator', lines.join('\n')) });
  } else {
    add({ ...base, id: 'final-pass', phase: 'cutover', kind: 'command', window: true, title: `final copy of the state to ${to.name} (service stopped)`, run: rsyncScript(c, [], { accept24: false }) });
    // The dry run (-aHAX, as root) itemizes any difference in content, size, time, owner, group,
    // mode, ACL or xattr: it also proves what a separate owners-and-modes listing would.
    add({ ...base, id: 'copy-identical', phase: 'cutover', kind: 'check', window: true, concurrent: 'copy-checks', title: `a dry run lists no difference (content, owners, modes, ACLs, xattrs) between ${from.name} and ${to.name}`, run: diffScript(c), failure: 'the copies differ after the final pass' });
  }
  if (copyFiles && c.sync.mode === 'relay') add({ ...base, id: 'owners', phase: 'cutover', kind: 'compare', mode: 'equal', window: true, concurrent: 'copy-checks', title: `owners and modes on ${to.name} equal ${from.name}'s`, left: ownersScript(c, from.name), right: ownersScript(c, to.name), failure: `ownership differs between ${from.name} and ${to.name}` });
  for (const f of c.criticalFiles) {
    add({ ...base, id: `critical-${f.replace(/[^A-Za-z0-9]+/g, '-')}`, phase: 'cutover', kind: 'compare', mode: 'equal', window: true, concurrent: 'copy-checks', title: `${f} is identical on both hosts`, left: on(from.name, cmd`sha256sum < ${f}`), right: on(to.name, cmd`sha256sum < ${f}`), failure: `${f} differs or is missing on ${to.name}` });
  }
  for (const db of c.sqlite) {
    add({ ...base, id: `sqlite-${db.replace(/[^A-Za-z0-9]+/g, '-')}`, phase: 'cutover', kind: 'check', window: true, title: `SQLite ${db} passes integrity_check on ${to.name}`, run: on(to.name, cmd`test "$(sqlite3 -readonly ${db} 'PRAGMA integrity_check;')" = ok`), failure: `${db} is damaged on ${to.name}` });
  }

  // With a proxy, the new host starts the service while the proxy switches its route: nothing is
  // served during the window anyway (the old service is stopped), so switching early only changes
  // which error a client sees, and the two together take the longer of them instead of the sum.
  // The probe after both gates the window's end; when it fails, both are undone (undoOnFailure
  // covers a half-done start or switch) and the old host starts again.
  const first = c.routes.moved[0];
  const together = proxy && first ? { concurrent: 'start-and-route' } : {};
  if (hot) add({ ...base, ...together, id: 'start-new', phase: 'cutover', kind: 'command', window: true, undoOnFailure: true, title: `start ${hot.app.unitTitle} on ${to.name}: from here it takes writes`, run: on(to.name, hot.app.start(to.name)), undo: on(to.name, hot.app.stop(to.name)) });
  else add({ ...base, ...together, id: 'start-new', phase: 'cutover', kind: 'command', window: true, undoOnFailure: true, title: `start ${c.unit} on ${to.name}`, run: on(to.name, cmd`systemctl start ${c.unit}`), undo: on(to.name, cmd`systemctl stop ${c.unit}`) });
  if (proxy && first) {
    add({ ...base, ...together, id: 'route-new', phase: 'cutover', kind: 'command', window: true, undoOnFailure: true, title: `${proxy.name} routes ${[...new Set(c.routes.moved.map((r) => r.domain))].join(', ')} to ${to.name}`, run: on(proxy.name, activateProxy(`${SYSTEM}/specialisation/${c.specialisation}`)), undo: on(proxy.name, activateProxy(SYSTEM)) });
    add({ ...base, id: 'backend-healthy', phase: 'cutover', kind: 'probe', window: true, endsWindow: false, intervalSeconds: 0.1, deadlineSeconds: 60, title: `${proxy.name} reaches the new backend ${first.to}`, run: on(proxy.name, cmd`code=$(curl -sS -o /dev/null -w '%{http_code}' --max-time 5 -H ${`Host: ${first.domain}`} ${first.to}) && [ "$code" -ge 200 ] && [ "$code" -lt 500 ]`) });
  } else {
    add({ ...base, id: 'unit-active', phase: 'cutover', kind: 'probe', window: true, endsWindow: false, intervalSeconds: 0.25, deadlineSeconds: 60, title: `${c.unit} stays active on ${to.name}`, run: on(to.name, cmd`systemctl is-active --quiet ${c.unit}`) });
  }

  // verify
  c.verify.forEach((v, i) => {
    if (v.http) {
      const u = new URL(v.http);
      const port = u.port || (u.protocol === 'https:' ? '443' : '80');
      const resolve = proxy && c.routes.moved.some((r) => r.domain === u.hostname) ? ['--resolve', `${u.hostname}:${port}:${proxy.address}`] : [];
      add({ ...base, id: `verify-${i + 1}`, phase: 'verify', kind: 'probe', window: true, endsWindow: true, intervalSeconds: 0.2, deadlineSeconds: c.verifyDeadlineSeconds, title: `${v.http} answers ${v.status ?? 200}${resolve.length ? ` through ${proxy!.name}` : ''}`, run: on('operator', cmd`test "$(curl -sS -o /dev/null -w '%{http_code}' --max-time 5 ${resolve} ${v.http})" = ${v.status ?? 200}`) });
    } else if (v.command) {
      const where = v.on === 'new' ? to.name : v.on === 'old' ? from.name : v.on === 'proxy' && proxy ? proxy.name : 'operator';
      add({ ...base, id: `verify-${i + 1}`, phase: 'verify', kind: 'probe', window: true, endsWindow: true, intervalSeconds: 0.2, deadlineSeconds: c.verifyDeadlineSeconds, title: `check on ${where}: ${v.command}`, run: on(where, v.command) });
    }
  });
  if (hot) hot.cleanup.forEach(add);
  if (m) add({ ...base, id: 'maintenance-off', phase: 'verify', kind: 'command', title: `maintenance mode off on ${to.name}`, run: on(to.name, m.off) });

  // finalize
  add({ ...base, id: 'finalize', phase: 'finalize', kind: 'note', title: 'make the move permanent', text: `Run \`migen finalize ${c.name}\`, review and merge the diff, and deploy ${[from.name, to.name, ...(proxy ? [proxy.name] : [])].join(', ')}: ${from.name} then has ${c.unit} disabled so no rebuild or reboot starts a second writer${proxy ? `, and ${proxy.name}'s base configuration routes to ${to.name}` : ''}.` });
  add({ ...base, id: 'grace', phase: 'finalize', kind: 'note', title: `keep ${from.name}'s state for ${c.graceDays} days`, text: `After ${c.graceDays} days without a rollback, remove ${paths.join(', ')} on ${from.name}. Until then it is the rollback source.` });
  return steps;
}

function diffScript(c: Ctx): Script {
  const pull = c.sync.mode !== 'push';
  const where = pull ? c.to.name : c.from.name;
  const lines = c.state.map((s) => {
    const remote = pull ? `${sshUser(c.from)}@${c.from.address}:${s.path}/` : `${sshUser(c.to)}@${c.to.address}:${s.path}/`;
    const [src, dst] = pull ? [remote, `${s.path}/`] : [`${s.path}/`, remote];
    return cmd`d=$(rsync -n -i ${['-aHAX', '-x', '--delete', ...(c.numericIds ? ['--numeric-ids'] : [])]} -e ${HOST_SSH} ${src} ${dst}) && test -z "$d" || { printf '%s\\n' "$d" | head -n 20; exit 1; }`;
  });
  return on(where, [hostSshDir, ...lines].join('\n'));
}
