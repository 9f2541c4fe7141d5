import { existsSync, readFileSync } from 'node:fs';

/** A minimal unified diff (whole-file hunks) for `migen plan --diff`. */
export function unifiedDiff(file: string, next: string | null): string {
  const before = existsSync(file) ? readFileSync(file, 'utf8').split('\n') : [];
  const after = next === null ? [] : next.split('\n');
  // Trim the common prefix and suffix so the hunk shows only what changes.
  let start = 0;
  while (start < before.length && start < after.length && before[start] === after[start]) start++;
  let endB = before.length; let endA = after.length;
  while (endB > start && endA > start && before[endB - 1] === after[endA - 1]) { endB--; endA--; }
  const ctx = 3;
  const s = Math.max(0, start - ctx);
  const eB = Math.min(before.length, endB + ctx); const eA = Math.min(after.length, endA + ctx);
  const out = [`--- ${existsSync(file) ? `a/${file}` : '/dev/null'}`, `+++ ${next === null ? '/dev/null' : `b/${file}`}`, `@@ -${s + 1},${eB - s} +${s + 1},${eA - s} @@`];
  for (let i = s; i < start; i++) out.push(` ${before[i]}`);
  for (let i = start; i < endB; i++) out.push(`-${before[i]}`);
  for (let i = start; i < endA; i++) out.push(`+${after[i]}`);
  for (let i = endB; i < eB; i++) out.push(` ${before[i]}`);
  return `${out.join('\n')}\n`;
}
