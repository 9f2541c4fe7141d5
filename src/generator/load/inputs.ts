// The inputs besides the manifests and the inventory: the flakes' lock files, whose hashes go
// into every generated file's header and migen.sum (a changed lock is a changed plan).
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { sha256 } from '../sha256.js';

export const MIGEN_VERSION = '0.1.0';

export interface InputHashes {
  /** `input KIND PATH SHA256` lines, sorted: what migen.sum records. */
  readonly lines: readonly string[];
  /** sha256 of the lines: the headers' "inputs sha256:". */
  readonly digest: string;
}

/** Repository-relative, POSIX path: what appears in generated files. */
export const rel = (p: string): string => path.relative(process.cwd(), path.resolve(p)).split(path.sep).join('/') || '.';

/** The lock files of these flake directories that exist, with their sha256. */
export function readFlakeLocks(flakes: readonly string[]): { readonly path: string; readonly sha256: string }[] {
  return [...new Set(flakes)].sort().flatMap((f) => {
    const lock = path.join(f, 'flake.lock');
    return existsSync(lock) ? [{ path: rel(lock), sha256: sha256(readFileSync(lock)) }] : [];
  });
}

export function inputHashes(manifests: readonly { path: string; sha256: string }[], inventory: { path: string; sha256: string }, locks: readonly { path: string; sha256: string }[]): InputHashes {
  const lines = [
    ...manifests.map((m) => `input manifest ${m.path} ${m.sha256}`),
    `input inventory ${inventory.path} ${inventory.sha256}`,
    ...locks.map((l) => `input flake.lock ${l.path} ${l.sha256}`),
    `input migen ${MIGEN_VERSION} ${sha256(MIGEN_VERSION)}`,
  ].sort();
  return { lines, digest: sha256(lines.join('\n')) };
}
