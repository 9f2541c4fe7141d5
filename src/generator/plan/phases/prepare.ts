// Prepare: a backup, then the deploys that make cutover and rollback quick (the new host with the
// service installed and fenced, the proxy with its moved routes read from route files, the old
// host with the fence that keeps the service stopped once the runbook stops it), checked to have
// taken effect before anything stops.
import { accessPrepare } from '../access-steps.js';
import { backupScript } from '../backup.js';
import { deployScript } from '../deploy.js';
import { dnsLower } from '../dns.js';
import { handoffSteps } from '../handoffs.js';
import { fencedCheck, runtimeFence, stamp, where } from '../fence-steps.js';
import { pgDumpall, pgPrepare } from '../pg/index.js';
import { vhostsCheck } from '../proxy.js';
import { cmd } from '../shell.js';
import { on, stepsOf } from '../step.js';
import type { Ctx, HostRef, Step } from '../types.js';

const { command, check } = stepsOf('prepare');

export function prepare(c: Ctx, hot: { app: string } | null): Step[] {
  const { from, to, proxy, backup, fence } = c;
  const paths = c.state.map((s) => s.old);
  // The TTL first: the wait for it to take effect runs while the rest prepares and copies.
  const steps: Step[] = [...dnsLower(c), ...handoffSteps(c, 'prepare', 'prepare')];
  if (backup.kind === 'restic') {
    const copies = [...backup.sqlite.map((s) => `${s.database.slice(s.database.lastIndexOf('/') + 1)} from a consistent copy (VACUUM INTO)`), ...(backup.pgDump ? ['PostgreSQL from pg_dumpall'] : [])];
    steps.push(command('backup', `restic backup of the state on ${from.name}, tag ${backup.tag}${copies.length ? `: ${copies.join(', ')}, not the live files` : ''}`,
      on(from.name, backupScript(backup, paths))));
  } else if (backup.kind === 'job') {
    steps.push(command('backup', `run the host's backup job ${backup.job} on ${from.name}`, on(from.name, cmd`systemctl start --wait ${`restic-backups-${backup.job}.service`}`)));
  }
  // The safety net of a hot migration, before the first change on either host.
  if (hot) steps.push(pgDumpall(c));
  if (!fence.units.new.container) {
    steps.push(command('fence-new', `${to.name} cannot start ${fence.units.new.unit} before its copy passed the cutover checks, whatever configuration the deploy brings (a runtime drop-in, until a reboot)`, on(to.name, runtimeFence(fence))));
  }
  // One deploy per host, the new host first; the old one only gains the fence (no restart: its unit has restartIfChanged off until finalize).
  const deploys: [HostRef, string][] = [[to, `deploy ${to.name}: ${c.service} installed, fenced until the cutover`]];
  if (proxy) deploys.push([proxy, `deploy ${proxy.name}: the moved routes read their backend from route files (still ${from.name}'s)${proxy.name === from.name ? `; ${fence.units.old.unit} fenced once stopped` : ''}`]);
  if (!deploys.some(([h]) => h.name === from.name)) deploys.push([from, `deploy ${from.name}: ${fence.units.old.unit} fenced once stopped${hot ? `; replication settings (wal_level, slots, the WAL a slot may keep, pg_hba entry for ${to.name}, mesh listener)` : ''}`]);
  for (const [h, title] of deploys) steps.push(command(`deploy-${h.name}`, title, on('operator', deployScript(c, h))));
  if (hot) steps.push(...pgPrepare(c, hot.app));

  // What the deploys must have produced, checked before anything stops: a deploy that went to the
  // wrong host, failed half-way, was skipped or did not carry migen's module shows up here, not as
  // a failing step (or a second writer) in the window.
  steps.push(
    check(`deployed-${to.name}`, `${to.name} has ${c.unit} installed, ${fence.units.new.unit} not running, and its unit carries the fence`,
      on(to.name, [cmd`test "$(systemctl show -p LoadState --value ${c.unit})" = loaded`, where(fence.units.new, cmd`! systemctl is-active --quiet ${fence.units.new.unit}`), fencedCheck(fence.units.new, fence.ready)].join('\n')),
      `${to.name}'s deploy did not take effect: ${c.unit} must be installed, ${fence.units.new.unit} stopped, and its unit must hold ConditionPathExists=${fence.ready} (is generated/ committed? a git flake sees only tracked files)`),
    check(`fenced-${from.name}`, `${from.name}'s unit ${fence.units.old.unit} carries the fence that keeps it stopped once the runbook stops it`,
      on(from.name, fencedCheck(fence.units.old, `!${fence.moved}`)),
      `${from.name}'s deploy did not take effect: ${fence.units.old.unit} must hold ConditionPathExists=!${fence.moved}`),
  );
  if (c.routes.inner.length) {
    const ds = c.routes.inner.map((v) => v.domain);
    const copied = c.routes.inner.some((v) => v.mode === 'copy');
    steps.push(check(`inner-${to.name}`, `${to.name}'s nginx serves ${ds.join(', ')}, as ${from.name}'s does behind ${proxy?.name ?? 'the proxy'}`,
      on(to.name, vhostsCheck(ds)),
      `${to.name}'s deploy did not take effect: its running nginx must serve ${ds.join(', ')}${copied ? ` (the virtual host${ds.length > 1 ? 's' : ''} its generated module copies from ${from.name})` : ''}`));
  }
  if (proxy && c.routeFiles.length) {
    steps.push(check(`routes-${proxy.name}`, `${proxy.name} has the route files of the moved locations (its generated module's activation made them)`,
      on(proxy.name, c.routeFiles.map((f) => cmd`test -s ${f.file}`).join('\n')),
      `${proxy.name}'s deploy did not take effect: the route files under /var/lib/migen/nginx/${c.name}/ are missing`));
  }
  // The copy keys once the server's deploy made its sshd read their file, proved before anything stops.
  steps.push(...accessPrepare(c));
  steps.push(command('prepared', `${to.name} records that ${c.name} is prepared`, on(to.name, stamp(fence, fence.prepared))));
  return steps;
}
