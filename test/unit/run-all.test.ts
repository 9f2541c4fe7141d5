// `migen run --all`: which migrations it picks (run-all/select.ts), how it runs the groups
// (run-all/schedule.ts: a group at once, the next only after all of it, nothing after a failure),
// and the command on the committed example (dry run: the order and every runbook, in order).
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { MigrationPlan } from '../../src/generator/plan/types.js';
import { runGroups } from '../../src/run-all/schedule.js';
import { select, type LastRun, type PlanFile } from '../../src/run-all/select.js';
import { migen } from '../helpers/cli.js';

const host = (name: string) => ({ name, address: '', ssh: `root@${name}`, deploy: 'nixos-rebuild' as const });
const plan = (name: string, service: string, from: string, to: string, extra: Partial<MigrationPlan> = {}): MigrationPlan =>
  ({ name, service, from: host(from), to: host(to), proxy: host('o001'), after: [], status: 'planned', ...extra }) as unknown as MigrationPlan;
const PLANS: PlanFile[] = [
  { manifest: 'm/forgejo.yaml', migrations: [plan('forgejo', 'forgejo', 'h001', 'h002')] },
  { manifest: 'm/zitadel.yaml', migrations: [plan('zitadel', 'zitadel', 'h001', 'h002')] },
  { manifest: 'm/headscale.yaml', migrations: [plan('headscale', 'headscale', 'l001', 'newvps', { proxy: null })] },
  { manifest: 'm/app.yaml', migrations: [plan('app', 'custom', 'h001', 'h005', { after: ['headscale'] })] },
];
const none = (): LastRun => null;
const runs = (r: Record<string, LastRun>) => (n: string): LastRun => r[n] ?? null;

const CASES: [string, { manifests: string[]; last?: (n: string) => LastRun; from?: string; groups?: string[][]; skipped?: string[]; error?: RegExp }][] = [
  ['evacuating h001: forgejo, then zitadel', { manifests: ['m/forgejo.yaml', 'm/zitadel.yaml'], groups: [['forgejo'], ['zitadel']] }],
  ['--from keeps the migrations leaving that host', { manifests: ['m/forgejo.yaml', 'm/zitadel.yaml', 'm/headscale.yaml'], from: 'h001', groups: [['forgejo'], ['zitadel']] }],
  ['every manifest: what shares no host runs at once', { manifests: ['m/forgejo.yaml', 'm/zitadel.yaml', 'm/headscale.yaml'], groups: [['forgejo', 'headscale'], ['zitadel']] }],
  ['a migration whose last run finished is skipped (finalize it)', { manifests: ['m/forgejo.yaml', 'm/zitadel.yaml'], last: runs({ forgejo: { status: 'done', runId: 'r1' } }), groups: [['zitadel']], skipped: ['forgejo'] }],
  ['a failed or rolled-back run is run again', { manifests: ['m/forgejo.yaml'], last: runs({ forgejo: { status: 'rolled-back', runId: 'r1' } }), groups: [['forgejo']] }],
  ['an unfinished run must be resumed or rolled back first', { manifests: ['m/forgejo.yaml'], last: runs({ forgejo: { status: 'running', runId: 'r7' } }), error: /an earlier run \(r7\) of forgejo did not finish: migen run forgejo --resume/ }],
  ['a declared predecessor outside the run must have finished', { manifests: ['m/app.yaml'], error: /app runs after headscale, which is neither finished nor part of this run/ }],
  ['... and is fine once it has', { manifests: ['m/app.yaml', 'm/headscale.yaml'], last: runs({ headscale: { status: 'done', runId: 'r2' } }), groups: [['app']], skipped: ['headscale'] }],
  ['a manifest without generated plans', { manifests: ['m/nope.yaml'], error: /no generated plan for m\/nope\.yaml: run migen generate/ }],
  ['--from a host nothing leaves', { manifests: ['m/forgejo.yaml'], from: 'h009', error: /no migration of these manifests moves a service from h009/ }],
];

describe('migen run --all: the selection', () => {
  it.each(CASES)('%s', (_name, c) => {
    const run = () => select(PLANS, c.manifests, c.last ?? none, c.from ?? null);
    if (c.error) { expect(run).toThrow(c.error); return; }
    const s = run();
    expect(s.order.groups).toEqual(c.groups);
    expect(s.skipped.map((x) => x.name)).toEqual(c.skipped ?? []);
  });
});

/** A start function whose runs the test finishes by hand: what started, and when. */
function controlled() {
  const started: string[] = [];
  const finish = new Map<string, (code: number) => void>();
  const start = (name: string) => new Promise<number>((resolve) => { started.push(name); finish.set(name, resolve); });
  const tick = () => new Promise((r) => setImmediate(r));
  return { started, start, tick, end: async (name: string, code = 0) => { finish.get(name)!(code); await tick(); } };
}

describe('migen run --all: the schedule', () => {
  it('a group at once; the next group starts only once all of the previous one ended', async () => {
    const c = controlled();
    const done = runGroups([['a', 'b'], ['c']], c.start);
    await c.tick();
    expect(c.started).toEqual(['a', 'b']);
    await c.end('a');
    expect(c.started).toEqual(['a', 'b']); // b still runs: c waits
    await c.end('b');
    expect(c.started).toEqual(['a', 'b', 'c']);
    await c.end('c');
    expect(await done).toEqual({ results: [{ name: 'a', code: 0 }, { name: 'b', code: 0 }, { name: 'c', code: 0 }], notStarted: [] });
  });

  it('a failure: the rest of its group finishes, nothing after it starts', async () => {
    const c = controlled();
    const done = runGroups([['a', 'b'], ['c'], ['d']], c.start);
    await c.tick();
    await c.end('a', 3);
    expect(c.started).toEqual(['a', 'b']);
    await c.end('b');
    expect(await done).toEqual({ results: [{ name: 'a', code: 3 }, { name: 'b', code: 0 }], notStarted: ['c', 'd'] });
    expect(c.started).toEqual(['a', 'b']);
  });

  it('a failure in the first of two sequential migrations leaves the second untouched', async () => {
    const c = controlled();
    const done = runGroups([['forgejo'], ['zitadel']], c.start);
    await c.tick();
    await c.end('forgejo', 3);
    expect(await done).toEqual({ results: [{ name: 'forgejo', code: 3 }], notStarted: ['zitadel'] });
    expect(c.started).toEqual(['forgejo']);
  });
});

describe('migen run --all on the committed example', () => {
  it('--dry-run --from h001: the order, then every command of forgejo, then of zitadel', () => {
    const r = migen(['run', '--all', 'examples/homelab/migrations/forgejo.yaml', 'examples/homelab/migrations/zitadel.yaml', 'examples/homelab/migrations/headscale.yaml', '--from', 'h001', '--dry-run',
      '--root', mkdtempSync(path.join(tmpdir(), 'migen-all-'))]); // no journals of earlier runs there
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^migen run --all: 2 migration\(s\) in 2 group\(s\)/);
    expect(r.stdout).toContain('  1. forgejo\n  2. zitadel\n       zitadel: after forgejo: the SSO service goes last');
    expect(r.stdout).not.toContain('[headscale]');
    const f = r.stdout.indexOf('[forgejo] migen run forgejo --dry-run');
    const z = r.stdout.indexOf('[zitadel] migen run zitadel --dry-run');
    expect(f).toBeGreaterThan(0);
    expect(z).toBeGreaterThan(f);
    expect(r.stdout.lastIndexOf('[forgejo]')).toBeLessThan(z); // one after the other, not interleaved
    expect(r.stdout).toMatch(/\n {2}forgejo: done\n {2}zitadel: done\n$/);
  });

  it('without --yes and not on a terminal it runs nothing', () => {
    const r = migen(['run', '--all', 'examples/homelab/migrations/forgejo.yaml', '--root', '/nonexistent-root']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/not on a terminal: pass --yes/);
    expect(r.stdout).not.toContain('[forgejo]');
  });

  it('--resume belongs to one migration', () => {
    const r = migen(['run', '--all', 'examples/homelab/migrations/forgejo.yaml', '--resume']);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('migen: --resume applies to one migration: migen run NAME --resume\n');
  });
});
