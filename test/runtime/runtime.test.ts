// The runtime against local processes: every "host" is a directory on this machine and each
// script runs in a real bash with set -euo pipefail (real hosts come with the lab suite).
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Engine, EXIT, main, type Executor, type ExecResult, type RunbookDef } from '../../src/runtime/index.js';
import { FileJournal } from '../../src/runtime/journal.js';
import type { Out } from '../../src/runtime/output.js';
import type { HostScript, Script, Step } from '../../src/runbook/steps.js';
import { quote } from 'zx';
import { migen, ROOT } from '../helpers/cli.js';

class Crash extends Error {}

/** Runs scripts with bash in HOSTS/<host>; records every call; can crash (like SIGKILL) at a script. */
class LocalExecutor implements Executor {
  calls: { on: string; script: string }[] = [];
  crashOn: string | null = null;
  constructor(readonly base: string) {}
  async run(sc: Script): Promise<ExecResult> {
    const { on, script } = sc as HostScript;
    if (this.crashOn !== null && script.includes(this.crashOn)) throw new Crash(`killed at ${this.crashOn}`);
    this.calls.push({ on, script });
    const cwd = path.join(this.base, on);
    mkdirSync(cwd, { recursive: true });
    const r = spawnSync('bash', ['-s'], { input: `set -euo pipefail\n${script}\n`, cwd, env: { ...process.env, BASE: this.base, HOST: on }, encoding: 'utf8' });
    return { code: r.status ?? 1, stdout: r.stdout, stderr: r.stderr, ms: 0 };
  }
  async close(): Promise<void> {}
}

function silent(): Out & { text: string } {
  const o = { text: '', tty: false, color: false, line(s: string) { o.text += `${s}\n`; }, err(s: string) { o.text += `${s}\n`; }, green: (s: string) => s, red: (s: string) => s, yellow: (s: string) => s, dim: (s: string) => s, bold: (s: string) => s };
  return o;
}

const mark = (id: string): string => `echo ${id} >> "$BASE/log"; test ! -e "$BASE/fail-${id}"`;
const s = (id: string, phase: Step['phase'], on: string, extra: Partial<Step> = {}): Step => ({ id, phase, kind: 'command', title: id, window: phase === 'cutover' || phase === 'verify', undo: null, run: { on, script: mark(id) }, ...extra } as Step);

function def(dir: string): RunbookDef {
  return {
    formatVersion: 1, name: 'demo', service: 'custom', strategy: 'warm', from: 'old', to: 'new',
    inputs: [], hosts: { old: { name: 'old', ssh: 'old', address: '127.0.0.1' }, new: { name: 'new', ssh: 'new', address: '127.0.0.1' } },
    lock: { path: path.join(dir, 'lock/demo.lock') },
    steps: [
      s('pre', 'preflight', 'old'),
      s('sync', 'sync', 'new'),
      s('stop-old', 'cutover', 'old', { stopsService: true, undo: { on: 'old', script: 'echo undo-stop-old >> "$BASE/log"' } }),
      s('copy', 'cutover', 'new'),
      s('start-new', 'cutover', 'new', { undo: { on: 'new', script: 'echo undo-start-new >> "$BASE/log"' } }),
      s('route', 'cutover', 'old', { undo: { on: 'old', script: 'echo undo-route >> "$BASE/log"' } }),
      { id: 'verify', phase: 'verify', kind: 'probe', title: 'verify', window: true, undo: null, endsWindow: true, intervalSeconds: 0.01, deadlineSeconds: 0.05, run: { on: 'new', script: mark('verify') } } as Step,
    ],
  };
}

function setup() {
  const dir = mkdtempSync(path.join(tmpdir(), 'migen-rt-'));
  const exec = new LocalExecutor(dir);
  const journal = new FileJournal(path.join(dir, '.migen/demo'));
  const log = (): string[] => (existsSync(path.join(dir, 'log')) ? readFileSync(path.join(dir, 'log'), 'utf8').trim().split('\n') : []);
  const engine = (opts: Partial<ConstructorParameters<typeof Engine>[4]> = {}) => new Engine(def(dir), exec, journal, silent(), { dryRun: false, resume: false, rollbackOnly: false, yes: true, noRollback: false, forwardAgent: false, confirm: async () => true, sleep: async () => {}, ...opts }, quote);
  return { dir, exec, journal, log, engine };
}

const IDS = ['pre', 'sync', 'stop-old', 'copy', 'start-new', 'route', 'verify'];

describe('runtime', () => {
  it('a successful run executes every step once, in order, then releases the lock', async () => {
    const t = setup();
    const { code, report } = await t.engine().run();
    expect(code).toBe(EXIT.done);
    expect(t.log()).toEqual(IDS);
    expect(report!.result).toBe('done');
    expect(report!.window.ms).not.toBeNull();
    expect(existsSync(path.join(t.dir, 'lock/demo.lock'))).toBe(false);
    expect(t.journal.load()!.status).toBe('done');
  });

  it.each(IDS.map((id, i) => [id, i] as const))('killed at step %s: --resume continues at that step, nothing runs twice', async (id, i) => {
    const t = setup();
    t.exec.crashOn = `echo ${id} >>`;
    await expect(t.engine().run()).rejects.toThrow(Crash);
    expect(t.log()).toEqual(IDS.slice(0, i));
    expect(t.journal.load()!.status).toBe('running');
    // A plain rerun refuses and says how to continue.
    const plain = await t.engine().run();
    expect(plain.code).toBe(EXIT.usage);
    t.exec.crashOn = null;
    const { code } = await t.engine({ resume: true }).run();
    expect(code).toBe(EXIT.done);
    expect(t.log()).toEqual(IDS);
    expect(existsSync(path.join(t.dir, 'lock/demo.lock'))).toBe(false);
  });

  it('a failing verification rolls back in reverse order and exits 3', async () => {
    const t = setup();
    writeFileSync(path.join(t.dir, 'fail-verify'), '');
    const { code, report } = await t.engine().run();
    expect(code).toBe(EXIT.rolledBack);
    expect(report!.result).toBe('rolled-back');
    const log = t.log();
    expect(log.filter((l) => l.startsWith('undo-'))).toEqual(['undo-route', 'undo-start-new', 'undo-stop-old']);
    expect(log.indexOf('undo-route')).toBeGreaterThan(log.lastIndexOf('verify'));
    expect(t.journal.load()!.status).toBe('rolled-back');
    expect(existsSync(path.join(t.dir, 'lock/demo.lock'))).toBe(false);
  });

  it('a failure in the middle of the cutover undoes only what ran', async () => {
    const t = setup();
    writeFileSync(path.join(t.dir, 'fail-start-new'), '');
    const { code } = await t.engine().run();
    expect(code).toBe(EXIT.rolledBack);
    expect(t.log()).toEqual(['pre', 'sync', 'stop-old', 'copy', 'start-new', 'undo-stop-old']);
  });

  it('a failed step marked undoOnFailure is undone too (it may have half-happened), newest first', async () => {
    const t = setup();
    writeFileSync(path.join(t.dir, 'fail-route'), '');
    const d = def(t.dir);
    const steps = d.steps.map((x) => (x.id === 'route' ? { ...x, undoOnFailure: true } : x));
    const e = new Engine({ ...d, steps }, t.exec, t.journal, silent(), { dryRun: false, resume: false, rollbackOnly: false, yes: true, noRollback: false, forwardAgent: false, confirm: async () => true, sleep: async () => {} }, quote);
    expect((await e.run()).code).toBe(EXIT.rolledBack);
    expect(t.log().filter((l) => l.startsWith('undo-'))).toEqual(['undo-route', 'undo-start-new', 'undo-stop-old']);
  });

  it('what an undo prints reaches the operator; an undo that failed (its host away) is tried again by the next --rollback', async () => {
    const t = setup();
    writeFileSync(path.join(t.dir, 'fail-verify'), '');
    writeFileSync(path.join(t.dir, 'away'), '');
    const d = def(t.dir);
    const steps = d.steps.map((x) => (x.id === 'start-new' ? { ...x, undo: { on: 'new', script: 'echo "kept the writes in db_rolled_back"' } }
      : x.id === 'stop-old' ? { ...x, undo: { on: 'old', script: 'test ! -e "$BASE/away"; echo undo-stop-old >> "$BASE/log"' } } : x));
    const opts = { dryRun: false, resume: false, rollbackOnly: false, yes: true, noRollback: false, forwardAgent: false, confirm: async () => true, sleep: async () => {} };
    const out = silent();
    expect((await new Engine({ ...d, steps }, t.exec, t.journal, out, opts, quote).run()).code).toBe(EXIT.rollbackFailed);
    expect(out.text).toContain('  undo start-new on new: ok\n    kept the writes in db_rolled_back\n');
    expect(t.log()).not.toContain('undo-stop-old');
    rmSync(path.join(t.dir, 'away'));
    expect((await new Engine({ ...d, steps }, t.exec, t.journal, silent(), { ...opts, rollbackOnly: true }, quote).run()).code).toBe(EXIT.rolledBack);
    expect(t.log().filter((l) => l.startsWith('undo-'))).toEqual(['undo-route', 'undo-stop-old']);
  });

  it('--no-rollback stops, prints the undo commands and leaves the run resumable', async () => {
    const t = setup();
    writeFileSync(path.join(t.dir, 'fail-route'), '');
    const out = silent();
    const e = new Engine(def(t.dir), t.exec, t.journal, out, { dryRun: false, resume: false, rollbackOnly: false, yes: true, noRollback: true, forwardAgent: false, confirm: async () => true, sleep: async () => {} }, quote);
    const { code } = await e.run();
    expect(code).toBe(EXIT.failed);
    expect(t.log().some((l) => l.startsWith('undo-'))).toBe(false);
    expect(out.text).toContain('old$ echo undo-stop-old');
    // --rollback undoes it afterwards.
    const rb = await t.engine({ rollbackOnly: true }).run();
    expect(rb.code).toBe(EXIT.rolledBack);
    expect(t.log().filter((l) => l.startsWith('undo-'))).toEqual(['undo-start-new', 'undo-stop-old']);
  });

  it('a failure before the cutover changes nothing and exits 1', async () => {
    const t = setup();
    writeFileSync(path.join(t.dir, 'fail-sync'), '');
    const { code, report } = await t.engine().run();
    expect(code).toBe(EXIT.failed);
    expect(report!.message).toMatch(/no service was stopped/);
    expect(t.log()).toEqual(['pre', 'sync']);
  });

  it('the lock: a second run of the same migration refuses while the first holds it', async () => {
    const t = setup();
    mkdirSync(path.join(t.dir, 'lock'), { recursive: true });
    const holder = 'run=other-run migration=other since=2026-12-01T10:00:00.000Z pid=4242 by=ops@laptop\n';
    writeFileSync(path.join(t.dir, 'lock/demo.lock'), holder);
    const out = silent();
    const e = new Engine(def(t.dir), t.exec, t.journal, out, { dryRun: false, resume: false, rollbackOnly: false, yes: true, noRollback: false, forwardAgent: false, confirm: async () => true }, quote);
    const { code } = await e.run();
    expect(code).toBe(EXIT.failed);
    // the refusal names the host, the migration, since when and the pid of the holder
    expect(out.text).toContain('new is locked by another run: run=other-run migration=other since=2026-12-01T10:00:00.000Z pid=4242 by=ops@laptop');
    expect(out.text).toContain('migen unlock NAME');
    expect(t.log()).toEqual([]);
    expect(readFileSync(path.join(t.dir, 'lock/demo.lock'), 'utf8')).toBe(holder);
  });

  it('declining the confirmation stops before the first stop, nothing stopped', async () => {
    const t = setup();
    const { code } = await t.engine({ yes: false, confirm: async () => false }).run();
    expect(code).toBe(EXIT.failed);
    expect(t.log()).toEqual(['pre', 'sync']);
  });

  it('a stale manifest makes the runbook refuse: "plan is stale"', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'migen-stale-'));
    writeFileSync(path.join(dir, 'm.yaml'), 'version: 1\n');
    const d: RunbookDef = { ...def(dir), inputs: [{ kind: 'manifest', path: 'm.yaml', sha256: '0'.repeat(64) }] };
    const out = silent();
    const exec = new LocalExecutor(dir);
    const code = await main(d, ['--root', dir, '--yes'], { out, executor: exec, journal: new FileJournal(path.join(dir, '.j')) });
    expect(code).toBe(EXIT.failed);
    expect(out.text).toMatch(/plan is stale, re-run migen plan/);
    expect(out.text).toContain('manifest m.yaml changed since the runbook was generated');
    expect(exec.calls).toEqual([]);
  });
});

/** Like LocalExecutor, but asynchronous: scripts of one batch really overlap. */
class AsyncExecutor extends LocalExecutor {
  override async run(sc: Script): Promise<ExecResult> {
    const { on, script } = sc as HostScript;
    this.calls.push({ on, script });
    const cwd = path.join(this.base, on);
    mkdirSync(cwd, { recursive: true });
    return new Promise((resolve) => {
      const p = spawn('bash', ['-s'], { cwd, env: { ...process.env, BASE: this.base, HOST: on } });
      p.stdin.end(`set -euo pipefail\n${script}\n`);
      p.on('close', (code) => resolve({ code: code ?? 1, stdout: '', stderr: '', ms: 0 }));
    });
  }
}

describe('concurrent groups', () => {
  // Each step logs "<id> start <ms>" and "<id> end <ms>" around a 300 ms sleep.
  const timed = (id: string) => `echo "${id} start $(date +%s%3N)" >> "$BASE/times"; sleep 0.3; echo "${id} end $(date +%s%3N)" >> "$BASE/times"; echo ${id} >> "$BASE/log"; test ! -e "$BASE/fail-${id}"`;
  const g = (id: string, group: string | undefined, extra: Partial<Step> = {}): Step => ({ ...s(id, 'cutover', 'new', extra), run: { on: 'new', script: timed(id) }, ...(group ? { concurrent: group } : {}) } as Step);
  function run(dir: string, steps: Step[]) {
    const exec = new AsyncExecutor(dir);
    const journal = new FileJournal(path.join(dir, '.migen/demo'));
    const d: RunbookDef = { ...def(dir), steps };
    return new Engine(d, exec, journal, silent(), { dryRun: false, resume: false, rollbackOnly: false, yes: true, noRollback: false, forwardAgent: false, confirm: async () => true, sleep: async () => {} }, quote).run();
  }
  const spans = (dir: string) => {
    const m = new Map<string, { start: number; end: number }>();
    for (const l of readFileSync(path.join(dir, 'times'), 'utf8').trim().split('\n')) {
      const [id, what, t] = l.split(' ');
      m.set(id!, { ...(m.get(id!) ?? { start: 0, end: 0 }), [what!]: Number(t) });
    }
    return m;
  };
  const overlap = (a: { start: number; end: number }, b: { start: number; end: number }) => a.start < b.end && b.start < a.end;

  it('steps of one group overlap; the next group starts only after the whole previous one ended', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'migen-rt-'));
    const { code } = await run(dir, [g('stop', undefined, { stopsService: true }), g('c1', 'copy-checks'), g('c2', 'copy-checks'), g('sq', undefined), g('start', 'start-and-route'), g('route', 'start-and-route'), g('probe', undefined)]);
    expect(code).toBe(EXIT.done);
    const t = spans(dir);
    expect(overlap(t.get('c1')!, t.get('c2')!)).toBe(true);
    expect(overlap(t.get('start')!, t.get('route')!)).toBe(true);
    expect(t.get('sq')!.start).toBeGreaterThanOrEqual(Math.max(t.get('c1')!.end, t.get('c2')!.end));
    expect(t.get('start')!.start).toBeGreaterThanOrEqual(t.get('sq')!.end);
    expect(t.get('probe')!.start).toBeGreaterThanOrEqual(Math.max(t.get('start')!.end, t.get('route')!.end));
    expect(overlap(t.get('stop')!, t.get('c1')!)).toBe(false);
  });

  it('adjacent groups with different names do not run together', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'migen-rt-'));
    expect((await run(dir, [g('a', 'one'), g('b', 'two')])).code).toBe(EXIT.done);
    const t = spans(dir);
    expect(overlap(t.get('a')!, t.get('b')!)).toBe(false);
  });

  it('a start that fails while the route switches: both finish, then the route, the start and the stop are undone', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'migen-rt-'));
    writeFileSync(path.join(dir, 'fail-start'), '');
    const undo = (id: string) => ({ on: 'new', script: `echo undo-${id} >> "$BASE/log"` });
    const { code } = await run(dir, [
      g('stop', undefined, { stopsService: true, undo: undo('stop') }),
      g('start', 'start-and-route', { undoOnFailure: true, undo: undo('start') }),
      g('route', 'start-and-route', { undoOnFailure: true, undo: undo('route') }),
      g('probe', undefined),
    ]);
    expect(code).toBe(EXIT.rolledBack);
    const log = readFileSync(path.join(dir, 'log'), 'utf8').trim().split('\n');
    expect(log).not.toContain('probe');
    expect(log.slice(0, 1)).toEqual(['stop']);
    expect(new Set(log.slice(1, 3))).toEqual(new Set(['start', 'route']));
    expect(log.slice(3)).toEqual(['undo-route', 'undo-start', 'undo-stop']);
  });
});

describe('the generated forgejo runbook', () => {
  it('--dry-run prints every command in order, exactly what a successful run executes', async () => {
    const dry = migen(['run', 'forgejo', '--dry-run']);
    expect(dry.code).toBe(0);
    // Parse "  host$ first line" + continuation lines into (host, script) pairs of the main sequence.
    const sequence = dry.stdout.split('\n-- rollback')[0]!;
    // A pipe prints as two such entries, the second "| host$ ...".
    const printed: { on: string; script: string; label: string }[] = [];
    for (const line of sequence.split('\n')) {
      const m = /^ {2}((?:\| )?)(\S+)\$ (.*)$/.exec(line);
      if (m) printed.push({ on: m[2]!, script: m[3]!, label: `${m[1]}${m[2]}` });
      else if (/^ {4,}/.test(line) && printed.length) printed[printed.length - 1]!.script += `\n${line.replace(new RegExp(`^ {${printed[printed.length - 1]!.label.length + 4}}`), '')}`;
    }
    const { runbook } = await import(path.join(ROOT, 'generated/runbooks/migrate-forgejo.mjs')) as { runbook: RunbookDef };
    // The window's steps are handed to the coordinator on the new host (coordinator.test.ts runs
    // it): this stand-in records the scripts of the bundle as the coordinator runs them on success
    // and answers the journal reads with their success.
    const coordinator = new FakeCoordinator();
    const exec = new (class implements Executor {
      calls: { on: string; script: string }[] = [];
      async run(sc: Script): Promise<ExecResult> {
        const fake = coordinator.answer(sc, this.calls);
        if (fake) return fake;
        for (const p of 'pipe' in sc ? sc.pipe : [sc]) this.calls.push({ on: p.on, script: p.script });
        const script = ('pipe' in sc ? sc.pipe[1] : sc).script;
        const stdout = script.includes('total=0') ? '0\n' : script.startsWith('du ') ? '1000\n' : script.includes('df -B1') ? '99999999\n' : 'same\n';
        return { code: 0, stdout, stderr: '', ms: 0 };
      }
      async close(): Promise<void> {}
    })();
    const dir = mkdtempSync(path.join(tmpdir(), 'migen-dry-'));
    const code = await main(runbook, ['--yes', '--root', ROOT], { executor: exec, out: silent(), journal: new FileJournal(dir) });
    expect(code).toBe(EXIT.done);
    const runId = (JSON.parse(readFileSync(path.join(dir, 'journal.json'), 'utf8')) as { runId: string }).runId;
    const executed = exec.calls.map((c) => ({ on: c.on, script: c.script.split(runId).join('RUN_ID').replace(/since=\S+ pid=\d+ by=[^\s']+/g, 'since=SINCE pid=PID by=USER@MACHINE') }));
    expect(printed.length).toBeGreaterThan(20);
    expect(coordinator.steps).toBeGreaterThan(10);
    // the handover itself prints as a summary of what it writes and starts
    const handover = printed.findIndex((p) => p.script.startsWith('# write /var/lib/migen/forgejo/cutover/RUN_ID/'));
    expect(printed[handover]!.script).toContain('systemd-run --unit=migen-forgejo-cutover');
    expect(executed).toEqual(printed.filter((_, i) => i !== handover).map(({ on, script }) => ({ on, script })));
  });

  it('resumed after the window was handed over, it reattaches: no window step runs from the operator\'s machine, even when some were recorded done', async () => {
    const { runbook } = await import(path.join(ROOT, 'generated/runbooks/migrate-forgejo.mjs')) as { runbook: RunbookDef };
    const fleetIds = runbook.steps.filter((x) => x.fleet).map((x) => x.id);
    const firstFleet = runbook.steps.findIndex((x) => x.fleet);
    expect(fleetIds.length).toBeGreaterThan(8);
    const dir = mkdtempSync(path.join(tmpdir(), 'migen-reattach-'));
    // the operator saw the steps before the window and the first window steps done, then died
    const done = runbook.steps.slice(0, firstFleet + 3).filter((x) => x.kind !== 'note');
    const runId = 'r1-aaaaaa';
    writeFileSync(path.join(dir, 'journal.json'), JSON.stringify({ runId, name: 'forgejo', status: 'running', startedAt: new Date().toISOString(), steps: Object.fromEntries(done.map((x) => [x.id, { status: 'done', ms: 1 }])), passes: [], windowStart: null, windowEnd: null, fleet: { host: runbook.to, runId } }));
    const coordinator = new FakeCoordinator();
    const direct: string[] = [];
    const exec = new (class implements Executor {
      calls: { on: string; script: string }[] = [];
      async run(sc: Script): Promise<ExecResult> {
        const fake = coordinator.answer(sc, this.calls);
        if (fake) return fake;
        for (const p of 'pipe' in sc ? sc.pipe : [sc]) direct.push(p.script);
        return { code: 0, stdout: '0\n', stderr: '', ms: 0 };
      }
      async close(): Promise<void> {}
    })();
    const out = silent();
    const code = await main(runbook, ['--resume', '--yes', '--root', ROOT], { executor: exec, out, journal: new FileJournal(dir) });
    expect(code, out.text).toBe(EXIT.done);
    const windowScripts = runbook.steps.filter((x) => x.fleet).flatMap((x) => scriptsOfStep(x));
    expect(direct.filter((d) => windowScripts.includes(d))).toEqual([]);
    // the coordinator (here: its stand-in) ran them; the journal has them all done
    expect(coordinator.steps).toBe(fleetIds.length);
    const j = JSON.parse(readFileSync(path.join(dir, 'journal.json'), 'utf8')) as { steps: Record<string, { status: string }> };
    expect(fleetIds.filter((id) => j.steps[id]?.status !== 'done')).toEqual([]);
  });

  it('type-checks and is listed with its sha256 in migen.sum', () => {
    const sum = readFileSync(path.join(ROOT, 'generated/migen.sum'), 'utf8');
    // its own sha256, then the digest of what it was printed from (migen plan compares that)
    expect(sum).toMatch(/^file runbooks\/migrate-forgejo\.mjs [0-9a-f]{64} [0-9a-f]{64}$/m);
  });
});

/** Answers a fake executor's handover and journal reads as a coordinator that runs every step of its bundle with success. */
class FakeCoordinator {
  steps = 0;
  private journal = '';
  answer(sc: Script, calls: { on: string; script: string }[]): ExecResult | null {
    if ('pipe' in sc) return null;
    const ok = (stdout: string): ExecResult => ({ code: 0, stdout, stderr: '', ms: 0 });
    if (sc.script.includes('bash "$d/coordinator.sh"')) {
      const files = new Map<string, string>();
      for (const m of sc.script.matchAll(/base64 -d > "\$d\/([^"]+)" <<'MIGEN_B64'\n([\s\S]*?)\nMIGEN_B64/g)) files.set(m[1]!, Buffer.from(m[2]!.replace(/\n/g, ''), 'base64').toString('utf8'));
      const lines = files.get('steps')!.trim().split('\n').map((l) => l.split('\t'));
      const t = Date.now();
      this.journal = `${t}\tstart\t-\t-\t\n`;
      for (const [idx, kind, id] of lines) {
        const names = kind === 'compare' ? ['left', 'right'] : ['run'];
        for (const n of names) {
          const on = files.get(`${idx}.${n}.on`)!.trim().split(' ');
          on.forEach((h, k) => calls.push({ on: h, script: files.get(`${idx}.${n}.${k + 1}`)!.replace(/\n$/, '') }));
        }
        this.journal += `${t}\trun\t${idx}\t${id}\t\n${t}\tdone\t${idx}\t${id}\t\n`;
        this.steps++;
      }
      this.journal += `${t}\tresult\t-\tdone\t\n`;
      return ok('');
    }
    const m = /^tail -c \+(\d+) /m.exec(sc.script);
    if (m) return ok(`active\n${Buffer.from(this.journal).subarray(Number(m[1]) - 1).toString()}`);
    return null;
  }
}

/** Every host script of a step (left and right of a compare, both ends of a pipe). */
function scriptsOfStep(st: Step): string[] {
  const all = st.kind === 'compare' ? [st.left, st.right] : 'run' in st ? [st.run] : [];
  return all.flatMap((sc) => ('pipe' in sc ? sc.pipe : [sc]).map((p) => p.script));
}
