import type { Inputs } from '../../pipeline.js';
import type { OutFile } from '../../emit/index.js';
import { sha256 } from '../../emit/index.js';
import type { Header } from '../index.js';
import { headerText } from '../index.js';
import type { MigrationPlan, Step } from '../../plan/types.js';
import type { RunbookDef } from '../../../runtime/types.js';
import { jsLiteral } from './literal.js';

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

const STEP_KEYS = ['id', 'phase', 'kind', 'title', 'window', 'stopsService', 'endsWindow', 'run', 'left', 'right', 'measure', 'mode', 'acceptExit', 'thresholdBytes', 'maxPasses', 'bandwidthBytesPerSecond', 'intervalSeconds', 'deadlineSeconds', 'failure', 'reason', 'text', 'undo'];

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

/**
 * The runbook module: the header comments, then `runbook` as a literal and the direct-run guard.
 * Printed as plain text (formerly through an in-memory ts-morph project, which printed exactly
 * this; loading the TypeScript compiler cost more than half a second per command).
 */
function printRunbook(m: MigrationPlan, def: RunbookDef, header: string): string {
  const body = [
    "import { pathToFileURL } from 'node:url';",
    "/** @type {import('migen/runtime').RunbookDef} */",
    `export const runbook = ${jsLiteral(def, { comment: stepComment(def.steps) })};`,
    '',
    '',
    '// Run directly (node generated/runbooks/migrate-NAME.mjs); `migen run NAME` imports `runbook` instead.',
    'if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {',
    "  const { main } = await import('migen/runtime');",
    '  process.exitCode = await main(runbook, process.argv.slice(2));',
    '}',
    '',
  ].join('\n');
  const lines = [
    '#!/usr/bin/env node',
    `// ${header}`,
    `// Migration ${m.name}: ${m.serviceTitle}, ${m.strategy}, ${m.from.name} -> ${m.to.name}. Review generated/plans/${m.name}.md.`,
    `// Run: npx migen run ${m.name} [--dry-run] [--resume] [--yes] [--no-rollback], or nix run .#migrate-${m.name}`,
    '// Every step below names its host and the literal bash it runs there (with set -euo pipefail);',
    '// steps with an undo are undone in reverse order when a cutover or verify step fails.',
    '// @ts-check',
    '',
  ];
  return `${lines.join('\n')}${body}`;
}

/** zx runbooks per planned migration, generated with ts-morph from the plan. */
export function renderRunbooks(inputs: Inputs, header: Header): OutFile[] {
  const files: OutFile[] = [];
  for (const plan of inputs.plans) {
    for (const m of plan.migrations) {
      if (m.status !== 'planned') continue;
      const def = runbookDef(m, inputs, plan.manifest);
      files.push({ path: `runbooks/migrate-${m.name}.mjs`, content: printRunbook(m, def, headerText({ manifests: [plan.manifest], digest: header.digest })) });
    }
  }
  return files;
}
