// The only stage that touches generated/: reads it once, compares it with what render produced,
// writes what changed (and migen.sum: the sha256 of every file and of the inputs), removes what
// is no longer generated, and tells hand edits from stale files.
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { InputHashes } from '../load/inputs.js';
import type { OutFile } from '../types.js';
import { headerText, type Header } from '../render/header.js';
import type { FileChange } from '../render/plan/view.js';
import { sha256 } from '../sha256.js';

export const SUM_FILE = 'migen.sum';

/** A file whose content is not known yet (a runbook migen plan does not print): only its source digest. */
export interface PendingFile { readonly path: string; readonly digest: string }
/** A printed file; `digest`: what it was made from, recorded in migen.sum (runbooks). */
export interface Expected extends OutFile { readonly digest?: string }

interface Sum { readonly files: Map<string, { sha: string; digest: string | null }>; readonly inputs: string[] }

/** migen.sum: `file PATH SHA256 [SOURCE-DIGEST]` and `input KIND NAME SHA256` lines. */
function parseSum(text: string | null): Sum | null {
  if (text === null) return null;
  const files = new Map<string, { sha: string; digest: string | null }>();
  const inputs: string[] = [];
  for (const line of text.split('\n')) {
    const parts = line.split(' ');
    if (parts[0] === 'file' && (parts.length === 3 || parts.length === 4)) files.set(parts[1]!, { sha: parts[2]!, digest: parts[3] ?? null });
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

/** generated/ as it is: its files (read on demand, once) and its migen.sum. */
export class Output {
  readonly files: ReadonlySet<string>;
  readonly sum: Sum | null;
  private readonly texts = new Map<string, string>();
  constructor(readonly dir: string) {
    this.files = new Set(listFiles(dir));
    this.sum = parseSum(this.files.has(SUM_FILE) ? this.read(SUM_FILE) : null);
  }
  read(p: string): string {
    let t = this.texts.get(p);
    if (t === undefined) { t = readFileSync(path.join(this.dir, p), 'utf8'); this.texts.set(p, t); }
    return t;
  }
  /** The manifests migen.sum records (`input manifest PATH SHA` lines). */
  get recordedInputs(): readonly string[] { return this.sum?.inputs ?? []; }
  /** The file is as migen.sum recorded it, made from `digest`: printing it again would give the same bytes. */
  current(p: string, digest: string): boolean {
    const rec = this.sum?.files.get(p);
    return this.files.has(p) && rec !== undefined && rec.digest === digest && rec.sha === sha256(this.read(p));
  }
}

/** migen.sum for these files and inputs. */
export function sumFile(files: readonly Expected[], hashes: InputHashes, header: Header): OutFile {
  const lines = [
    `# ${SUM_FILE}: ${headerText(header)}`,
    '# sha256 of every generated file (and, for runbooks, of what it is made from) and of the inputs; `migen check` compares them.',
    ...hashes.lines,
    ...[...files].sort((a, b) => (a.path < b.path ? -1 : 1)).map((f) => `file ${f.path} ${sha256(f.content)}${f.digest ? ` ${f.digest}` : ''}`),
  ];
  return { path: SUM_FILE, content: `${lines.join('\n')}\n` };
}

const byPath = (a: { path: string }, b: { path: string }): number => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0);

/** What writing these files (plus migen.sum) would change. Pending files count as changed unless migen.sum says they are current. */
export function compareOutput(out: Output, files: readonly (Expected | PendingFile)[], sum: OutFile | null): FileChange[] {
  const changes: FileChange[] = [];
  const want = new Set(files.map((f) => f.path));
  for (const f of [...files].sort(byPath)) {
    if (!out.files.has(f.path)) changes.push({ mark: '+', path: f.path });
    else if ('content' in f) changes.push({ mark: out.read(f.path) === f.content ? ' ' : '~', path: f.path });
    else changes.push({ mark: out.current(f.path, f.digest) ? ' ' : '~', path: f.path });
  }
  const unchanged = changes.every((c) => c.mark === ' ');
  // Without every file's content, migen.sum is unchanged exactly when nothing else changes and the inputs are the same.
  const sumMark = !out.files.has(SUM_FILE) ? '+' : sum ? (out.read(SUM_FILE) === sum.content ? ' ' : '~') : unchanged && sameInputs(out, files) ? ' ' : '~';
  changes.push({ mark: sumMark, path: SUM_FILE });
  for (const p of out.files) {
    // Only files migen wrote (listed in migen.sum) are removed; anything else in the directory is the user's.
    if (!want.has(p) && p !== SUM_FILE && out.sum?.files.has(p)) changes.push({ mark: '-', path: p });
  }
  return changes.sort(byPath);
}

function sameInputs(out: Output, files: readonly (Expected | PendingFile)[]): boolean {
  return out.sum !== null && out.sum.files.size === files.length && files.every((f) => out.sum!.files.has(f.path));
}

/** Writes what changed, removes what is no longer generated. Every file is rendered before this runs. */
export function writeOutput(out: Output, files: readonly Expected[], sum: OutFile): FileChange[] {
  const all = [...files, sum];
  const changes = compareOutput(out, files, sum);
  const content = new Map(all.map((f) => [f.path, f.content]));
  for (const c of changes) {
    const full = path.join(out.dir, c.path);
    if (c.mark === '-') { rmSync(full, { force: true }); continue; }
    if (c.mark === ' ') continue;
    mkdirSync(path.dirname(full), { recursive: true });
    writeFileSync(`${full}.migen-tmp`, content.get(c.path)!);
    renameSync(`${full}.migen-tmp`, full);
  }
  pruneEmptyDirs(out.dir);
  return changes;
}

function pruneEmptyDirs(dir: string): void {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) return;
  for (const e of readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) pruneEmptyDirs(path.join(dir, e.name));
  if (readdirSync(dir).length === 0) rmSync(dir, { recursive: true });
}

export interface CheckResult { readonly stale: string[]; readonly missing: string[]; readonly extra: string[]; readonly edited: string[] }

/** Compares the directory with what would be generated, and each file with its recorded checksum. */
export function checkOutput(out: Output, files: readonly Expected[], sum: OutFile): CheckResult {
  const result: CheckResult = { stale: [], missing: [], extra: [], edited: [] };
  for (const c of compareOutput(out, files, sum)) {
    if (c.mark === '+') result.missing.push(c.path);
    else if (c.mark === '-') result.extra.push(c.path);
    else if (c.mark === '~') {
      const recorded = out.sum?.files.get(c.path);
      if (recorded && recorded.sha !== sha256(out.read(c.path))) result.edited.push(c.path);
      else result.stale.push(c.path);
    }
  }
  return result;
}
