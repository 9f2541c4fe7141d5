// Which migrations `migen run --all MANIFEST...` runs, and in what order: the planned ones of those
// manifests (in generated/plans), without those whose last run finished (cut over, waiting for
// finalize), in the order the plan shows (generator/plan/order.ts).
import { runOrder, type RunOrder } from '../generator/plan/order.js';
import type { MigrationPlan } from '../generator/plan/types.js';
import { orderItem } from '../generator/render/plan/order-view.js';

export interface PlanFile { readonly manifest: string; readonly migrations: readonly MigrationPlan[] }
/** The last run of a migration as its journal (.migen/NAME/journal.json) says, or null for none. */
export type LastRun = { readonly status: string; readonly runId: string } | null;

export interface Selection {
  readonly order: RunOrder;
  readonly skipped: readonly { readonly name: string; readonly why: string }[];
}

/** `manifests` are paths as the plans name them; `from`: only the migrations leaving that host. Throws Error with a message for the user. */
export function select(plans: readonly PlanFile[], manifests: readonly string[], lastRun: (name: string) => LastRun, from: string | null): Selection {
  const wanted = new Set(manifests);
  const found = new Set(plans.filter((p) => wanted.has(p.manifest)).map((p) => p.manifest));
  const unknown = manifests.filter((m) => !found.has(m));
  if (unknown.length) throw new Error(`no generated plan for ${unknown.join(', ')}: run migen generate with ${unknown.length > 1 ? 'them' : 'it'} first`);
  const skipped: { name: string; why: string }[] = [];
  const run: MigrationPlan[] = [];
  for (const m of plans.filter((p) => wanted.has(p.manifest)).flatMap((p) => p.migrations).slice().sort((a, b) => (a.name < b.name ? -1 : 1))) {
    if (from !== null && m.from.name !== from) continue;
    if (m.status !== 'planned') { skipped.push({ name: m.name, why: 'done (finalized)' }); continue; }
    const last = lastRun(m.name);
    if (last?.status === 'done') { skipped.push({ name: m.name, why: `cut over by run ${last.runId}: finalize it (migen finalize ${m.name})` }); continue; }
    if (last?.status === 'running') throw new Error(`an earlier run (${last.runId}) of ${m.name} did not finish: migen run ${m.name} --resume (or --rollback) first`);
    run.push(m);
  }
  if (from !== null && run.length + skipped.length === 0) throw new Error(`no migration of these manifests moves a service from ${from}`);
  const r = runOrder(run.map(orderItem));
  if (!r.ok) throw new Error(`the declared order has a cycle (${r.cycle.join(' before ')})`);
  const done = new Set(skipped.map((s) => s.name));
  const open = r.order.missing.filter((x) => !done.has(x.needs));
  if (open.length) throw new Error(open.map((x) => `${x.name} runs after ${x.needs}, which is neither finished nor part of this run: add its manifest`).join('\n'));
  return { order: r.order, skipped };
}
