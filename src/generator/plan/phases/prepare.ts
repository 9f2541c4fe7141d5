// Prepare: a backup, then the deploys that make cutover and rollback quick activations (the new
// host with the service installed but not started, the proxy with the cutover routing ready),
// checked to have taken effect before anything stops.
import { deployScript } from '../deploy.js';
import { pgPrepare } from '../pg/index.js';
import { SYSTEM } from '../proxy.js';
import { cmd } from '../shell.js';
import { on, stepsOf } from '../step.js';
import type { Ctx, Step } from '../types.js';

const { command, check } = stepsOf('prepare');

export function prepare(c: Ctx, hot: { app: string } | null): Step[] {
  const { from, to, proxy, backup } = c;
  const paths = c.state.map((s) => s.path);
  const steps: Step[] = [];
  if (backup.kind === 'restic') {
    steps.push(command('backup', `restic backup of the state on ${from.name}, tag ${backup.tag}`,
      on(from.name, `${cmd`restic -r ${backup.repository}`}${backup.passwordFile ? cmd` --password-file ${backup.passwordFile}` : ''} ${cmd`backup --tag ${backup.tag} ${paths}`}`)));
  } else if (backup.kind === 'job') {
    steps.push(command('backup', `run the host's backup job ${backup.job} on ${from.name}`, on(from.name, cmd`systemctl start --wait ${`restic-backups-${backup.job}.service`}`)));
  }
  steps.push(command(`deploy-${to.name}`, `deploy ${to.name} with ${c.service} installed but not started`, on('operator', deployScript(c, to))));
  if (proxy) steps.push(command(`deploy-${proxy.name}`, `deploy ${proxy.name}: routing unchanged, cutover routing ready as specialisation ${c.specialisation}`, on('operator', deployScript(c, proxy))));
  if (hot) {
    steps.push(command(`deploy-${from.name}`, `deploy ${from.name}: replication settings (wal_level, slots, pg_hba entry for ${to.name}, mesh listener, role)`, on('operator', deployScript(c, from))));
    steps.push(...pgPrepare(c, hot.app));
  }
  // What the deploys must have produced, checked before anything stops: a deploy that went to the
  // wrong host, failed half-way or was skipped shows up here, not as a failing step in the window.
  steps.push(check(`deployed-${to.name}`, `${to.name} has ${c.unit} installed (and, checked before, not running)`,
    on(to.name, cmd`test "$(systemctl show -p LoadState --value ${c.unit})" = loaded`), `${c.unit} is not installed on ${to.name}: its deploy did not take effect`));
  if (proxy) {
    steps.push(check(`deployed-${proxy.name}`, `${proxy.name} has the cutover routing ready (specialisation ${c.specialisation})`,
      on(proxy.name, cmd`test -x ${`${SYSTEM}/specialisation/${c.specialisation}/bin/switch-to-configuration`}`), `${proxy.name}'s system has no specialisation ${c.specialisation}: its deploy did not take effect`));
  }
  return steps;
}
