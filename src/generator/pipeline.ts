// load -> validate -> plan, for every manifest against one inventory. Reading happens here and in
// load/; what follows (plan, render) is pure.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { ValidationError, type Problem } from '../errors.js';
import { loadManifestSource } from './load/manifest.js';
import { evalInventory, parseInventoryText, readInventoryFile, type FlakeSource } from './load/inventory.js';
import { inputHashes, readFlakeLocks, rel, type InputHashes } from './load/inputs.js';
import { locate, type SourceDoc } from './load/source.js';
import { buildPlan } from './plan/build.js';
import type { Plan } from './plan/types.js';
import { sha256 } from './sha256.js';
import type { Inventory, Manifest } from './types.js';
import { afterProblems } from './validate/after.js';
import { validateAgainstInventory, validateInventoryShape, validateManifestShape } from './validate/index.js';

export interface InventoryOptions { readonly inventory?: string; readonly flake?: string; readonly overrideInputs?: readonly (readonly [string, string])[] }

export interface LoadedManifest { readonly path: string; readonly src: SourceDoc; readonly manifest: Manifest; readonly flake: string; readonly sha256: string }
export interface LoadedInventory { readonly inventory: Inventory; readonly sha256: string; readonly source: { readonly kind: 'file' | 'flake'; readonly path: string } }

export interface Inputs {
  readonly manifests: readonly LoadedManifest[];
  readonly inventory: LoadedInventory;
  readonly hashes: InputHashes;
  readonly plans: readonly Plan[];
}

function nearestFlake(from: string): string | null {
  for (let dir = path.resolve(from); ; dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, 'flake.nix'))) return dir;
    if (path.dirname(dir) === dir) return null;
  }
}

export function loadManifest(file: string): LoadedManifest {
  const src = loadManifestSource(file);
  const manifest = validateManifestShape(src);
  const dir = path.dirname(path.resolve(file));
  const flake = manifest.flake ? path.resolve(dir, manifest.flake) : nearestFlake(dir) ?? dir;
  return { path: rel(file), src, manifest, flake: rel(flake), sha256: sha256(src.text) };
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
    src = parseInventoryText(`nix eval of ${flake.flake}`, await evalInventory(flake));
    source = { kind: 'flake', path: rel(flake.flake) };
  }
  return { inventory: validateInventoryShape(src), sha256: sha256(src.text), source };
}

/** Collects the ValidationErrors of each call; rethrows anything else. */
function collect(problems: Problem[], f: () => void): void {
  try { f(); } catch (e) { if (e instanceof ValidationError) problems.push(...e.problems); else throw e; }
}

/** Loads and validates every manifest against one inventory, and plans each. All problems of all manifests are reported together. */
export async function prepare(files: readonly string[], opts: InventoryOptions): Promise<Inputs> {
  const manifests: LoadedManifest[] = [];
  const problems: Problem[] = [];
  for (const f of files) collect(problems, () => { manifests.push(loadManifest(f)); });
  if (problems.length) throw new ValidationError(problems);
  const inventory = await loadInventory(manifests[0]!, opts);
  for (const m of manifests) collect(problems, () => validateAgainstInventory(m.src, m.manifest, inventory.inventory));
  // A migration name must be unique across the manifests written into one generated/.
  const seen = new Map<string, string>();
  for (const m of manifests) for (const name of Object.keys(m.manifest.migrations)) {
    const other = seen.get(name);
    if (other && other !== m.path) {
      const pos = locate(m.src, ['migrations', name], { key: true });
      problems.push({ file: m.path, line: pos.line, column: pos.column, message: `migration ${name} is also defined in ${other}; names must be unique across the manifests of one generated/ directory` });
    }
    seen.set(name, m.path);
  }
  problems.push(...afterProblems(manifests));
  if (problems.length) throw new ValidationError(problems);
  const hashes = inputHashes(manifests, { path: inventory.source.path, sha256: inventory.sha256 }, readFlakeLocks(manifests.map((m) => m.flake)));
  const plans = manifests.map((m) => buildPlan(m.manifest, inventory.inventory, { manifestPath: m.path, flake: m.flake }));
  return { manifests, inventory, hashes, plans };
}

/** The manifests already recorded in outDir/migen.sum (input lines) that still exist, plus the ones given. */
export function manifestSet(given: readonly string[], recorded: readonly string[]): string[] {
  const set = new Set(given.map(rel));
  for (const line of recorded) {
    const [, kind, p] = line.split(' ');
    if (kind === 'manifest' && p && existsSync(p)) set.add(p);
  }
  return [...set].sort();
}
