// View models of the plan for the text and markdown templates: logic-free templates, everything
// computed here.
import { isPipe, scriptsOf, type Script, type Step } from '../../../runbook/steps.js';
import { restoreRoot } from '../../plan/backup.js';
import { PHASES, type MigrationPlan, type Plan } from '../../plan/types.js';
import type { OrderView } from './order-view.js';

export interface FileChange { readonly mark: '+' | '~' | '-' | ' '; readonly path: string }

interface ScriptView { readonly on: string; readonly lines: readonly string[]; readonly piped: boolean }
interface StepView { readonly n: number; readonly id: string; readonly title: string; readonly kind: string; readonly window: boolean; readonly scripts: readonly ScriptView[]; readonly detail: string | null; readonly undo: ScriptView | null; readonly undoScripts: readonly ScriptView[] | null; readonly leftover: string | null; readonly together: string | null }

/** A script as the reviewer reads it: a pipe is its two parts, the second reading the first's output. */
const views = (s: Script): ScriptView[] => (isPipe(s) ? s.pipe : [s]).map((p, i) => ({ on: p.on, lines: p.script.split('\n'), piped: i > 0 }));
/** An undo in one line of the plan. */
const flat = (s: Script): ScriptView => {
  const parts = views(s);
  return { on: parts.map((p) => p.on).join(' | '), lines: parts.flatMap((p, i) => (i > 0 ? ['|', ...p.lines] : p.lines)), piped: false };
};

/** How a step is judged, for reviewers. */
const detail: { [K in Step['kind']]: (s: Extract<Step, { kind: K }>) => string | null } = {
  command: (s) => (s.acceptExit?.length ? `exit ${s.acceptExit.join(', ')} accepted` : null),
  check: (s) => `refuses to go on if it fails: ${s.failure}`,
  compare: (s) => (s.mode === 'equal' ? 'both outputs must be identical' : 'the first number plus 10% must fit in the second'),
  converge: (s) => `repeats (at most ${s.maxPasses} passes, exit ${(s.acceptExit ?? []).join(', ')} accepted while live) until the measured delta is below ${s.thresholdBytes} bytes; predicts the final pass at ${s.bandwidthBytesPerSecond} B/s`,
  probe: (s) => `retried every ${s.intervalSeconds} s for up to ${s.deadlineSeconds} s${s.endsWindow ? '; the first success of the last check ends the downtime window' : ''}`,
  handoff: (s) => `${s.run ? `the provider's command (the first script) does this: ${s.instruction}` : `a person does this (the runbook prints it and waits): ${s.instruction}`}; proved by the check (the last script), retried every ${s.intervalSeconds} s for up to ${s.deadlineSeconds} s${s.endsWindow ? '; its first success ends the downtime window' : ''}${s.undoInstruction ? `; on a rollback: ${s.undoInstruction}` : ''}`,
  note: (s) => s.text,
};

function stepView(s: Step, n: number): StepView {
  return {
    n, id: s.id, title: s.title, kind: s.kind, window: s.window ?? false,
    scripts: scriptsOf(s).flatMap(views),
    detail: (detail[s.kind] as (x: Step) => string | null)(s),
    undo: s.undo ? flat(s.undo) : null, undoScripts: s.undo ? views(s.undo) : null, leftover: s.undoLeftover ?? null, together: null,
  };
}

/** Consecutive steps of one phase in the same `concurrent` group run at once: each names the others. */
function markTogether(steps: readonly Step[], list: StepView[]): StepView[] {
  const group: number[] = steps.map((_, i) => i);
  for (let i = 1; i < steps.length; i++) {
    if (steps[i]!.concurrent && steps[i]!.concurrent === steps[i - 1]!.concurrent && steps[i]!.phase === steps[i - 1]!.phase) group[i] = group[i - 1]!;
  }
  return list.map((v, i) => {
    const others = list.filter((_, k) => k !== i && group[k] === group[i]).map((o) => o.n);
    return others.length ? { ...v, together: `at the same time as ${others.length > 1 ? 'steps' : 'step'} ${others.join(', ')}` } : v;
  });
}

/** Which backup will be restorable, and how. */
function backupInfo(m: MigrationPlan): { text: string; restore: readonly string[]; hasRestore: boolean } {
  const b = m.backup;
  if (b.kind === 'none') return { text: `none: ${m.from.name}'s state is the only copy until the move is verified.`, restore: [], hasRestore: false };
  if (b.kind === 'job') return { text: `${b.host}'s restic job ${b.job}, run as it is: it reads the live files, so a database in them may not restore consistently.`, restore: [], hasRestore: false };
  const copies = [
    ...b.sqlite.map((s) => `${s.database} as a consistent copy (VACUUM INTO, then integrity_check) at ${s.snapshot}`),
    ...(b.pgDump ? [`the PostgreSQL cluster as pg_dumpall${b.pgDump.container ? ` (inside the container ${b.pgDump.container})` : ''} at ${b.pgDump.file}, not its live data directory ${b.pgDump.dataDirs.join(', ')}`] : []),
  ];
  const text = `restic snapshot in ${b.repository} on ${m.from.name}, tags ${b.tags.join(', ')}, password from ${b.passwordFrom}: ${m.state.map((s) => s.old).join(', ')}${copies.length ? `, with ${copies.join('; ')} (the live files${b.sqlite.length ? ' and their -wal/-shm' : ''} are excluded)` : ''}. The commands below restore it on ${m.from.name} under ${restoreRoot(m.name)}; move what you need into place with the service stopped.`;
  return { text, restore: b.restore, hasRestore: true };
}

export function migrationView(m: MigrationPlan) {
  const ordered = PHASES.flatMap((phase) => m.steps.filter((s) => s.phase === phase));
  const list = markTogether(ordered, ordered.map((s, i) => stepView(s, i + 1)));
  const phases = PHASES.map((phase) => ({ phase, steps: list.filter((_, i) => ordered[i]!.phase === phase) })).filter((p) => p.steps.length > 0);
  const rollback = m.steps.filter((s) => s.undo).slice().reverse().map((s) => ({ id: s.id, undo: flat(s.undo!), scripts: views(s.undo!), leftover: s.undoLeftover ?? null }));
  const pad = (xs: readonly string[]): number => Math.max(0, ...xs.map((x) => x.length));
  const w = pad([...m.routes.moved.map((r) => `${r.domain} ${r.location}`), ...m.routes.staying.map((r) => `${r.domain} ${r.location}`)]);
  return {
    ...m,
    hasProxy: m.proxy !== null,
    moved: m.routes.moved.map((r) => ({ ...r, label: `${r.domain} ${r.location}`.padEnd(w) })),
    staying: m.routes.staying.map((r) => ({ ...r, label: `${r.domain} ${r.location}`.padEnd(w) })),
    hasStaying: m.routes.staying.length > 0,
    hasInner: m.routes.inner.length > 0,
    innerView: m.routes.inner.map((v) => ({
      domain: v.domain, reason: v.reason,
      backendText: v.backends.join(', '), backendCode: v.backends.map((b) => `\`${b}\``).join(', '),
      how: v.mode === 'copy' ? `the same virtual host, from generated/hosts/${m.to.name}.nix (nginx enabled there)` : 'its own virtual host (nothing copied)',
    })),
    window: { ...m.window, text: m.window.estimateSeconds === null ? 'measured at run time' : `about ${m.window.estimateSeconds} s${m.window.perThousandFilesSeconds ? ` plus ${m.window.perThousandFilesSeconds} s per 1,000 files of state` : ''}` },
    hasWarnings: m.warnings.length > 0,
    phases,
    rollback,
    hasRollback: rollback.length > 0,
    statePaths: m.state.map((s) => (s.old === s.new ? s.old : `${s.old} on ${m.from.name} → ${s.new} on ${m.to.name}`)).join(', '),
    secretNames: m.secrets.map((s) => `${s.name} (${s.kind})`).join(', ') || 'none',
    backupInfo: backupInfo(m),
    followBackups: m.follow.backups.map((b) => `${b.host}: services.restic.backups.${b.name} (${b.paths.join(', ')})`),
    followScrape: m.follow.scrapeTargets.map((t) => `${t.host}: ${t.job} ${t.from} → ${t.to}`),
    afterText: m.after.length ? m.after.join(', ') : null,
    dnsView: m.dns ? {
      ...m.dns,
      provider: m.dns.provider.kind === 'nsupdate' ? `nsupdate to ${m.dns.provider.server} with the TSIG key ${m.dns.provider.keyFile}` : m.dns.provider.kind === 'command' ? `\`${m.dns.provider.command} NAME TYPE VALUE TTL\`` : 'a person (the runbook prints each change and waits for its check)',
      resolverList: m.dns.resolvers.join(', '),
      rows: m.dns.records.map((r) => ({ ...r, lowered: m.dns!.lowerTo })),
    } : null,
    dnsServerView: m.dnsServer ? { ...m.dnsServer, secondaryList: m.dnsServer.secondary.join(', ') || 'none' } : null,
    people: list.filter((v) => v.kind === 'handoff').map((v) => ({ n: v.n, title: v.title })),
    hasPeople: list.some((v) => v.kind === 'handoff'),
  };
}

export function planView(plan: Plan, files: readonly FileChange[], order: OrderView | null = null) {
  return {
    order,
    manifest: plan.manifest,
    migrations: plan.migrations.map(migrationView),
    files: files.filter((f) => f.mark !== ' '),
    hasFiles: files.some((f) => f.mark !== ' '),
    unchanged: files.filter((f) => f.mark === ' ').length,
  };
}
