// The runbook of each planned migration as data: a pure function of the plan and the inputs' hashes.
import { withoutDefaults } from '../../../runbook/defaults.js';
import { LOCK_PATH, type RunbookDef } from '../../../runbook/def.js';
import type { Inputs } from '../../pipeline.js';
import type { MigrationPlan, Step } from '../../plan/types.js';
import { sha256 } from '../../sha256.js';
import { headerText, type Header } from '../header.js';

/** The runbook's data: every step with its host and literal commands. */
export function runbookDef(m: MigrationPlan, inputs: Inputs, manifestPath: string): RunbookDef {
  const manifest = inputs.manifests.find((x) => x.path === manifestPath)!;
  const hosts = [m.from, m.to, ...(m.proxy ? [m.proxy] : [])].sort((a, b) => (a.name < b.name ? -1 : 1));
  return {
    formatVersion: 1,
    name: m.name,
    service: m.service,
    strategy: m.strategy,
    from: m.from.name,
    to: m.to.name,
    inputs: [
      { kind: 'manifest', path: manifest.path, sha256: manifest.sha256 },
      { kind: 'inventory', path: inputs.inventory.source.path, sha256: inputs.inventory.sha256 },
    ],
    hosts: Object.fromEntries(hosts.map((h) => [h.name, { name: h.name, ssh: h.ssh, address: h.address }])),
    lock: { path: LOCK_PATH },
    steps: m.steps.map((s) => ordered(withoutDefaults(s))),
  };
}

const STEP_KEYS = ['id', 'phase', 'kind', 'title', 'window', 'stopsService', 'concurrent', 'undoOnFailure', 'hostToHost', 'progress', 'fleet', 'freshConnection', 'heartbeat', 'endsWindow', 'instruction', 'run', 'check', 'left', 'right', 'measure', 'mode', 'acceptExit', 'thresholdBytes', 'maxPasses', 'bandwidthBytesPerSecond', 'intervalSeconds', 'deadlineSeconds', 'fatalExit', 'failure', 'text', 'undoInstruction', 'undo', 'undoLeftover'];

/** Steps print with their identity first and their undo last, for reviewers. */
function ordered(s: Step): Step {
  const rank = (k: string): number => { const i = STEP_KEYS.indexOf(k); return i === -1 ? STEP_KEYS.length : i; };
  return Object.fromEntries(Object.entries(s).sort(([a], [b]) => rank(a) - rank(b) || (a < b ? -1 : 1))) as unknown as Step;
}

export interface RunbookSource {
  readonly path: string;
  readonly m: MigrationPlan;
  readonly def: RunbookDef;
  readonly header: string;
  /** sha256 of everything the printed file is made of: migen.sum records it beside the file's own sha256. */
  readonly digest: string;
}

/** Bumped whenever print.ts's layout changes, so recorded digests of older files no longer match. */
const RUNBOOK_FORMAT = 2;

export function runbookSources(inputs: Inputs, header: Header): RunbookSource[] {
  return inputs.plans.flatMap((plan) => plan.migrations.filter((m) => m.status === 'planned').map((m) => {
    const def = runbookDef(m, inputs, plan.manifest);
    const h = headerText({ manifests: [plan.manifest], digest: header.digest });
    return { path: `runbooks/migrate-${m.name}.mjs`, m, def, header: h, digest: sha256(JSON.stringify([RUNBOOK_FORMAT, h, m.name, m.serviceTitle, m.strategy, m.from.name, m.to.name, def])) };
  }));
}

