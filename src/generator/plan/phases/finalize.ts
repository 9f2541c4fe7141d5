// Finalize: what is left once the move is verified. Handoffs due after the verification (a DHCP
// change, say) run here: a failure of one leaves the move standing (nothing is rolled back);
// --resume waits for it again. Then what the runbook leaves to the operator.
import { dnsFinalizeText } from '../dns.js';
import { handoffSteps } from '../handoffs.js';
import { stepsOf } from '../step.js';
import type { Ctx, Step } from '../types.js';

const { note } = stepsOf('finalize');

export function finalize(c: Ctx): Step[] {
  const { from, to, proxy } = c;
  const paths = c.state.map((s) => s.old);
  return [
    ...handoffSteps(c, 'after-verify', 'finalize'),
    note('finalize', 'make the move permanent', `Run \`migen finalize ${c.name}\`, review and merge the diff, and deploy ${[...new Set([from.name, to.name, ...(proxy ? [proxy.name] : [])])].join(', ')}: ${from.name} then has ${c.unit} disabled so no rebuild or reboot starts a second writer${proxy ? `, and ${proxy.name}'s base configuration routes to ${to.name}` : ''}.`),
    ...(c.dns ? [note('dns-ttl', 'raise the DNS TTL again', dnsFinalizeText(c.dns))] : []),
    note('grace', `keep ${from.name}'s state for ${c.graceDays} days`, `After ${c.graceDays} days without a rollback, remove ${paths.join(', ')} on ${from.name}. Until then it is the rollback source.`),
  ];
}
