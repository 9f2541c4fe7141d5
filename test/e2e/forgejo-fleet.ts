/**
 * e2e helpers for the Forgejo move (forgejo.test.ts): a --root with the forgejo manifest, the git
 * clients' operations as intervals, and what "nothing acknowledged is lost" means on a host.
 */
import fs from 'node:fs';
import path from 'node:path';
import { expect } from 'vitest';
import { FORGEJO, forgejoChecks as fc, type AckedPush, type FailedPush, type ReadSample } from '../lab/forgejo/index.js';
import type { Lab } from '../lab/index.js';
import { makeRoot, REPO } from './helpers.js';
import { activeOn } from './fleet.js';

export function makeForgejoRoot(lab: Lab): string {
  const root = makeRoot(lab);
  fs.copyFileSync(path.join(REPO, 'examples/homelab/migrations/forgejo.yaml'), path.join(root, 'examples/homelab/migrations/forgejo.yaml'));
  return root;
}

export async function waitFor(what: string, pred: () => boolean | Promise<boolean>, timeoutMs = 120_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await pred())) {
    if (Date.now() > until) throw new Error(`timeout waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** which host answers https://DOMAIN/healthz through o001 (the lab app's body), or the error */
export async function viaProxy(lab: Lab, domain: string): Promise<string> {
  const r = await lab.operator(['curl', '-sS', '--max-time', '3', '--resolve', `${domain}:443:100.64.0.1`, `https://${domain}/healthz`]);
  return r.code === 0 ? r.stdout.trim() : `curl exit ${r.code}: ${r.stderr.trim()}`;
}

/** One git operation of a client: from its start `s` to its end `e`. */
interface Op { s: number; e: number; ok: boolean; what: string }
const ops = (acked: AckedPush[], failed: FailedPush[], reads: ReadSample[]): Op[] => [
  ...acked.map((a) => ({ s: a.t - a.ms, e: a.t, ok: true, what: `push ${a.seq}` })),
  ...failed.map((f) => ({ s: f.t - f.ms, e: f.t, ok: false, what: `push ${f.seq} (exit ${f.code})` })),
  ...reads.map((r) => ({ s: r.t - r.ms, e: r.t, ok: r.ok, what: r.kind })),
].sort((a, b) => a.e - b.e);

/**
 * Bounds of the clients' outage from their operations. A failed operation saw the service down at
 * some moment of it, a successful one up: the outage began after the start of the last success
 * before the first failure and before that failure's end, and ended after the start of the last
 * failure and before the end of the first success after it. So it lasted at least `lower` (last
 * failure's start minus first failure's end) and at most `upper`.
 */
export function outageBounds(acked: AckedPush[], failed: FailedPush[], reads: ReadSample[]): { lower: number; upper: number; failures: Op[]; total: number } {
  const all = ops(acked, failed, reads);
  const failures = all.filter((o) => !o.ok);
  if (!failures.length) return { lower: 0, upper: 0, failures, total: all.length };
  const firstEnd = Math.min(...failures.map((f) => f.e));
  const lastStart = Math.max(...failures.map((f) => f.s));
  const before = all.filter((o) => o.ok && o.s < firstEnd).map((o) => o.s);
  const after = all.filter((o) => o.ok && o.e > lastStart).map((o) => o.e);
  const upper = (after.length ? Math.min(...after) : NaN) - (before.length ? Math.max(...before) : NaN);
  return { lower: Math.max(0, lastStart - firstEnd), upper, failures, total: all.length };
}

/**
 * Forgejo serves from h002 only, with every push its clients were told succeeded: each
 * acknowledged commit in main's history there, main at the last one, each one's push_events row
 * (same old and new ids) in h002's container PostgreSQL, `git fsck` clean, and the refs a read
 * after the last push saw equal h002's. Returns h002's rows by the host that recorded them.
 */
export async function everythingOnH002(lab: Lab, acked: AckedPush[], lastRead: ReadSample | undefined): Promise<Record<string, number>> {
  expect(await activeOn(lab, FORGEJO.unit, ['h001', 'h002'])).toEqual(['h002']);
  expect(await fc.containerProcesses(lab, 'h001')).toEqual([]);
  expect(await fc.servedBy(lab)).toBe('h002');
  const hist = new Set(await fc.history(lab, 'h002'));
  expect(acked.filter((a) => !hist.has(a.new))).toEqual([]);
  const refs = await fc.refs(lab, 'h002');
  expect(refs['refs/heads/main']).toBe(acked.at(-1)!.new);
  if (lastRead) expect(lastRead.refs).toEqual(Object.fromEntries(Object.entries(refs).filter(([r]) => r.startsWith('refs/heads/'))));
  expect(await fc.fsck(lab, 'h002')).toMatchObject({ ok: true });
  const rows = new Map((await fc.pushEvents(lab, 'h002')).map((r) => [r.id, r]));
  expect(acked.filter((a) => { const r = rows.get(a.event); return !r || r.new !== a.new || r.old !== a.old; })).toEqual([]);
  const by: Record<string, number> = {};
  for (const a of acked) { const h = rows.get(a.event)!.host; by[h] = (by[h] ?? 0) + 1; }
  return by;
}
