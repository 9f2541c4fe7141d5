import type { Inputs } from '../../pipeline.js';
import type { OutFile } from '../../emit/index.js';
import { sha256 } from '../../emit/index.js';
import type { Header } from '../index.js';
import { headerText } from '../index.js';
import type { MigrationPlan, Step } from '../../plan/types.js';
import type { RunbookDef } from '../../../runtime/types.js';

/** sha256 of input texts, computed once: every runbook names the same (possibly megabytes of) inventory. */
const shas = new Map<string, string>();
function textSha(text: string): string {
  let h = shas.get(text);
  if (h === undefined) { h = sha256(text); shas.set(text, h); }
  return h;
}

/** The runbook's data: every step with its host and literal commands (a pure function of the plan). */
export function runbookDef(m: MigrationPlan, inputs: Inputs, manifestPath: string): RunbookDef {
  const manifest = inputs.manifests.find((x) => x.path === manifestPath)!;
  const hosts = [m.from, m.to, ...(m.proxy ? [m.proxy] : [])];
  return {
    formatVersion: 1,
    name: m.name,
    service: m.service,
    strategy: m.strategy,
    from: m.from.name,
    to: m.to.name,
    inputs: [
      { kind: 'manifest', path: manifest.path, sha256: textSha(manifest.src.text) },
      { kind: 'inventory', path: inputs.inventory.source.path, sha256: textSha(inputs.inventory.text) },
    ],
    hosts: Object.fromEntries(hosts.sort((a, b) => (a.name < b.name ? -1 : 1)).map((h) => [h.name, { name: h.name, ssh: h.ssh, address: h.address }])),
    lock: { on: m.from.name, path: `/run/migen/${m.name}.lock` },
    steps: m.steps.map(orderStep),
  };
}

const STEP_KEYS = ['id', 'phase', 'kind', 'title', 'window', 'stopsService', 'concurrent', 'undoOnFailure', 'endsWindow', 'run', 'left', 'right', 'measure', 'mode', 'acceptExit', 'thresholdBytes', 'maxPasses', 'bandwidthBytesPerSecond', 'intervalSeconds', 'deadlineSeconds', 'failure', 'reason', 'text', 'undo'];

/** Steps print with their identity first and their undo last, for reviewers. */
function orderStep(s: Step): Step {
  const rank = (k: string): number => { const i = STEP_KEYS.indexOf(k); return i === -1 ? STEP_KEYS.length : i; };
  return Object.fromEntries(Object.entries(s).sort(([a], [b]) => rank(a) - rank(b) || (a < b ? -1 : 1))) as unknown as Step;
}

function stepComment(steps: readonly Step[]) {
  return (path: readonly (string | number)[]): string | null => {
    if (path.length !== 2 || path[0] !== 'steps') return null;
    const s = steps[path[1] as number]!;
    const on = 'run' in s ? s.run.on : 'left' in s ? `${s.left.on}, ${s.right.on}` : '-';
    return `${Number(path[1]) + 1}. ${s.phase} on ${on}${s.window ? ' [downtime]' : ''}: ${s.title}`;
  };
}

export interface RunbookSource { readonly m: MigrationPlan; readonly def: RunbookDef; readonly header: string; readonly fingerprint: string }

/** What each runbook is made of; its fingerprint changes whenever its printed text would. */
export function runbookSources(inputs: Inputs, header: Header): RunbookSource[] {
  const out: RunbookSource[] = [];
  for (const plan of inputs.plans) {
    for (const m of plan.migrations) {
      if (m.status !== 'planned') continue;
      const def = runbookDef(m, inputs, plan.manifest);
      const h = headerText({ manifests: [plan.manifest], digest: header.digest });
      out.push({ m, def, header: h, fingerprint: sha256(JSON.stringify([RUNBOOK_FORMAT, h, m.name, m.serviceTitle, m.strategy, m.from.name, m.to.name, def])) });
    }
  }
  return out;
}

/** Bumped whenever printRunbook's layout changes, so fingerprints of older files no longer match. */
const RUNBOOK_FORMAT = 1;

export const fingerprintLine = (fp: string): string => `// runbook fingerprint: ${fp}`;

/**
 * zx runbooks per planned migration, printed with ts-morph. `reuse` may return an existing file
 * whose fingerprint matches (migen plan does, so that it needs no TypeScript compiler at all).
 */
export async function renderRunbooks(inputs: Inputs, header: Header, reuse?: (path: string, fingerprint: string) => string | null, opts: { print?: boolean } = {}): Promise<OutFile[]> {
  const files: OutFile[] = [];
  for (const src of runbookSources(inputs, header)) {
    const path = `runbooks/migrate-${src.m.name}.mjs`;
    const kept = reuse?.(path, src.fingerprint);
    if (kept !== undefined && kept !== null) { files.push({ path, content: kept }); continue; }
    // migen plan only needs to know that this file is new or changes: no TypeScript compiler for that.
    if (opts.print === false) { files.push({ path, content: `${fingerprintLine(src.fingerprint)} (not printed by migen plan)\n` }); continue; }
    const { printRunbook } = await import('./print.js');
    files.push({ path, content: printRunbook(src.m, src.def, src.header, fingerprintLine(src.fingerprint), stepComment(src.def.steps)) });
  }
  return files;
}
