import type { Plan, MigrationPlan } from '../../plan/types.js';
import { renderTemplate } from '../handlebars.js';
import { migrationView, planView, type FileChange } from './view.js';
import { canonicalJson } from '../../load/inventory.js';

export function renderPlanText(plan: Plan, files: readonly FileChange[]): string {
  return renderTemplate('plan.txt.hbs', planView(plan, files));
}

export function renderPlanMarkdown(plan: Plan, files: readonly FileChange[]): string {
  return renderTemplate('plan.md.hbs', planView(plan, files));
}

export function renderMigrationMarkdown(m: MigrationPlan, header: string): string {
  return `${header}\n${renderTemplate('plan.md.hbs', { migrations: [migrationView(m)] })}`;
}

/** The plan as JSON (schemas/plan.schema.json). */
export function planJson(plan: Plan, files: readonly FileChange[] = []): unknown {
  return { formatVersion: plan.formatVersion, manifest: plan.manifest, migrations: plan.migrations, files: files.map((f) => ({ change: f.mark === '+' ? 'add' : f.mark === '~' ? 'change' : f.mark === '-' ? 'remove' : 'same', path: f.path })) };
}

export function renderMigrationJson(plan: Plan, m: MigrationPlan, notice: string): string {
  return canonicalJson({ _generated: notice, formatVersion: plan.formatVersion, manifest: plan.manifest, migrations: [m] });
}
