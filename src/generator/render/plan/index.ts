import type { Plan, MigrationPlan } from '../../plan/types.js';
import { renderTemplate } from '../handlebars.js';
import type { RunOrder } from '../../plan/order.js';
import type { OrderView } from './order-view.js';
import { migrationView, planView, type FileChange } from './view.js';
import { canonicalJson } from '../../load/inventory.js';

/** `order`: the run order of every migration shown (migen run --all), printed with this plan. */
export function renderPlanText(plan: Plan, files: readonly FileChange[], order: OrderView | null = null): string {
  return renderTemplate('plan.txt.hbs', planView(plan, files, order));
}

export function renderPlanMarkdown(plan: Plan, files: readonly FileChange[], order: OrderView | null = null): string {
  return renderTemplate('plan.md.hbs', planView(plan, files, order));
}

export function renderMigrationMarkdown(m: MigrationPlan, header: string): string {
  return `${header}\n${renderTemplate('plan.md.hbs', { migrations: [migrationView(m)], order: null })}`;
}

/** The plan as JSON (schemas/plan.schema.json); `order`: the run order of every migration shown. */
export function planJson(plan: Plan, files: readonly FileChange[] = [], order: RunOrder | null = null): unknown {
  return { formatVersion: plan.formatVersion, manifest: plan.manifest, migrations: plan.migrations, ...(order ? { order } : {}), files: files.map((f) => ({ change: f.mark === '+' ? 'add' : f.mark === '~' ? 'change' : f.mark === '-' ? 'remove' : 'same', path: f.path })) };
}

export function renderMigrationJson(plan: Plan, m: MigrationPlan, notice: string): string {
  return canonicalJson({ _generated: notice, formatVersion: plan.formatVersion, manifest: plan.manifest, migrations: [m] });
}
