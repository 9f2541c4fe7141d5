// The cutover coordinator (src/runtime/coordinator.sh) run by real bash on this machine, every
// host of its bundle "local": the order of its steps, its rollback (newest first, pre-window undos
// last, a half-done step's undo), an abort from the operator, a crash and the restart that systemd
// would do, heartbeats and --no-rollback's hold. The lab runs it as a transient unit on real hosts.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { bundleFiles, parseEvents, type FleetEvent } from '../../src/runtime/fleet.js';
import type { Journal, RunbookDef } from '../../src/runtime/index.js';
import type { Step } from '../../src/runbook/steps.js';

const mark = (id: string): string => `echo ${id} >> "$BASE/log"; test ! -e "$BASE/fail-${id}"`;
const undo = (id: string) => ({ on: 'old', script: `echo undo-${id} >> "$BASE/log"` });
const cmd = (id: string, on: string, extra: Partial<Step> = {}): Step => ({ id, phase: 'cutover', kind: 'command', title: id, window: true, fleet: true, run: { on, script: mark(id) }, ...extra } as Step);

let HB = '';
function def(extra: Step[] = []): RunbookDef {
  return {
    formatVersion: 1, name: 'demo', service: 'custom', strategy: 'warm', from: 'old', to: 'new', inputs: [],
    hosts: { old: { name: 'old', ssh: 'root@old', address: '10.0.0.1' }, new: { name: 'new', ssh: 'root@new', address: '10.0.0.2' }, proxy: { name: 'proxy', ssh: 'proxy', address: '10.0.0.3' } },
    lock: { path: '/var/lib/migen/lock' },
    steps: [
      { id: 'publish', phase: 'prepare', kind: 'command', title: 'publish', run: { on: 'old', script: mark('publish') }, undo: undo('publish') } as Step,
      cmd('stop-old', 'old', { stopsService: true, undo: undo('stop-old'), heartbeat: { on: 'old', file: HB } }),
      cmd('copy', 'new'),
      { ...cmd('pipe', 'old'), run: { pipe: [{ on: 'old', script: 'printf "a b c"' }, { on: 'new', script: 'cat > "$BASE/piped"' }] } } as Step,
      { id: 'same', phase: 'cutover', kind: 'compare', title: 'same', window: true, fleet: true, mode: 'equal', left: { on: 'old', script: 'echo 42' }, right: { on: 'new', script: 'echo " 42 "' }, failure: 'differ' } as Step,
      cmd('start-new', 'new', { concurrent: 'g', undoOnFailure: true, undo: undo('start-new') }),
      cmd('route', 'proxy', { concurrent: 'g', undoOnFailure: true, undo: undo('route'), heartbeat: { on: 'proxy', file: HB } }),
      { id: 'healthy', phase: 'cutover', kind: 'probe', title: 'healthy', window: true, fleet: true, intervalSeconds: 0.05, deadlineSeconds: 1, endsWindow: true,
        run: { on: 'new', script: `n=$(cat "$BASE/tries" 2>/dev/null || echo 0); echo $((n + 1)) > "$BASE/tries"; [ "$n" -ge 2 ]; ${mark('healthy')}` } } as Step,
      ...extra,
      cmd('confirm', 'proxy', { window: false, freshConnection: true }),
      { id: 'after', phase: 'verify', kind: 'command', title: 'after', run: { on: 'operator', script: mark('after') } } as Step,
    ],
  };
}

const journal: Journal = { runId: 'r1', name: 'demo', status: 'running', startedAt: '2026-01-01T00:00:00Z', steps: { publish: { status: 'done', ms: 1 } }, passes: [], windowStart: null, windowEnd: null };

/** A fresh directory for the "hosts" (and the heartbeat file the next def() names). */
function fresh(): string {
  const base = mkdtempSync(path.join(tmpdir(), 'migen-coord-'));
  HB = path.join(base, 'heartbeat');
  return base;
}
function bundle(d: RunbookDef, noRollback = false) {
  const base = path.dirname(HB);
  const dir = path.join(base, 'bundle');
  mkdirSync(dir);
  for (const [name, content] of Object.entries(bundleFiles(d, journal, noRollback))) writeFileSync(path.join(dir, name), content);
  // every host is this machine
  writeFileSync(path.join(dir, 'hosts'), 'new local\nold local\nproxy local\n');
  return { base, dir };
}

// heartbeats every 0.02 s instead of 5 s, so that a run of a few hundred ms sees them
const env = (base: string) => ({ ...process.env, BASE: base, HOME: base, MIGEN_HEARTBEAT_SECONDS: '0.02' });
function run(b: { base: string; dir: string }): { events: FleetEvent[]; log: string[] } {
  const r = spawnSync('bash', [path.join(b.dir, 'coordinator.sh'), b.dir], { env: env(b.base), encoding: 'utf8', timeout: 30_000 });
  expect(r.status, r.stderr).toBe(0);
  return read(b);
}
function read(b: { base: string; dir: string }) {
  const events = parseEvents(existsSync(path.join(b.dir, 'journal')) ? readFileSync(path.join(b.dir, 'journal'), 'utf8') : '');
  const log = existsSync(path.join(b.base, 'log')) ? readFileSync(path.join(b.base, 'log'), 'utf8').trim().split('\n') : [];
  return { events, log };
}
const result = (events: FleetEvent[]) => events.filter((e) => e.event === 'result').map((e) => e.id);
const seq = (events: FleetEvent[], kinds: string[]) => events.filter((e) => kinds.includes(e.event)).map((e) => `${e.event}:${e.id}`);

describe('the cutover coordinator', () => {
  it('runs the fleet steps in order (a group at once, a probe retried, a pipe, a compare), marks the window and ends done', () => {
    fresh();
    const b = bundle(def());
    const { events, log } = run(b);
    expect(result(events)).toEqual(['done']);
    // only the fleet steps: not the one before (the operator did it) nor the one after
    expect(log.filter((l) => l !== 'start-new' && l !== 'route')).toEqual(['stop-old', 'copy', 'healthy', 'confirm']);
    expect(log).toContain('start-new');
    expect(log).toContain('route');
    expect(readFileSync(path.join(b.base, 'piped'), 'utf8')).toBe('a b c');
    expect(readFileSync(path.join(b.base, 'tries'), 'utf8').trim()).toBe('3');
    const runs = events.filter((e) => e.event === 'run').map((e) => e.id);
    expect(runs).toEqual(['stop-old', 'copy', 'pipe', 'same', 'start-new', 'route', 'healthy', 'confirm']);
    // start-new and route ran at once: both started before either finished
    const at = (ev: string, id: string) => events.find((e) => e.event === ev && e.id === id)!.t;
    expect(Math.max(at('run', 'start-new'), at('run', 'route'))).toBeLessThanOrEqual(Math.min(at('done', 'start-new'), at('done', 'route')));
    expect(events.find((e) => e.event === 'window-start')!.id).toBe('stop-old');
    expect(events.find((e) => e.event === 'window-end')!.id).toBe('healthy');
    // the heartbeat of the guarded steps was touched (one interval after the step that armed it)
    expect(existsSync(path.join(b.base, 'heartbeat'))).toBe(true);
  });

  it('rolls back when a step fails: the undos of what ran, newest first, a half-done group member too, then the steps before the window', () => {
    fresh();
    const b = bundle(def());
    writeFileSync(path.join(b.base, 'fail-route'), '');
    const { events, log } = run(b);
    expect(result(events)).toEqual(['rolled-back']);
    const undos = log.filter((l) => l.startsWith('undo-'));
    expect(undos).toEqual(['undo-route', 'undo-start-new', 'undo-stop-old', 'undo-publish']);
    expect(log).not.toContain('healthy');
    expect(seq(events, ['failed'])).toEqual(['failed:route']);
    expect(events.find((e) => e.event === 'result')!.message).toContain('exit 1');
  });

  it('a failing compare names both sides; a probe that never passes fails after its deadline', () => {
    fresh();
    const d = def();
    const steps = d.steps.map((s) => (s.id === 'same' ? { ...s, right: { on: 'new', script: 'echo 43' } } as Step : s));
    const b = bundle({ ...d, steps });
    const { events } = run(b);
    expect(result(events)).toEqual(['rolled-back']);
    expect(events.find((e) => e.event === 'failed')!.message).toMatch(/differ \(left: 42; right: 43\)/);

    fresh();
    const d2 = def();
    const b2 = bundle({ ...d2, steps: d2.steps.map((s) => (s.id === 'healthy' ? { ...s, run: { on: 'new', script: 'echo nope >&2; false' } } as Step : s)) });
    const t0 = Date.now();
    const r2 = run(b2);
    expect(r2.events.find((e) => e.event === 'failed')!.message).toMatch(/still failing after 1 s:\s*nope/);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(900);
  });

  it('--no-rollback: undoes nothing and tells the guards to hold', () => {
    fresh();
    const d = def();
    const b2 = bundle({ ...d, steps: d.steps.map((s) => (s.id === 'healthy' ? { ...s, deadlineSeconds: 0.2, run: { on: 'new', script: 'false' } } as Step : s)) }, true);
    const { events, log } = run(b2);
    expect(result(events)).toEqual(['failed']);
    expect(log.filter((l) => l.startsWith('undo-'))).toEqual([]);
    expect(existsSync(path.join(b2.base, 'hold'))).toBe(true);
  });

  it('an abort from the operator stops the running step and rolls back', async () => {
    fresh();
    const d = def();
    const b = bundle({ ...d, steps: d.steps.map((s) => (s.id === 'copy' ? { ...s, run: { on: 'new', script: `echo copy >> "$BASE/log"; sleep 30` } } as Step : s)) });
    const p = spawn('bash', [path.join(b.dir, 'coordinator.sh'), b.dir], { env: env(b.base), stdio: 'ignore' });
    const exited = new Promise<number | null>((r) => p.on('exit', r));
    await until(() => read(b).log.includes('copy'));
    const t0 = Date.now();
    writeFileSync(path.join(b.dir, 'abort'), '');
    expect(await exited).toBe(0);
    expect(Date.now() - t0).toBeLessThan(5000);
    const { events, log } = read(b);
    expect(result(events)).toEqual(['rolled-back']);
    expect(events.find((e) => e.event === 'result')!.message).toContain('interrupted by the operator');
    expect(log.filter((l) => l.startsWith('undo-'))).toEqual(['undo-stop-old', 'undo-publish']);
  });

  it('an abort seen between two steps names the next one, failed before it started', () => {
    fresh();
    const b = bundle(def());
    writeFileSync(path.join(b.dir, 'abort'), '');
    const { events, log } = run(b);
    expect(result(events)).toEqual(['rolled-back']);
    const failed = events.filter((e) => e.event === 'failed');
    expect(failed.map((e) => e.message)).toEqual(['interrupted by the operator before it started']);
    expect(events.some((e) => e.event === 'run')).toBe(false);
    expect(log.filter((l) => !l.startsWith('undo-'))).toEqual([]);
  });

  it('killed in the middle and restarted (as systemd restarts it): rolls back, never runs a step twice, and a third start does nothing', async () => {
    fresh();
    const d = def();
    const b = bundle({ ...d, steps: d.steps.map((s) => (s.id === 'copy' ? { ...s, run: { on: 'new', script: `echo copy >> "$BASE/log"; sleep 30` } } as Step : s)) });
    const p = spawn('bash', [path.join(b.dir, 'coordinator.sh'), b.dir], { env: env(b.base), stdio: 'ignore', detached: true });
    const exited = new Promise((r) => p.on('exit', r));
    await until(() => read(b).log.includes('copy'));
    process.kill(-p.pid!, 'SIGKILL');
    await exited;
    const second = run(b);
    expect(seq(second.events, ['restart', 'result'])).toEqual(['restart:null', 'result:rolled-back']);
    expect(second.log.filter((l) => l === 'copy' || l === 'stop-old')).toEqual(['stop-old', 'copy']);
    expect(second.log.filter((l) => l.startsWith('undo-'))).toEqual(['undo-stop-old', 'undo-publish']);
    const n = second.events.length;
    const third = run(b);
    expect(third.events.length).toBe(n);
  });

  it('its heartbeats end with it, also while its pid still exists (a zombie here; a reused pid on a host): a guard can revert', async () => {
    fresh();
    const d = def();
    const b = bundle({ ...d, steps: d.steps.map((s) => (s.id === 'copy' ? { ...s, run: { on: 'new', script: `echo copy >> "$BASE/log"; sleep 5` } } as Step : s)) });
    // a parent that never reaps: the killed coordinator stays a zombie, so `kill -0 PID` still succeeds
    const holder = spawn('bash', ['-c', `bash ${JSON.stringify(path.join(b.dir, 'coordinator.sh'))} ${JSON.stringify(b.dir)} & echo $! > ${JSON.stringify(path.join(b.base, 'cpid'))}; exec sleep 20`], { env: env(b.base), stdio: 'ignore', detached: true });
    try {
      await until(() => read(b).log.includes('copy') && existsSync(HB));
      const coordinator = Number(readFileSync(path.join(b.base, 'cpid'), 'utf8'));
      const touched = (): number => statSync(HB).mtimeMs;
      const before = touched();
      await new Promise((r) => setTimeout(r, 200));
      expect(touched()).toBeGreaterThan(before); // beating every 0.02 s
      process.kill(coordinator, 'SIGKILL');
      await new Promise((r) => setTimeout(r, 300));
      expect(readFileSync(`/proc/${coordinator}/stat`, 'utf8')).toMatch(/\) Z /); // its pid still exists
      const after = touched();
      await new Promise((r) => setTimeout(r, 400));
      expect(touched()).toBe(after);
    } finally {
      process.kill(-holder.pid!, 'SIGKILL');
    }
  });

  it('restarted after every step had finished but before its result: records done, undoes nothing', () => {
    fresh();
    const b = bundle(def());
    run(b);
    const j = path.join(b.dir, 'journal');
    writeFileSync(j, readFileSync(j, 'utf8').split('\n').filter((l) => !l.includes('\tresult\t')).join('\n'));
    const { events, log } = run(b);
    expect(result(events)).toEqual(['done']);
    expect(log.filter((l) => l.startsWith('undo-'))).toEqual([]);
  });
});

describe('the coordinator journal', () => {
  it('carries any message through its log line unchanged (%, tabs, newlines, CR, UTF-8), and reads base64 from coordinators before it', () => {
    const base = fresh();
    writeFileSync(path.join(base, 'coordinator-steps.sh'), bundleFiles(def(), journal, false)['coordinator-steps.sh']!);
    writeFileSync(path.join(base, 'hosts'), '');
    const msg = 'rsync: 100%\tdone %09 %25\nline two\r\n\u00e9t\u00e9 \u2713 $HOME `x` \\n';
    const r = spawnSync('bash', ['-c', 'B=$1; J=$1/journal; HOME=$1; . "$1/coordinator-steps.sh"; log done 3 final-pass "$2"; log run 4 x', 'sh', base, msg], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    const [done, run] = parseEvents(readFileSync(path.join(base, 'journal'), 'utf8'));
    expect([done!.event, done!.idx, done!.id, done!.message]).toEqual(['done', 3, 'final-pass', msg]);
    expect(run!.message).toBe('');
    expect(parseEvents(`1\tdone\t3\tx\t${Buffer.from(msg).toString('base64')}\n`)[0]!.message).toBe(msg);
  });
});

describe('the cutover coordinator: handoffs', () => {
  const handoff = (extra: Partial<Step> = {}): Step => ({
    id: 'switch', phase: 'cutover', kind: 'handoff', title: 'switch', window: true, fleet: true, concurrent: 'g', undoOnFailure: true,
    instruction: 'Point the record at the new host', undoInstruction: 'Point the record back',
    check: { on: 'proxy', script: `test -e "$BASE/switched" && echo switch-checked >> "$BASE/log"` }, intervalSeconds: 0.05, deadlineSeconds: 10,
    undo: { on: 'old', script: 'echo undo-switch >> "$BASE/log"' }, ...extra,
  } as Step);
  const withHandoff = (h: Step): RunbookDef => { const d = def(); const i = d.steps.findIndex((s) => s.id === 'route'); return { ...d, steps: [...d.steps.slice(0, i + 1), h, ...d.steps.slice(i + 1)] }; };

  it('a person: logs the instruction for the operator, then polls the check until the person acted', async () => {
    fresh();
    const b = bundle(withHandoff(handoff()));
    const p = spawn('bash', [path.join(b.dir, 'coordinator.sh'), b.dir], { env: env(b.base), stdio: 'ignore' });
    const exited = new Promise<number | null>((r) => p.on('exit', r));
    await until(() => read(b).events.some((e) => e.event === 'instruct'));
    const said = read(b).events.find((e) => e.event === 'instruct')!;
    expect([said.id, said.message.trim()]).toEqual(['switch', 'Point the record at the new host']);
    expect(read(b).log).not.toContain('switch-checked');
    writeFileSync(path.join(b.base, 'switched'), ''); // the person acts
    expect(await exited).toBe(0);
    const { events, log } = read(b);
    expect(result(events)).toEqual(['done']);
    expect(log.filter((l) => l === 'switch-checked')).toEqual(['switch-checked']);
    expect(log.indexOf('switch-checked')).toBeLessThan(log.indexOf('healthy'));
  });

  it('another system: runs its command (no instruction), then the check; a rollback logs what the person must undo', () => {
    fresh();
    const h = handoff({ run: { on: 'old', script: 'touch "$BASE/switched"; echo provider >> "$BASE/log"' } } as Partial<Step>);
    const d = withHandoff(h);
    const b = bundle({ ...d, steps: d.steps.map((s) => (s.id === 'healthy' ? { ...s, deadlineSeconds: 0.2, run: { on: 'new', script: 'false' } } as Step : s)) });
    const { events, log } = run(b);
    expect(result(events)).toEqual(['rolled-back']);
    // the handoff runs in group g, at the same time as start-new and route: their lines may fall
    // between its own two, so only the order of its own is asserted
    expect(log.filter((l) => l === 'provider' || l === 'switch-checked')).toEqual(['provider', 'switch-checked']);
    expect(seq(events, ['instruct', 'undo'])).toEqual(['undo:switch', 'instruct:switch', 'undo:route', 'undo:start-new', 'undo:stop-old', 'undo:publish']);
    expect(events.find((e) => e.event === 'instruct')!.message.trim()).toBe('Point the record back');
    expect(log.filter((l) => l.startsWith('undo-'))).toEqual(['undo-switch', 'undo-route', 'undo-start-new', 'undo-stop-old', 'undo-publish']);
  });

  it('the provider\'s command fails: the step fails without polling, and is undone (it may have half-happened)', () => {
    fresh();
    const b = bundle(withHandoff(handoff({ run: { on: 'old', script: 'echo refused >&2; exit 2' } } as Partial<Step>)));
    const { events, log } = run(b);
    expect(result(events)).toEqual(['rolled-back']);
    expect(events.find((e) => e.event === 'failed' && e.id === 'switch')!.message).toMatch(/exit 2 on old:\s+refused/);
    expect(log).not.toContain('switch-checked');
    expect(log).toContain('undo-switch');
  });
});

async function until(f: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!f()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
}
