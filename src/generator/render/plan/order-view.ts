// The run order of `migen run --all` as the plan shows it: groups one after another, the
// migrations of a group at once, each with what it waits for.
import { isSso } from '../../model/catalog.js';
import { runOrder, type OrderItem, type RunOrder } from '../../plan/order.js';
import type { MigrationPlan, Plan } from '../../plan/types.js';

export interface OrderView {
  readonly groups: readonly { readonly n: number; readonly names: string; readonly together: boolean; readonly waits: readonly { readonly name: string; readonly why: string }[] }[];
  readonly missing: readonly string[];
}

/** What the ordering needs of a migration: its hosts (the run locks each), what it runs after, whether it is the SSO. */
export const orderItem = (m: Pick<MigrationPlan, 'name' | 'from' | 'to' | 'proxy' | 'after' | 'service'>): OrderItem => ({
  name: m.name, hosts: [...new Set([m.from.name, m.to.name, ...(m.proxy ? [m.proxy.name] : [])])], after: m.after, sso: isSso(m.service),
});

export function viewOf(o: RunOrder): OrderView {
  return {
    groups: o.groups.map((g, i) => ({ n: i + 1, names: g.join(', '), together: g.length > 1, waits: g.filter((n) => o.waits[n]).map((n) => ({ name: n, why: o.waits[n]! })) })),
    missing: o.missing.map((x) => `${x.name} runs after ${x.needs}, which is not planned here: it must have finished first`),
  };
}

/** The order of the planned migrations of these plans, when there are at least two (a cycle is refused by validation). */
export function planOrder(plans: readonly Plan[]): { order: RunOrder; view: OrderView } | null {
  const items = plans.flatMap((p) => p.migrations.filter((m) => m.status === 'planned').map(orderItem));
  if (items.length < 2) return null;
  const r = runOrder(items);
  return r.ok ? { order: r.order, view: viewOf(r.order) } : null;
}
