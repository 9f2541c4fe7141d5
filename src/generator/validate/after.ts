// `after:` across the manifests of one generated/ directory: every name a migration runs after
// exists, and the declared order has no cycle (migen run --all could never start it).
import type { Problem } from '../../errors.js';
import { locate, type SourceDoc } from '../load/source.js';
import type { Manifest } from '../types.js';
import { runOrder } from '../plan/order.js';

interface LoadedManifest { readonly path: string; readonly src: SourceDoc; readonly manifest: Manifest }

export function afterProblems(manifests: readonly LoadedManifest[]): Problem[] {
  const where = new Map<string, LoadedManifest>();
  for (const lm of manifests) for (const n of Object.keys(lm.manifest.migrations)) where.set(n, lm);
  const problems: Problem[] = [];
  const at = (lm: LoadedManifest, path: (string | number)[], message: string): void => {
    const pos = locate(lm.src, path);
    problems.push({ file: lm.path, line: pos.line, column: pos.column, message });
  };
  const known = [...where.keys()].sort();
  for (const lm of manifests) {
    for (const [name, m] of Object.entries(lm.manifest.migrations).sort(([a], [b]) => (a < b ? -1 : 1))) {
      (m.after ?? []).forEach((a, i) => {
        if (a === name) at(lm, ['migrations', name, 'after', i], `migrations.${name}.after.${i}: ${name} cannot run after itself`);
        else if (!where.has(a)) at(lm, ['migrations', name, 'after', i], `migrations.${name}.after.${i}: no migration ${JSON.stringify(a)} in these manifests; known: ${known.join(', ')}`);
      });
    }
  }
  if (problems.length) return problems;
  const r = runOrder(known.map((n) => ({ name: n, hosts: [], after: where.get(n)!.manifest.migrations[n]!.after ?? [], sso: false })));
  if (!r.ok) {
    const first = r.cycle[1]!;
    const lm = where.get(first)!;
    const i = (lm.manifest.migrations[first]!.after ?? []).indexOf(r.cycle[0]!);
    at(lm, ['migrations', first, 'after', Math.max(0, i)], `migrations.${first}.after: the declared order has a cycle (${r.cycle.join(' before ')}); migen run --all could never start it`);
  }
  return problems;
}
