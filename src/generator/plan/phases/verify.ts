// Verify: the manifest's checks, retried until they pass or their deadline; the first success of
// the last one ends the downtime window, a failure rolls back.
import { pgCleanup } from '../pg/index.js';
import { stamp } from '../fence-steps.js';
import { cmd } from '../shell.js';
import { on, stepsOf } from '../step.js';
import type { Ctx, Step } from '../types.js';

const { command, probe } = stepsOf('verify');

export function verify(c: Ctx, hot: boolean): Step[] {
  const { from, to, proxy } = c;
  const timing = { intervalSeconds: 0.2, deadlineSeconds: c.verifyDeadlineSeconds, endsWindow: true };
  const W = { window: true } as const;
  const steps: Step[] = [];
  c.verify.forEach((v, i) => {
    if (v.http) {
      const u = new URL(v.http);
      const port = u.port || (u.protocol === 'https:' ? '443' : '80');
      const resolve = proxy && c.routes.moved.some((r) => r.domain === u.hostname) ? ['--resolve', `${u.hostname}:${port}:${proxy.address}`] : [];
      steps.push(probe(`verify-${i + 1}`, `${v.http} answers ${v.status ?? 200}${resolve.length ? ` through ${proxy!.name}` : ''}`,
        on('operator', cmd`test "$(curl -sS -o /dev/null -w '%{http_code}' --max-time 5 ${resolve} ${v.http})" = ${v.status ?? 200}`), timing, W));
    } else if (v.command) {
      const where = v.on === 'new' ? to.name : v.on === 'old' ? from.name : v.on === 'proxy' && proxy ? proxy.name : 'operator';
      steps.push(probe(`verify-${i + 1}`, `check on ${where}: ${v.command}`, on(where, v.command), timing, W));
    }
  });
  // What migen finalize requires the hosts to say.
  steps.push(command('verified', `${to.name} records that ${c.name} is cut over and verified`, on(to.name, stamp(c.fence, c.fence.verified))));
  if (hot) steps.push(...pgCleanup(c));
  if (c.maintenance) steps.push(command('maintenance-off', `maintenance mode off on ${to.name}`, on(to.name, c.maintenance.off)));
  return steps;
}
