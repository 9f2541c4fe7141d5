import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { UserError, ValidationError } from '../errors.js';
import { loadManifestSource } from './load/manifest.js';
import { evalInventory, parseInventoryText, readInventoryFile, type FlakeSource } from './load/inventory.js';
import type { SourceDoc } from './load/source.js';
import { validateAgainstInventory, validateInventoryShape, validateManifestShape } from './validate/index.js';
import type { Inventory, Manifest } from './types.js';
import { buildPlan } from './plan/build.js';
import type { Plan } from './plan/types.js';
import { sha256, readSum } from './emit/index.js';
import { locate } from './load/source.js';

export const MIGEN_VERSION = '0.1.0';

export interface InventoryOptions { readonly inventory?: string; readonly flake?: string; readonly overrideInputs?: readonly (readonly [string, string])[] }

export interface LoadedManifest { readonly path: string; readonly src: SourceDoc; readonly manifest: Manifest; readonly flake: string }
export interface LoadedInventory { readonly inventory: Inventory; readonly text: string; readonly source: { readonly kind: 'file'; readonly path: string } | { readonly kind: 'flake'; readonly path: string } }

/** Repository-relative, POSIX path: what appears in generated files. */
export const rel = (p: string): string => path.relative(process.cwd(), path.resolve(p)).split(path.sep).join('/') || '.';

function nearestFlake(from: string): string | null {
  let dir = path.resolve(from);
  for (;;) {
    if (existsSync(path.join(dir, 'flake.nix'))) return dir;
    const up = path.dirname(dir);
    if (up === dir) return null;
    dir = up;
  }
}

export function loadManifest(file: string): LoadedManifest {
  const src = loadManifestSource(file);
  const manifest = validateManifestShape(src);
  const dir = path.dirname(path.resolve(file));
  const flake = manifest.flake ? path.resolve(dir, manifest.flake) : nearestFlake(dir) ?? dir;
  return { path: rel(file), src, manifest, flake: rel(flake) };
}

export async function loadInventory(first: LoadedManifest, opts: InventoryOptions): Promise<LoadedInventory> {
  let src: SourceDoc;
  let source: LoadedInventory['source'];
  if (opts.inventory) {
    src = readInventoryFile(opts.inventory);
    source = { kind: 'file', path: rel(opts.inventory) };
  } else if (!opts.flake && first.manifest.inventory) {
    const p = path.resolve(path.dirname(path.resolve(first.path)), first.manifest.inventory);
    if (!existsSync(p)) {
      const pos = locate(first.src, ['inventory']);
      throw new ValidationError([{ file: first.path, line: pos.line, column: pos.column, message: `inventory: ${first.manifest.inventory} does not exist (resolved to ${rel(p)}); export it with \`migen inventory --flake DIR > FILE\`` }]);
    }
    src = readInventoryFile(p);
    source = { kind: 'file', path: rel(p) };
  } else {
    const flake: FlakeSource = { flake: opts.flake ?? first.flake, overrideInputs: opts.overrideInputs };
    const text = await evalInventory(flake);
    src = parseInventoryText(`nix eval of ${flake.flake}`, text);
    source = { kind: 'flake', path: rel(flake.flake) };
  }
  const inventory = validateInventoryShape(src);
  return { inventory, text: src.text, source };
}

export interface Inputs {
  readonly manifests: readonly LoadedManifest[];
  readonly inventory: LoadedInventory;
  readonly plans: readonly Plan[];
}

/**
 * Loads and validates every manifest against one inventory, and plans each.
 * All problems of all manifests are reported together.
 */
export async function prepare(files: readonly string[], opts: InventoryOptions): Promise<Inputs> {
  const loaded: LoadedManifest[] = [];
  const problems: ValidationError['problems'][number][] = [];
  for (const f of files) {
    try { loaded.push(loadManifest(f)); } catch (e) {
      if (e instanceof ValidationError) problems.push(...e.problems); else throw e;
    }
  }
  if (problems.length) throw new ValidationError(problems);
  const inventory = await loadInventory(loaded[0]!, opts);
  for (const m of loaded) {
    try { validateAgainstInventory(m.src, m.manifest, inventory.inventory); } catch (e) {
      if (e instanceof ValidationError) problems.push(...e.problems); else throw e;
    }
  }
  // A migration name must be unique across the manifests written into one generated/.
  const seen = new Map<string, string>();
  for (const m of loaded) for (const name of Object.keys(m.manifest.migrations)) {
    const other = seen.get(name);
    if (other && other !== m.path) {
      const pos = locate(m.src, ['migrations', name], { key: true });
      problems.push({ file: m.path, line: pos.line, column: pos.column, message: `migration ${name} is also defined in ${other}; names must be unique across the manifests of one generated/ directory` });
    }
    seen.set(name, m.path);
  }
  if (problems.length) throw new ValidationError(problems);
  const plans = loaded.map((m) => buildPlan(m.manifest, inventory.inventory, { manifestPath: m.path, flake: m.flake }));
  return { manifests: loaded, inventory, plans };
}

/** The manifests recorded in outDir/migen.sum that still exist, plus the ones given. */
export function manifestSet(given: readonly string[], outDir: string): string[] {
  const set = new Set(given.map(rel));
  const sum = readSum(outDir);
  for (const line of sum?.inputs ?? []) {
    const [, kind, p] = line.split(' ');
    if (kind === 'manifest' && p && existsSync(p)) set.add(p);
  }
  return [...set].sort();
}

export function inputHashes(inputs: Inputs): { lines: string[]; digest: string } {
  const lines: string[] = [];
  for (const m of inputs.manifests) lines.push(`input manifest ${m.path} ${sha256(m.src.text)}`);
  lines.push(`input inventory ${inputs.inventory.source.path} ${sha256(inputs.inventory.text)}`);
  const flakes = [...new Set(inputs.manifests.map((m) => m.flake))].sort();
  for (const f of flakes) {
    const lock = path.join(f, 'flake.lock');
    if (existsSync(lock)) lines.push(`input flake.lock ${rel(lock)} ${sha256(readFileSync(lock))}`);
  }
  lines.push(`input migen ${MIGEN_VERSION} ${sha256(MIGEN_VERSION)}`);
  lines.sort();
  return { lines, digest: sha256(lines.join('\n')) };
}

export { UserError };
