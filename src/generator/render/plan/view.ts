import type { MigrationPlan, Plan, Script, Step } from '../../plan/types.js';
import { PHASES } from '../../plan/types.js';

export interface FileChange { readonly mark: '+' | '~' | '-' | ' '; readonly path: string }

interface ScriptView { readonly on: string; readonly lines: readonly string[] }
interface StepView { readonly n: number; readonly id: string; readonly title: string; readonly kind: string; readonly window: boolean; readonly scripts: readonly ScriptView[]; readonly detail: string | null; readonly undo: ScriptView | null; readonly together: string | null }

const script = (s: Script): ScriptView => ({ on: s.on, lines: s.script.split('\n') });

/** What a step will run, for reviewers: every script with its host, and how it is judged. */
const describe: { [K in Step['kind']]: (s: Extract<Step, { kind: K }>) => { scripts: ScriptView[]; detail: string | null } } = {
  command: (s) => ({ scripts: [script(s.run)], detail: s.acceptExit?.length ? `exit ${s.acceptExit.join(', ')} accepted` : null }),
  check: (s) => ({ scripts: [script(s.run)], detail: `refuses to go on if it fails: ${s.failure}` }),
  compare: (s) => ({ scripts: [script(s.left), script(s.right)], detail: s.mode === 'equal' ? 'both outputs must be identical' : 'the first number plus 10% must fit in the second' }),
  converge: (s) => ({ scripts: [script(s.run), script(s.measure)], detail: `repeats (at most ${s.maxPasses} passes, exit ${s.acceptExit.join(', ')} accepted while live) until the measured delta is below ${s.thresholdBytes} bytes; predicts the final pass at ${s.bandwidthBytesPerSecond} B/s` }),
  probe: (s) => ({ scripts: [script(s.run)], detail: `retried every ${s.intervalSeconds} s for up to ${s.deadlineSeconds} s${s.endsWindow ? '; the first success of the last check ends the downtime window' : ''}` }),
  pending: (s) => ({ scripts: [], detail: `NOT YET: ${s.reason}` }),
  note: (s) => ({ scripts: [], detail: s.text }),
};

function stepView(s: Step, n: number): StepView {
  const d = (describe[s.kind] as (x: Step) => { scripts: ScriptView[]; detail: string | null })(s);
  return { n, id: s.id, title: s.title, kind: s.kind, window: s.window, scripts: d.scripts, detail: d.detail, undo: s.undo ? script(s.undo) : null, together: null };
}

/** Consecutive steps of one phase in the same `concurrent` group run at once: each names the others. */
function markTogether(steps: readonly Step[], views: StepView[]): StepView[] {
  const group: number[] = steps.map((_, i) => i);
  for (let i = 1; i < steps.length; i++) {
    if (steps[i]!.concurrent && steps[i]!.concurrent === steps[i - 1]!.concurrent && steps[i]!.phase === steps[i - 1]!.phase) group[i] = group[i - 1]!;
  }
  return views.map((v, i) => {
    const others = views.filter((_, k) => k !== i && group[k] === group[i]).map((o) => o.n);
    return others.length ? { ...v, together: `at the same time as ${others.length > 1 ? 'steps' : 'step'} ${others.join(', ')}` } : v;
  });
}

export function migrationView(m: MigrationPlan) {
  const ordered = PHASES.flatMap((phase) => m.steps.filter((s) => s.phase === phase));
  const views = markTogether(ordered, ordered.map((s, i) => stepView(s, i + 1)));
  const phases = PHASES.map((phase) => ({ phase, steps: views.filter((_, i) => ordered[i]!.phase === phase) })).filter((p) => p.steps.length > 0);
  const rollback = m.steps.filter((s) => s.undo).slice().reverse().map((s) => ({ id: s.id, undo: script(s.undo!) }));
  const pad = (xs: readonly string[]): number => Math.max(0, ...xs.map((x) => x.length));
  const w = pad([...m.routes.moved.map((r) => `${r.domain} ${r.location}`), ...m.routes.staying.map((r) => `${r.domain} ${r.location}`)]);
  return {
    ...m,
    description: m.description,
    hasProxy: m.proxy !== null,
    moved: m.routes.moved.map((r) => ({ ...r, label: `${r.domain} ${r.location}`.padEnd(w) })),
    staying: m.routes.staying.map((r) => ({ ...r, label: `${r.domain} ${r.location}`.padEnd(w) })),
    hasStaying: m.routes.staying.length > 0,
    window: { ...m.window, text: m.window.estimateSeconds === null ? 'measured at run time' : `about ${m.window.estimateSeconds} s` },
    hasWarnings: m.warnings.length > 0,
    phases,
    rollback,
    hasRollback: rollback.length > 0,
    statePaths: m.state.map((s) => s.path).join(', '),
    secretNames: m.secrets.map((s) => `${s.name} (${s.kind})`).join(', ') || 'none',
    followBackups: m.follow.backups.map((b) => `${b.host}: services.restic.backups.${b.name} (${b.paths.join(', ')})`),
    followScrape: m.follow.scrapeTargets.map((t) => `${t.host}: ${t.job} ${t.from} → ${t.to}`),
  };
}

export function planView(plan: Plan, files: readonly FileChange[]) {
  return {
    manifest: plan.manifest,
    migrations: plan.migrations.map(migrationView),
    files: files.filter((f) => f.mark !== ' '),
    hasFiles: files.some((f) => f.mark !== ' '),
    unchanged: files.filter((f) => f.mark === ' ').length,
  };
}
