// Verify: the manifest's checks, retried until they pass or their deadline. The checks that the
// fleet can run (over the proxy with curl, or on a host) gate the window: the cutover coordinator
// runs them, records the verification on the new host and confirms the proxy's route; the first
// success of the last one ends the downtime window, a failure rolls back. Checks of the
// operator's machine run after, from there.
import { accessRemove } from '../access-steps.js';
import { stamp } from '../fence-steps.js';
import { clientSideDns } from '../handoffs.js';
import { pgCleanup, pgCompare } from '../pg/index.js';
import { confirmGuard, guardOf } from '../guard.js';
import { staleRoutesCheck } from '../proxy.js';
import { cmd } from '../shell.js';
import { on, stepsOf } from '../step.js';
import type { Ctx, Step } from '../types.js';

const { command, probe } = stepsOf('verify');

/** Does a verification run on the fleet (and so end the window there)? */
export const fleetVerifies = (c: Ctx): boolean => c.dnsServer !== null || c.verify.some((v) => v.http || (v.command && v.on && v.on !== 'operator'));

/** curl's --resolve for a URL's host: through the proxy when it routes the domain, at the new value when a DNS record moves it. */
function resolveFor(c: Ctx, u: URL): { args: string[]; via: string } {
  const port = u.port || (u.protocol === 'https:' ? '443' : '80');
  if (c.proxy && c.routes.moved.some((r) => r.domain === u.hostname)) return { args: ['--resolve', `${u.hostname}:${port}:${c.proxy.address}`], via: ` through ${c.proxy.name}` };
  const rec = c.dns?.records.find((r) => r.name === u.hostname && r.type !== 'CNAME');
  if (rec) return { args: ['--resolve', `${u.hostname}:${port}:${rec.type === 'AAAA' ? `[${rec.new}]` : rec.new}`], via: ` at ${rec.new}, where ${u.hostname} now points` };
  return { args: [], via: '' };
}

export function verify(c: Ctx, hot: boolean): Step[] {
  const { from, to, proxy } = c;
  const timing = { intervalSeconds: 0.2, deadlineSeconds: c.verifyDeadlineSeconds };
  const fleet: Step[] = [];
  const operator: Step[] = [];
  c.verify.forEach((v, i) => {
    if (v.http) {
      const r = resolveFor(c, new URL(v.http));
      fleet.push(probe(`verify-${i + 1}`, `${v.http} answers ${v.status ?? 200}${r.via} (asked from ${to.name})`,
        on(to.name, cmd`test "$(curl -sS -o /dev/null -w '%{http_code}' --max-time 5 ${r.args} ${v.http})" = ${v.status ?? 200}`), timing));
    } else if (v.command) {
      const where = v.on === 'new' ? to.name : v.on === 'old' ? from.name : v.on === 'proxy' && proxy ? proxy.name : 'operator';
      (where === 'operator' ? operator : fleet).push(probe(`verify-${i + 1}`, `check on ${where}: ${v.command}`, on(where, v.command), timing));
    }
  });
  fleet.push(...clientSideDns(c, timing));
  const W = { window: true, fleet: true } as const;
  const steps: Step[] = fleet.map((s, i) => ({ ...s, ...W, ...(i === fleet.length - 1 ? { endsWindow: true } : {}) }) as Step);
  // After the window: the full comparison of the frozen state, before anything records the move as verified.
  if (hot) steps.push(...pgCompare(c));
  // What migen finalize requires the hosts to say (a later rollback takes it back), then the
  // guards confirmed over new connections: the new host's start first, the proxy's routes next (a
  // coordinator that dies between two confirmations leaves the old host restarting an unrouted
  // copy, never a route to a stopped one), the old host's stop last.
  // The route files switched; this proves no other route of the running configuration (an
  // include, a hand edit) still reaches the stopped service. After the window (it does not delay
  // the first served request), before anything is confirmed: a failure rolls back.
  if (proxy && c.routes.stale.ports.length) {
    steps.push(probe('routes-clean', `no route of ${proxy.name}'s running nginx still names ${from.name} at ${c.service}'s ports (${c.routes.stale.ports.join(', ')})`, on(proxy.name, staleRoutesCheck(c.routes.stale.names, c.routes.stale.ports)),
      { intervalSeconds: 0.5, deadlineSeconds: 5 }, { fleet: true }));
  }
  steps.push(command('verified', `${to.name} records that ${c.name} is cut over and verified`, on(to.name, stamp(c.fence, c.fence.verified)), { fleet: true, undo: on(to.name, cmd`rm -f ${c.fence.verified}`) }));
  steps.push(command('confirm-new', `confirm the start on ${to.name} (its guard would stop it)`, on(to.name, confirmGuard(guardOf(c.name, 'new'), `the guard stopped ${c.name} on ${to.name}`)), { fleet: true }));
  if (proxy && c.routeFiles.length) {
    steps.push(command('confirm-route', `confirm ${proxy.name}'s new routes over a new connection (its guard would revert them)`, on(proxy.name, confirmGuard(guardOf(c.name, 'routes'), 'the guard reverted the routes')), { fleet: true, freshConnection: true }));
  }
  steps.push(command('confirm-old', `confirm the stop on ${from.name} over a new connection (its guard would restart the old service)`, on(from.name, confirmGuard(guardOf(c.name, 'old'), `the guard restarted ${c.name} on ${from.name}`)), { fleet: true, freshConnection: true }));
  steps.push(...operator);
  if (hot) steps.push(...pgCleanup(c));
  if (c.maintenance) steps.push(command('maintenance-off', `maintenance mode off on ${to.name}`, on(to.name, c.maintenance.off)));
  steps.push(...accessRemove(c));
  return steps;
}
