// Verify: the manifest's checks, retried until they pass or their deadline. The checks that the
// fleet can run (over the proxy with curl, or on a host) gate the window: the cutover coordinator
// runs them, records the verification on the new host and confirms the proxy's route; the first
// success of the last one ends the downtime window, a failure rolls back. Checks of the
// operator's machine run after, from there.
import { stamp } from '../fence-steps.js';
import { pgCleanup, pgCompare } from '../pg/index.js';
import { confirmGuard, guardOf } from '../guard.js';
import { cmd } from '../shell.js';
import { on, stepsOf } from '../step.js';
import type { Ctx, Step } from '../types.js';

const { command, probe } = stepsOf('verify');

export function verify(c: Ctx, hot: boolean): Step[] {
  const { from, to, proxy } = c;
  const timing = { intervalSeconds: 0.2, deadlineSeconds: c.verifyDeadlineSeconds };
  const fleet: Step[] = [];
  const operator: Step[] = [];
  c.verify.forEach((v, i) => {
    if (v.http) {
      const u = new URL(v.http);
      const port = u.port || (u.protocol === 'https:' ? '443' : '80');
      const resolve = proxy && c.routes.moved.some((r) => r.domain === u.hostname) ? ['--resolve', `${u.hostname}:${port}:${proxy.address}`] : [];
      fleet.push(probe(`verify-${i + 1}`, `${v.http} answers ${v.status ?? 200}${resolve.length ? ` through ${proxy!.name}` : ''} (asked from ${to.name})`,
        on(to.name, cmd`test "$(curl -sS -o /dev/null -w '%{http_code}' --max-time 5 ${resolve} ${v.http})" = ${v.status ?? 200}`), timing));
    } else if (v.command) {
      const where = v.on === 'new' ? to.name : v.on === 'old' ? from.name : v.on === 'proxy' && proxy ? proxy.name : 'operator';
      (where === 'operator' ? operator : fleet).push(probe(`verify-${i + 1}`, `check on ${where}: ${v.command}`, on(where, v.command), timing));
    }
  });
  const W = { window: true, fleet: true } as const;
  const steps: Step[] = fleet.map((s, i) => ({ ...s, ...W, ...(i === fleet.length - 1 ? { endsWindow: true } : {}) }) as Step);
  // After the window: the full comparison of the frozen state, before anything records the move as verified.
  if (hot) steps.push(...pgCompare(c));
  // What migen finalize requires the hosts to say (a later rollback takes it back), then the
  // guards confirmed over new connections: the new host's start first, the proxy's routes next (a
  // coordinator that dies between two confirmations leaves the old host restarting an unrouted
  // copy, never a route to a stopped one), the old host's stop last.
  steps.push(command('verified', `${to.name} records that ${c.name} is cut over and verified`, on(to.name, stamp(c.fence, c.fence.verified)), { fleet: true, undo: on(to.name, cmd`rm -f ${c.fence.verified}`) }));
  steps.push(command('confirm-new', `confirm the start on ${to.name} (its guard would stop it)`, on(to.name, confirmGuard(guardOf(c.name, 'new'), `the guard stopped ${c.name} on ${to.name}`)), { fleet: true }));
  if (proxy && c.routeFiles.length) {
    steps.push(command('confirm-route', `confirm ${proxy.name}'s new routes over a new connection (its guard would revert them)`, on(proxy.name, confirmGuard(guardOf(c.name, 'routes'), 'the guard reverted the routes')), { fleet: true, freshConnection: true }));
  }
  steps.push(command('confirm-old', `confirm the stop on ${from.name} over a new connection (its guard would restart the old service)`, on(from.name, confirmGuard(guardOf(c.name, 'old'), `the guard restarted ${c.name} on ${from.name}`)), { fleet: true, freshConnection: true }));
  steps.push(...operator);
  if (hot) steps.push(...pgCleanup(c));
  if (c.maintenance) steps.push(command('maintenance-off', `maintenance mode off on ${to.name}`, on(to.name, c.maintenance.off)));
  return steps;
}
