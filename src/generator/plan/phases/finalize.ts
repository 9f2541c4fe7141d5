// Finalize: what the runbook leaves to the operator once the move is verified.
import { stepsOf } from '../step.js';
import type { Ctx, Step } from '../types.js';

const { note } = stepsOf('finalize');

export function finalize(c: Ctx): Step[] {
  const { from, to, proxy } = c;
  const paths = c.state.map((s) => s.old);
  return [
    note('finalize', 'make the move permanent', `Run \`migen finalize ${c.name}\`, review and merge the diff, and deploy ${[from.name, to.name, ...(proxy ? [proxy.name] : [])].join(', ')}: ${from.name} then has ${c.unit} disabled so no rebuild or reboot starts a second writer${proxy ? `, and ${proxy.name}'s base configuration routes to ${to.name}` : ''}.`),
    note('grace', `keep ${from.name}'s state for ${c.graceDays} days`, `After ${c.graceDays} days without a rollback, remove ${paths.join(', ')} on ${from.name}. Until then it is the rollback source.`),
  ];
}
