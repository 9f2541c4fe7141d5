// The order `migen run --all` runs migrations in (evacuating a host): after what each declares
// (after:), the SSO service after every other unless declared otherwise (the others log in
// through it), and at once only where migrations share no host (a run locks each of its hosts).
// Pure: the plan shows it, the runtime follows it.

export interface OrderItem {
  readonly name: string;
  /** Every host the run touches (and locks): old, new, proxy. */
  readonly hosts: readonly string[];
  readonly after: readonly string[];
  readonly sso: boolean;
}

export interface OrderEdge { readonly before: string; readonly after: string; readonly why: 'declared' | 'sso' }

export interface RunOrder {
  /** One group after the other; the migrations of a group at the same time. */
  readonly groups: readonly (readonly string[])[];
  readonly edges: readonly OrderEdge[];
  /** Why a migration is not in the group before its own: what it waits for. */
  readonly waits: Readonly<Record<string, string>>;
  /** Declared predecessors that are not among the items (finished, or not part of this run). */
  readonly missing: readonly { readonly name: string; readonly needs: string }[];
}

export type OrderResult = { readonly ok: true; readonly order: RunOrder } | { readonly ok: false; readonly cycle: readonly string[] };

const byName = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
export const SSO_REASON = 'the SSO service goes last (the others log in through it)';

/** A cycle of declared `after:` edges (a list whose last element is its first), or null. */
function findCycle(names: readonly string[], preds: ReadonlyMap<string, readonly string[]>): string[] | null {
  const state = new Map<string, 'open' | 'done'>();
  const path: string[] = [];
  const visit = (n: string): string[] | null => {
    if (state.get(n) === 'done') return null;
    if (state.get(n) === 'open') return [...path.slice(path.indexOf(n)), n];
    state.set(n, 'open');
    path.push(n);
    for (const p of preds.get(n) ?? []) { const c = visit(p); if (c) return c; }
    path.pop();
    state.set(n, 'done');
    return null;
  };
  for (const n of names) { const c = visit(n); if (c) return c.reverse(); }
  return null;
}

export function runOrder(items: readonly OrderItem[]): OrderResult {
  const names = items.map((i) => i.name).sort(byName);
  const item = new Map(items.map((i) => [i.name, i]));
  const declared = new Map(names.map((n) => [n, [...new Set(item.get(n)!.after)].filter((p) => item.has(p) && p !== n).sort(byName)]));
  const missing = names.flatMap((n) => item.get(n)!.after.filter((p) => !item.has(p)).sort(byName).map((needs) => ({ name: n, needs })));
  const cycle = findCycle(names, declared);
  if (cycle) return { ok: false, cycle };

  const edges: OrderEdge[] = names.flatMap((n) => declared.get(n)!.map((p) => ({ before: p, after: n, why: 'declared' as const })));
  const preds = new Map(names.map((n) => [n, new Set(declared.get(n))]));
  // Does `a` already come before `b` (by the edges so far)? Then `b` must not be moved before `a`.
  const before = (a: string, b: string, seen = new Set<string>()): boolean => {
    for (const p of preds.get(b) ?? []) {
      if (p === a) return true;
      if (!seen.has(p)) { seen.add(p); if (before(a, p, seen)) return true; }
    }
    return false;
  };
  for (const s of names.filter((n) => item.get(n)!.sso)) {
    for (const x of names) {
      if (x === s || item.get(x)!.sso || preds.get(s)!.has(x) || before(s, x)) continue;
      preds.get(s)!.add(x);
      edges.push({ before: x, after: s, why: 'sso' });
    }
  }

  const wave = new Map<string, number>();
  const deferred = new Map<string, string>();
  const groups: string[][] = [];
  const waits: Record<string, string> = {};
  while (wave.size < names.length) {
    const g = groups.length;
    const ready = names.filter((n) => !wave.has(n) && [...preds.get(n)!].every((p) => (wave.get(p) ?? Infinity) < g));
    if (ready.length === 0) throw new Error(`run order: no migration can start after group ${g} (a cycle slipped through)`);
    const group: string[] = [];
    const used = new Map<string, string>();
    for (const n of ready) {
      const clash = item.get(n)!.hosts.find((h) => used.has(h));
      if (clash) { deferred.set(n, `shares ${clash} with ${used.get(clash)}`); continue; }
      for (const h of item.get(n)!.hosts) if (!used.has(h)) used.set(h, n);
      group.push(n);
      const last = [...preds.get(n)!].filter((p) => wave.get(p) === g - 1).sort(byName);
      if (g > 0) {
        const bySso = (p: string): boolean => edges.some((e) => e.before === p && e.after === n && e.why === 'sso');
        const mine = last.filter((p) => !bySso(p));
        const sso = last.some(bySso) ? [...preds.get(n)!].filter(bySso).sort(byName) : [];
        // A predecessor in the group before, or else it was ready then but shared a host.
        waits[n] = last.length ? [mine.length ? `after ${mine.join(', ')} (declared)` : '', sso.length ? `after ${sso.join(', ')}: ${SSO_REASON}` : ''].filter(Boolean).join('; ') : deferred.get(n)!;
      }
    }
    for (const n of group) wave.set(n, g);
    groups.push(group);
  }
  return { ok: true, order: { groups, edges: edges.sort((a, b) => byName(a.after, b.after) || byName(a.before, b.before)), waits, missing } };
}
