import { readFileSync, writeFileSync, renameSync } from 'node:fs';
import type { Pair } from 'yaml';
import { isMap, isScalar } from 'yaml';
import { UserError } from './errors.js';
import { loadManifestSource, parseManifestText } from './generator/load/manifest.js';
import { validateManifestShape } from './generator/validate/index.js';
import type { SourceDoc } from './generator/load/source.js';

/**
 * Sets `status: done` for one migration by editing the text in place, so that comments,
 * ordering and layout stay as the user wrote them.
 */
export function setStatusDone(src: SourceDoc, name: string): string {
  const migrations = src.doc.get('migrations', true);
  const entry = isMap(migrations) ? migrations.items.find((p) => isScalar(p.key) && String(p.key.value) === name) : undefined;
  if (!entry || !isMap(entry.value)) throw new UserError('E_FINALIZE', `${src.file}: no migration named ${JSON.stringify(name)}; migrations here: ${isMap(migrations) ? migrations.items.map((p) => String((p.key as { value?: unknown }).value)).join(', ') : '(none)'}`);
  const body = entry.value;
  const status = body.items.find((p) => isScalar(p.key) && p.key.value === 'status') as Pair | undefined;
  const text = src.text;
  if (status && isScalar(status.value) && status.value.range) {
    const [start, end] = status.value.range;
    return `${text.slice(0, start)}done${text.slice(end)}`;
  }
  if (body.flow) {
    // A flow mapping ({ ... }): insert before the closing brace.
    const end = body.range![1];
    const close = text.lastIndexOf('}', end);
    return `${text.slice(0, close).replace(/\s*$/, '')}, status: done ${text.slice(close)}`;
  }
  // Block mapping: a new line after `strategy:` (or the last pair) with the same indentation.
  const after = (body.items.find((p) => isScalar(p.key) && p.key.value === 'strategy') ?? body.items[body.items.length - 1]) as Pair;
  const keyStart = (after.key as { range: [number, number, number] }).range[0];
  const lineStart = text.lastIndexOf('\n', keyStart) + 1;
  const indent = text.slice(lineStart, keyStart);
  const valueEnd = (after.value as { range?: [number, number, number] } | null)?.range?.[2] ?? keyStart;
  const lineEnd = text.indexOf('\n', valueEnd - 1 < keyStart ? keyStart : valueEnd - 1);
  const at = lineEnd === -1 ? text.length : lineEnd + 1;
  const prefix = lineEnd === -1 ? `${text}\n` : text.slice(0, at);
  return `${prefix}${indent}status: done\n${text.slice(at)}`;
}

/**
 * Sets `status: done` for migration NAME in the manifest, in place (the edit is proven to parse
 * and say done before the file is replaced). Returns a function that restores the manifest as it
 * was (for a failing regeneration), or null when it was done already.
 */
export function markDone(manifest: string, name: string): (() => void) | null {
  const src = loadManifestSource(manifest);
  const m = validateManifestShape(src);
  if (!m.migrations[name]) throw new UserError('E_FINALIZE', `${manifest}: no migration named ${JSON.stringify(name)}; migrations here: ${Object.keys(m.migrations).sort().join(', ')}`);
  if (m.migrations[name]!.status === 'done') {
    process.stdout.write(`migen: ${name} is already done in ${manifest}\n`);
    return null;
  }
  const next = setStatusDone(src, name);
  if (validateManifestShape(parseManifestText(manifest, next)).migrations[name]?.status !== 'done') throw new Error(`finalize: editing ${manifest} did not set the status`);
  const before = readFileSync(manifest, 'utf8');
  writeFileSync(`${manifest}.migen-tmp`, next);
  renameSync(`${manifest}.migen-tmp`, manifest);
  return () => writeFileSync(manifest, before);
}

/** finalize only what the hosts say was cut over and verified (else a deploy starts a second or an empty writer). */
export async function finalizeGuard(name: string, out: string, sshConfig: string | undefined): Promise<void> {
  const { plannedMigrations, statusOf } = await import('./status/index.js');
  const [m] = plannedMigrations(out, [name]);
  const s = await statusOf(m!, sshConfig, process.cwd());
  if (s.state === 'cut over' && s.problems.length === 0) return;
  if (s.state === 'finalized') return;
  const why = s.problems.length ? `; ${s.problems.join('; ')}` : '';
  throw new UserError('E_FINALIZE', `refusing to finalize ${name}: the hosts say it is ${s.state}${why}. Finalize after a cutover that passed its verification (migen status ${name}), or pass --force to finalize anyway.`);
}

/** Lifts the locks a run of NAME left on its hosts. */
export async function unlockMigration(name: string, out: string, sshConfig: string | undefined): Promise<number> {
  const { plannedMigrations, executorFor } = await import('./status/index.js');
  const { unlockScript } = await import('./runtime/lock.js');
  const { LOCK_PATH } = await import('./runbook/def.js');
  const { quote } = await import('./generator/plan/shell.js');
  const [m] = plannedMigrations(out, [name]);
  const exec = executorFor(m!, sshConfig, process.cwd());
  let code = 0;
  try {
    const hosts = [...new Set([m!.from.name, m!.to.name, ...(m!.proxy ? [m!.proxy.name] : [])])].sort();
    for (const h of hosts) {
      const r = await exec.run(unlockScript(name, LOCK_PATH, h, quote));
      process.stdout.write(`${h}: ${(r.stdout + r.stderr).trim() || (r.code === 0 ? 'done' : `exit ${r.code}`)}\n`);
      if (r.code !== 0) code = 1;
    }
  } finally { await exec.close(); }
  return code;
}
