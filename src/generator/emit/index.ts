import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync, statSync } from 'node:fs';
import path from 'node:path';
import type { FileChange } from '../render/plan/view.js';

export interface OutFile { readonly path: string; readonly content: string }

export const sha256 = (s: string | Buffer): string => createHash('sha256').update(s).digest('hex');

export const SUM_FILE = 'migen.sum';

/** Parses migen.sum: `file PATH SHA` and `input KIND NAME SHA` lines. */
export function readSum(outDir: string): { files: Map<string, string>; inputs: string[] } | null {
  const p = path.join(outDir, SUM_FILE);
  if (!existsSync(p)) return null;
  const files = new Map<string, string>();
  const inputs: string[] = [];
  for (const line of readFileSync(p, 'utf8').split('\n')) {
    const parts = line.split(' ');
    if (parts[0] === 'file' && parts.length === 3) files.set(parts[1]!, parts[2]!);
    else if (parts[0] === 'input') inputs.push(line);
  }
  return { files, inputs };
}

function listFiles(dir: string, base = dir): string[] {
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...listFiles(p, base));
    else out.push(path.relative(base, p).split(path.sep).join('/'));
  }
  return out.sort();
}

/** What writing `files` into outDir would change. Paths in `files` are relative to outDir. */
export function diffOutput(outDir: string, files: readonly OutFile[]): FileChange[] {
  const want = new Map(files.map((f) => [f.path, f.content]));
  const have = new Set(listFiles(outDir));
  const changes: FileChange[] = [];
  for (const [p, content] of [...want].sort(([a], [b]) => (a < b ? -1 : 1))) {
    const full = path.join(outDir, p);
    if (!have.has(p)) changes.push({ mark: '+', path: p });
    else changes.push({ mark: readFileSync(full, 'utf8') === content ? ' ' : '~', path: p });
  }
  const sum = readSum(outDir);
  for (const p of [...have].sort()) {
    // Only files migen wrote (listed in migen.sum) are removed; anything else in outDir is the user's.
    if (!want.has(p) && (sum?.files.has(p) || p === SUM_FILE)) changes.push({ mark: '-', path: p });
  }
  return changes.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/** Writes only what changed, removes what is no longer generated. All content is rendered before this runs. */
export function writeOutput(outDir: string, files: readonly OutFile[]): FileChange[] {
  const changes = diffOutput(outDir, files);
  const byPath = new Map(files.map((f) => [f.path, f.content]));
  for (const c of changes) {
    const full = path.join(outDir, c.path);
    if (c.mark === '-') { rmSync(full, { force: true }); continue; }
    if (c.mark === ' ') continue;
    mkdirSync(path.dirname(full), { recursive: true });
    const tmp = `${full}.migen-tmp`;
    writeFileSync(tmp, byPath.get(c.path)!);
    renameSync(tmp, full);
  }
  pruneEmptyDirs(outDir);
  return changes;
}

function pruneEmptyDirs(dir: string): void {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) return;
  for (const e of readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) pruneEmptyDirs(path.join(dir, e.name));
  if (readdirSync(dir).length === 0) rmSync(dir, { recursive: true });
}

export interface CheckResult { readonly stale: string[]; readonly missing: string[]; readonly extra: string[]; readonly edited: string[] }

/** Compares outDir with what would be generated, and each file with its recorded checksum. */
export function checkOutput(outDir: string, files: readonly OutFile[]): CheckResult {
  const sum = readSum(outDir);
  const result: CheckResult = { stale: [], missing: [], extra: [], edited: [] };
  for (const c of diffOutput(outDir, files)) {
    if (c.mark === '+') result.missing.push(c.path);
    else if (c.mark === '-') result.extra.push(c.path);
    else if (c.mark === '~') {
      const recorded = sum?.files.get(c.path);
      const actual = sha256(readFileSync(path.join(outDir, c.path)));
      if (recorded && recorded !== actual) result.edited.push(c.path);
      else result.stale.push(c.path);
    }
  }
  return result;
}
