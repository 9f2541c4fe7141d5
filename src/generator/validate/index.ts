import { ValidationError, type Problem } from '../../errors.js';
import { locate, type SourceDoc } from '../load/source.js';
import { manifestData } from '../load/manifest.js';
import type { Inventory, Manifest } from '../types.js';
import { schemaProblems } from './schema.js';
import { semanticFindings } from './rules.js';

/** Schema-checks the manifest document; throws one ValidationError listing every problem. */
export function validateManifestShape(src: SourceDoc): Manifest {
  const data = manifestData(src);
  const problems = schemaProblems('manifest', data, src);
  if (problems.length > 0) throw new ValidationError(problems);
  return data as Manifest;
}

/** Checks the manifest against the inventory (hosts, services, secrets, routes). */
export function validateAgainstInventory(src: SourceDoc, manifest: Manifest, inventory: Inventory): void {
  const problems: Problem[] = semanticFindings(manifest, inventory).map((f) => {
    const pos = locate(src, f.path, { key: f.key });
    return { file: src.file, line: pos.line, column: pos.column, message: f.message };
  });
  const seen = new Set<string>();
  const unique = problems.filter((p) => { const k = `${p.line}:${p.column}:${p.message}`; if (seen.has(k)) return false; seen.add(k); return true; });
  if (unique.length > 0) throw new ValidationError(unique.sort((a, b) => a.line - b.line || a.column - b.column));
}

export function validateInventoryShape(src: SourceDoc): Inventory {
  const data = manifestData(src);
  const problems = schemaProblems('inventory', data, src);
  if (problems.length > 0) throw new ValidationError(problems);
  return data as Inventory;
}
