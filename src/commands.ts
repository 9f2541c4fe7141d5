// The commands: read (load), plan, render, then emit; thin glue over the pipeline's stages.
import path from 'node:path';
import { flag, overridesOf, str, type Parsed } from './args.js';
import { UserError } from './errors.js';
import { compareOutput, checkOutput, Output, sumFile, writeOutput, type Expected } from './generator/emit/index.js';
import { canonicalJson, evalInventory, parseInventoryText, readInventoryFile } from './generator/load/inventory.js';
import { manifestSet, prepare, type Inputs } from './generator/pipeline.js';
import { renderAll } from './generator/render/index.js';
import { planJson, renderPlanMarkdown, renderPlanText } from './generator/render/plan/index.js';
import { planOrder } from './generator/render/plan/order-view.js';
import { printRunbooks } from './generator/render/runbook/index.js';
import { validateInventoryShape } from './generator/validate/index.js';

const outDir = (a: Parsed): string => str(a.values, 'out') ?? 'generated';
const source = (a: Parsed) => ({ inventory: str(a.values, 'inventory'), flake: str(a.values, 'flake'), overrideInputs: overridesOf(a.values) });

function needManifests(a: Parsed, cmd: string): string[] {
  if (a.positionals.length === 0) throw new UserError('E_USAGE', `migen ${cmd} needs at least one MANIFEST; see migen ${cmd} --help`);
  return [...a.positionals];
}

/** The manifests given plus those already recorded in the output's migen.sum, prepared. */
async function inputsFor(a: Parsed, out: Output, manifests: readonly string[]): Promise<Inputs> {
  return prepare(manifestSet(manifests, out.recordedInputs), source(a));
}

/** Everything generate writes, runbooks printed (ts-morph), and migen.sum. */
async function rendered(inputs: Inputs): Promise<{ files: Expected[]; sum: Expected }> {
  const { files, runbooks } = renderAll(inputs);
  const printed = await printRunbooks(runbooks);
  const all: Expected[] = [...files, ...printed.map((f, i) => ({ ...f, digest: runbooks[i]!.digest }))];
  return { files: all, sum: sumFile(all, inputs.hashes, { manifests: inputs.manifests.map((m) => m.path), digest: inputs.hashes.digest }) };
}

async function plan(a: Parsed): Promise<number> {
  const manifests = needManifests(a, 'plan');
  const format = str(a.values, 'format') ?? 'text';
  if (!['text', 'markdown', 'json'].includes(format)) throw new UserError('E_USAGE', `--format ${format}: expected text, markdown or json`);
  const dir = outDir(a);
  const out = new Output(dir);
  const inputs = await inputsFor(a, out, manifests);
  // Runbooks are compared by what they are made from (migen.sum records it), so migen plan never
  // loads the TypeScript compiler; --diff prints them.
  const diff = flag(a.values, 'diff');
  const { files, runbooks } = renderAll(inputs);
  const full = diff ? await rendered(inputs) : null;
  const changes = (full ? compareOutput(out, full.files, full.sum) : compareOutput(out, [...files, ...runbooks], null)).map((c) => ({ ...c, path: `${dir}/${c.path}` }));
  const given = new Set(manifests.map((x) => path.resolve(x)));
  const shown = inputs.plans.filter((p) => given.has(path.resolve(p.manifest)));
  const fileChanges = changes.some((c) => c.mark !== ' ');
  // The order of migen run --all over every migration shown: in each JSON document, after the last text or markdown plan.
  const order = planOrder(shown);
  shown.forEach((p, i) => {
    const last = i === shown.length - 1 ? order?.view ?? null : null;
    if (format === 'json') process.stdout.write(canonicalJson(planJson(p, changes, order?.order ?? null)));
    else if (format === 'markdown') process.stdout.write(renderPlanMarkdown(p, changes, last));
    else process.stdout.write(renderPlanText(p, changes, last));
  });
  if (full && fileChanges) {
    const { unifiedDiff } = await import('./generator/emit/diff.js');
    const byPath = new Map([...full.files, full.sum].map((f) => [`${dir}/${f.path}`, f.content]));
    for (const c of changes.filter((x) => x.mark !== ' ')) process.stdout.write(unifiedDiff(c.path, byPath.get(c.path) ?? null));
  }
  // Pending: generated/ would change, or a shown migration is still planned (the fleet will change).
  return fileChanges || shown.some((p) => p.migrations.some((m) => m.status === 'planned')) ? 2 : 0;
}

async function generate(a: Parsed, manifests = needManifests(a, 'generate')): Promise<number> {
  const dir = outDir(a);
  const out = new Output(dir);
  const { files, sum } = await rendered(await inputsFor(a, out, manifests));
  const changed = writeOutput(out, files, sum).filter((c) => c.mark !== ' ');
  for (const c of changed) process.stdout.write(`${c.mark} ${dir}/${c.path}\n`);
  process.stdout.write(changed.length ? `migen: wrote ${changed.length} file(s) in ${dir}/\n` : `migen: ${dir}/ is up to date\n`);
  return 0;
}

async function check(a: Parsed): Promise<number> {
  const manifests = needManifests(a, 'check');
  const dir = outDir(a);
  const out = new Output(dir);
  const { files, sum } = await rendered(await inputsFor(a, out, manifests));
  const r = checkOutput(out, files, sum);
  const lines = [
    ...r.edited.map((p) => `edited by hand: ${dir}/${p}`),
    ...r.stale.map((p) => `stale: ${dir}/${p}`),
    ...r.missing.map((p) => `missing: ${dir}/${p}`),
    ...r.extra.map((p) => `no longer generated: ${dir}/${p}`),
  ];
  if (lines.length === 0) { process.stdout.write(`migen: ${dir}/ matches the manifests and inventory\n`); return 0; }
  process.stderr.write(`${lines.join('\n')}\nmigen: ${dir}/ is out of date; run: npx migen generate ${manifests.join(' ')}\n`);
  return 1;
}

async function inventory(a: Parsed): Promise<number> {
  const file = str(a.values, 'inventory');
  const flake = str(a.values, 'flake') ?? '.';
  const src = file ? readInventoryFile(file) : parseInventoryText(`nix eval of ${flake}`, await evalInventory({ flake, overrideInputs: overridesOf(a.values) }));
  process.stdout.write(canonicalJson(validateInventoryShape(src)));
  return 0;
}

async function finalize(a: Parsed): Promise<number> {
  const [name, manifest] = a.positionals;
  if (!name || !manifest) throw new UserError('E_USAGE', 'migen finalize needs NAME and MANIFEST, e.g. migen finalize forgejo examples/homelab/migrations/forgejo.yaml');
  const { markDone, finalizeGuard } = await import('./finalize.js');
  if (!flag(a.values, 'force')) await finalizeGuard(name, outDir(a), str(a.values, 'ssh-config'));
  const restore = markDone(manifest, name);
  try {
    return await generate(a, [manifest]);
  } catch (e) {
    restore?.();
    throw e;
  }
}

async function run(a: Parsed): Promise<number> {
  const { runCommand } = await import('./run.js');
  return runCommand(a);
}

async function status(a: Parsed): Promise<number> {
  const format = str(a.values, 'format') ?? 'text';
  if (!['text', 'json'].includes(format)) throw new UserError('E_USAGE', `--format ${format}: expected text or json`);
  const { plannedMigrations, statusOf, statusText } = await import('./status/index.js');
  const ms = plannedMigrations(outDir(a), a.positionals);
  const all = await Promise.all(ms.map(async (m) => ({ m, s: await statusOf(m, str(a.values, 'ssh-config'), process.cwd()) })));
  if (format === 'json') process.stdout.write(canonicalJson(all.map(({ s }) => s)));
  else for (const { m, s } of all) process.stdout.write(statusText(m, s));
  return all.every(({ s }) => s.problems.length === 0) ? 0 : 1;
}

async function unlock(a: Parsed): Promise<number> {
  const [name, ...extra] = a.positionals;
  if (!name || extra.length) throw new UserError('E_USAGE', 'migen unlock needs one NAME, e.g. migen unlock vaultwarden');
  const { unlockMigration } = await import('./finalize.js');
  return unlockMigration(name, outDir(a), str(a.values, 'ssh-config'));
}

export const commands = { plan, generate, check, inventory, finalize, run, status, unlock } as const;
