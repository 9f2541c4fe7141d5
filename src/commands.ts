import path from 'node:path';
import { UserError } from './errors.js';
import { canonicalJson, evalInventory, parseInventoryText, readInventoryFile } from './generator/load/inventory.js';
import { manifestSet, prepare, type Inputs } from './generator/pipeline.js';
import { checkOutput, diffOutput, readSum, sha256, writeOutput, type OutFile } from './generator/emit/index.js';
import { generationHeader, renderAll } from './generator/render/index.js';
import { existsSync, readFileSync } from 'node:fs';
import { planJson, renderPlanMarkdown, renderPlanText } from './generator/render/plan/index.js';
import { validateInventoryShape } from './generator/validate/index.js';

export interface Opts {
  readonly positional: readonly string[];
  readonly format?: string;
  readonly inventory?: string;
  readonly flake?: string;
  readonly out: string;
  readonly overrideInputs: readonly (readonly [string, string])[];
  readonly diff: boolean;
  readonly dryRun: boolean;
  readonly resume: boolean;
  readonly yes: boolean;
  readonly noRollback: boolean;
  readonly runbook?: string;
}

function needManifests(o: Opts, cmd: string): string[] {
  if (o.positional.length === 0) throw new UserError('E_USAGE', `migen ${cmd} needs at least one MANIFEST; see migen ${cmd} --help`);
  return [...o.positional];
}

/** Loads the manifests (plus those already recorded in the output's migen.sum) and renders everything. */
export async function renderFor(o: Opts, manifests: readonly string[], opts: { reuseRunbooks?: boolean; printRunbooks?: boolean } = {}): Promise<{ inputs: Inputs; files: OutFile[] }> {
  const all = manifestSet(manifests, o.out);
  const inputs = await prepare(all, { inventory: o.inventory, flake: o.flake, overrideInputs: o.overrideInputs });
  const { renderRunbooks, fingerprintLine } = await import('./generator/render/runbook/index.js');
  // migen plan keeps an existing runbook whose fingerprint matches and that migen.sum says is
  // untouched: then it never loads ts-morph. generate and check always print.
  const sum = opts.reuseRunbooks ? readSum(o.out) : null;
  const reuse = sum ? (p: string, fp: string): string | null => {
    const file = path.join(o.out, p);
    if (!existsSync(file)) return null;
    const text = readFileSync(file, 'utf8');
    return text.includes(`\n${fingerprintLine(fp)}\n`) && sum.files.get(p) === sha256(text) ? text : null;
  } : undefined;
  const runbooks = await renderRunbooks(inputs, generationHeader(inputs), reuse, { print: opts.printRunbooks ?? true });
  const files = renderAll(inputs, { runbooks });
  return { inputs, files };
}

async function plan(o: Opts): Promise<number> {
  const manifests = needManifests(o, 'plan');
  const format = o.format ?? 'text';
  if (!['text', 'markdown', 'json'].includes(format)) throw new UserError('E_USAGE', `--format ${format}: expected text, markdown or json`);
  const { inputs, files } = await renderFor(o, manifests, { reuseRunbooks: true, printRunbooks: o.diff });
  const changes = diffOutput(o.out, files).map((c) => ({ ...c, path: `${o.out}/${c.path}` }));
  const given = new Set(inputs.manifests.filter((m) => manifests.map((x) => path.resolve(x)).includes(path.resolve(m.path))).map((m) => m.path));
  const shown = inputs.plans.filter((p) => given.has(p.manifest));
  const fileChanges = changes.some((c) => c.mark !== ' ');
  // Pending: generated/ would change, or a shown migration is still planned (the fleet will change).
  const pending = fileChanges || shown.some((p) => p.migrations.some((m) => m.status === 'planned'));
  for (const p of shown) {
    if (format === 'json') process.stdout.write(canonicalJson(planJson(p, changes)));
    else if (format === 'markdown') process.stdout.write(renderPlanMarkdown(p, changes));
    else process.stdout.write(renderPlanText(p, changes));
  }
  if (o.diff && fileChanges) {
    const { unifiedDiff } = await import('./generator/emit/diff.js');
    for (const c of changes.filter((x) => x.mark !== ' ')) process.stdout.write(unifiedDiff(c.path, files.find((f) => `${o.out}/${f.path}` === c.path)?.content ?? null));
  }
  return pending ? 2 : 0;
}

async function generate(o: Opts): Promise<number> {
  const { files } = await renderFor(o, needManifests(o, 'generate'));
  const changes = writeOutput(o.out, files);
  const changed = changes.filter((c) => c.mark !== ' ');
  for (const c of changed) process.stdout.write(`${c.mark} ${o.out}/${c.path}\n`);
  process.stdout.write(changed.length ? `migen: wrote ${changed.length} file(s) in ${o.out}/\n` : `migen: ${o.out}/ is up to date\n`);
  return 0;
}

async function check(o: Opts): Promise<number> {
  const { files } = await renderFor(o, needManifests(o, 'check'));
  const r = checkOutput(o.out, files);
  const lines = [
    ...r.edited.map((p) => `edited by hand: ${o.out}/${p}`),
    ...r.stale.map((p) => `stale: ${o.out}/${p}`),
    ...r.missing.map((p) => `missing: ${o.out}/${p}`),
    ...r.extra.map((p) => `no longer generated: ${o.out}/${p}`),
  ];
  if (lines.length === 0) { process.stdout.write(`migen: ${o.out}/ matches the manifests and inventory\n`); return 0; }
  process.stderr.write(`${lines.join('\n')}\nmigen: ${o.out}/ is out of date; run: npx migen generate ${o.positional.join(' ')}\n`);
  return 1;
}

async function inventory(o: Opts): Promise<number> {
  if (o.inventory) {
    const inv = validateInventoryShape(readInventoryFile(o.inventory));
    process.stdout.write(canonicalJson(inv));
    return 0;
  }
  const flake = o.flake ?? '.';
  const text = await evalInventory({ flake, overrideInputs: o.overrideInputs });
  const inv = validateInventoryShape(parseInventoryText(`nix eval of ${flake}`, text));
  process.stdout.write(canonicalJson(inv));
  return 0;
}

async function run(o: Opts): Promise<number> {
  const { runCommand } = await import('./run.js');
  return runCommand(o, []);
}

async function finalize(o: Opts): Promise<number> {
  const { finalizeCommand } = await import('./finalize.js');
  return finalizeCommand(o);
}

export const commands = { plan, generate, check, inventory, run, finalize } as const;
