// Cutover, the downtime window: stop on the old host, the final copy and its checks, then the
// start on the new host while the proxy switches, and the new backend checked through the proxy.
import { dnsSwitch } from '../dns.js';
import { handoffSteps } from '../handoffs.js';
import { pgApp, pgFreeze, pgTakesWrites } from '../pg/index.js';
import { fleetVerifies } from './verify.js';
import { stamp } from '../fence-steps.js';
import { armGuard, disarmGuard, guardOf, type GuardRole } from '../guard.js';
import { switchRoutes } from '../proxy.js';
import { diffScript, passScript } from '../rsync.js';
import { cmd } from '../shell.js';
import { on, pipe, stepsOf } from '../step.js';
import type { Ctx, Step } from '../types.js';

const { command, check, compare, probe } = stepsOf('cutover');
// Every step of the window runs on the fleet (the cutover coordinator on the new host).
const W = { window: true, fleet: true } as const;
/** A file's path as part of a step id. */
const slug = (p: string): string => p.replace(/[^A-Za-z0-9]+/g, '-');

/** `c` holds the state rsync copies (in a hot migration, the files beside the database). */
export function cutover(c: Ctx, hot: boolean): Step[] {
  const { from, to, proxy, fence } = c;
  const steps: Step[] = [];
  const m = c.maintenance;
  if (m) steps.push(command('maintenance-on', `maintenance mode on ${from.name}`, on(from.name, m.on), { undo: on(from.name, m.off) }));
  const app = hot ? pgApp(c) : { unit: c.unit, stop: cmd`systemctl stop ${c.unit}`, start: cmd`systemctl start ${c.unit}` };
  const win: Step[] = [];
  // The fence first: from here no activation, reboot or dependency starts the old service again.
  const restart = `${cmd`rm -f ${fence.moved}`}\n${stamp(fence, fence.rolledBack)}\n${app.start}`;
  win.push(command('stop-old', `fence and stop ${app.unit} on ${from.name}${hot ? ' (PostgreSQL keeps running, read-only from the next step)' : ''}`, on(from.name, `${stamp(fence, fence.moved)}\n${app.stop}`),
    { ...W, stopsService: true, undo: on(from.name, restart) }));
  if (hot) win.push(...pgFreeze(c));
  win.push(...finalCopy(c));
  for (const { new: db } of c.sqlite) {
    win.push(check(`sqlite-${slug(db)}`, `SQLite ${db} passes integrity_check on ${to.name}`, on(to.name, cmd`test "$(sqlite3 -readonly ${db} 'PRAGMA integrity_check;')" = ok`), `${db} is damaged on ${to.name}`, W));
  }
  // With a proxy, the new host starts the service while the proxy switches its route: nothing is
  // served during the window anyway (the old service is stopped), so switching early only changes
  // which error a client sees, and the two together take the longer of them instead of the sum.
  // The probe after both gates the window's end; when it fails, both are undone (undoOnFailure
  // covers a half-done start or switch) and the old host starts again.
  // The DNS records switch at the same time, for the same reason.
  const first = c.routes.moved[0];
  const together = { ...W, undoOnFailure: true, ...((proxy && first) || c.dns ? { concurrent: 'start-and-route' } : {}) };
  // The fence lifted: from here the new host's unit may start, also after a reboot.
  const unstart = `${app.stop}\n${cmd`rm -f ${fence.ready}`}`;
  win.push(command('start-new', `lift the fence and start ${app.unit} on ${to.name}${hot ? ': from here it takes writes' : ''}`, on(to.name, `${stamp(fence, fence.ready)}\n${hot ? `${pgTakesWrites(c)}\n` : ''}${app.start}`), { ...together, undo: on(to.name, unstart) }));
  win.push(...dnsSwitch(c, { ...W, undoOnFailure: true, concurrent: 'start-and-route' }));
  if (proxy && first) {
    const domains = [...new Set(c.routes.moved.map((r) => r.domain))].join(', ');
    win.push(
      command('route-new', `${proxy.name} routes ${domains} to ${to.name} (route files, nginx reloaded)`, on(proxy.name, switchRoutes(c.routeFiles, 'new')),
        { ...together, undo: on(proxy.name, switchRoutes(c.routeFiles, 'old')) }),
      probe('backend-healthy', `${proxy.name} reaches the new backend ${first.backend}`,
        on(proxy.name, cmd`code=$(curl -sS -o /dev/null -w '%{http_code}' --max-time 5 -H ${`Host: ${first.domain}`} ${first.backend}) && [ "$code" -ge 200 ] && [ "$code" -lt 500 ]`),
        { intervalSeconds: 0.1, deadlineSeconds: 60, ...lastCheck(c) }, W),
    );
  } else {
    win.push(probe('unit-active', `${c.unit} stays active on ${to.name}`, on(to.name, cmd`systemctl is-active --quiet ${c.unit}`), { intervalSeconds: 0.25, deadlineSeconds: 60, ...lastCheck(c) }, W));
  }
  // What people do once the new host serves, inside the window (the last ends it when nothing verifies on the fleet).
  const people = handoffSteps(c, 'after-start', 'cutover', W);
  if (people.length && !fleetVerifies(c)) people[people.length - 1] = Object.freeze({ ...people[people.length - 1]!, endsWindow: true }) as Step;
  win.push(...people);
  return [...steps, ...guards(c, [...steps, ...win], { restart, unstart }), ...win];
}

/**
 * The guards (guard.ts), armed at once on every host the window changes, just before it starts
 * (arming is not downtime, and a revert before the change is a no-op): the old host's runs what a
 * rollback would run there (the undos of the cutover's steps on that host, newest first: the route
 * when it is also the proxy, the thaw of a frozen database, the maintenance mode), then the
 * restart; the new host's stops its copy; the proxy's routes back. Their undos (disarming) come
 * last in a rollback, after the reverts.
 */
function guards(c: Ctx, steps: readonly Step[], s: { restart: string; unstart: string }): Step[] {
  const g = { fleet: true, concurrent: 'guards' } as const;
  const arm = (role: GuardRole, host: string, what: string, revert: string): Step => {
    const guard = guardOf(c.name, role);
    return command(`guard-${role}`, `arm the guard on ${host}: ${what} by itself unless the coordinator confirms the new host`, on(host, armGuard(guard, what, revert)),
      { ...g, undo: on(host, disarmGuard(guard)), heartbeat: { on: host, file: guard.heartbeat } });
  };
  const undosOld = steps.flatMap((x) => (x.id !== 'stop-old' && x.undo && 'on' in x.undo && x.undo.on === c.from.name ? [x.undo.script] : [])).reverse();
  const out = [
    arm('old', c.from.name, `restarting ${c.name} on ${c.from.name}`, [...undosOld, s.restart].join('\n')),
    arm('new', c.to.name, `stopping ${c.name} on ${c.to.name}`, s.unstart),
  ];
  if (c.proxy && c.routeFiles.length) out.push(arm('routes', c.proxy.name, `routing ${c.name} back to ${c.from.name}`, switchRoutes(c.routeFiles, 'old')));
  return out;
}

/** Without a verification the fleet can run, this check ends the window. */
const lastCheck = (c: Ctx): { endsWindow?: true } => (fleetVerifies(c) || c.handoffs.some((h) => h.when === 'after-start') ? {} : { endsWindow: true });

/** The copy after the stop and the checks that it is complete, run at once (a SQLite check, which may create -shm, comes after). */
function finalCopy(c: Ctx): Step[] {
  if (c.state.length === 0) return []; // nothing but the database: replication moved it
  const { from, to } = c;
  const steps: Step[] = [];
  const checks = { ...W, concurrent: 'copy-checks' };
  if (c.sync.mode === 'relay') {
    // Through the operator (the hosts cannot reach each other): tar out of the old host into the new one.
    const rel = c.state.map((s) => s.old.replace(/^\//, ''));
    // Members are named by the old host's paths: a directory the new host names otherwise is renamed on extraction (not the targets of symlinks).
    const renames = c.state.filter((s) => s.old !== s.new).map((s) => ['--transform', `s,^${s.old.slice(1).replace(/[.+]/g, '\\$&')}\\(/\\|$\\),${s.new.slice(1)}\\1,S`]).flat();
    steps.push(command('final-pass', `copy the state from ${from.name} to ${to.name} through the operator`, pipe(
      on(from.name, cmd`tar -C / --numeric-owner --xattrs --acls -cf - ${rel}`),
      on(to.name, `${c.state.map((s) => cmd`mkdir -p ${s.new} && find ${s.new} -mindepth 1 -delete`).join('\n')}\n${cmd`tar -C / --numeric-owner --xattrs --acls ${renames} -xpf -`}`),
    ), W));
    steps.push(compare('owners', `owners and modes on ${to.name} equal ${from.name}'s`, { mode: 'equal', left: owners(c, from.name, 'old'), right: owners(c, to.name, 'new'), failure: `ownership differs between ${from.name} and ${to.name}` }, checks));
  } else {
    steps.push(command('final-pass', `final copy of the state to ${to.name} (service stopped)`, passScript(c, [], false), { ...W, hostToHost: true, progress: true }));
    steps.push(check('copy-identical', `a dry run lists no difference (content, owners, modes, ACLs, xattrs) between ${from.name} and ${to.name}`, diffScript(c), 'the copies differ after the final pass', { ...checks, hostToHost: true }));
  }
  for (const f of c.criticalFiles) {
    const same = f.old === f.new;
    steps.push(compare(`critical-${slug(f.new)}`, same ? `${f.new} is identical on both hosts` : `${f.new} on ${to.name} is identical to ${f.old} on ${from.name}`,
      { mode: 'equal', left: on(from.name, cmd`sha256sum < ${f.old}`), right: on(to.name, cmd`sha256sum < ${f.new}`), failure: `${f.new} differs or is missing on ${to.name}` }, checks));
  }
  return steps;
}

/**
 * Owners and modes of every file, for comparing both sides after a relay copy: by number, as
 * `tar --numeric-owner` copied them (the same uid has another name, or none, on the other host).
 */
function owners(c: Ctx, host: string, side: 'old' | 'new') {
  const fmt = '%P %U:%G %m\\n';
  return on(host, `{\n${c.state.map((s) => cmd`  (cd ${s[side]} && find . -printf ${fmt} | LC_ALL=C sort)`).join('\n')}\n} | sha256sum`);
}
