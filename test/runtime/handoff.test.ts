// The handoff step (what a person or another system does, and its check) in the runtime, with
// every "host" a directory on this machine and each script run by real bash: the instruction
// printed, the provider's command run instead when there is one, the check retried until it
// holds or the deadline passes, the window it may end, the rollback's instruction, and a handoff
// after the verification that fails without undoing the move.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { quote } from 'zx';
import { describe, expect, it } from 'vitest';
import { Engine, EXIT, type Executor, type ExecResult, type RunbookDef } from '../../src/runtime/index.js';
import { FileJournal } from '../../src/runtime/journal.js';
import type { Out } from '../../src/runtime/output.js';
import type { HostScript, Script, Step } from '../../src/runbook/steps.js';

class LocalExecutor implements Executor {
  checks = 0;
  constructor(readonly base: string) {}
  async run(sc: Script): Promise<ExecResult> {
    const { on, script } = sc as HostScript;
    if (script.includes('# check')) this.checks++;
    const cwd = path.join(this.base, on);
    mkdirSync(cwd, { recursive: true });
    const r = spawnSync('bash', ['-s'], { input: `set -euo pipefail\n${script}\n`, cwd, env: { ...process.env, BASE: this.base }, encoding: 'utf8' });
    return { code: r.status ?? 1, stdout: r.stdout, stderr: r.stderr, ms: 0 };
  }
  async close(): Promise<void> {}
}

function out(): Out & { text: string } {
  const o = { text: '', tty: false, color: false, line(s: string) { o.text += `${s}\n`; }, err(s: string) { o.text += `${s}\n`; }, green: (s: string) => s, red: (s: string) => s, yellow: (s: string) => s, dim: (s: string) => s, bold: (s: string) => s };
  return o;
}

const mark = (id: string): string => `echo ${id} >> "$BASE/log"`;
const cmd = (id: string, phase: Step['phase'], extra: Partial<Step> = {}): Step => ({ id, phase, kind: 'command', title: id, run: { on: 'old', script: mark(id) }, ...extra } as Step);
/** A handoff whose check holds once $BASE/done-ID exists. */
const handoff = (id: string, phase: Step['phase'], extra: Partial<Step> = {}): Step => ({
  id, phase, kind: 'handoff', title: id, instruction: `Do ${id} by hand`,
  check: { on: 'old', script: `# check\ntest -e "$BASE/done-${id}" || { echo "not yet: ${id}" >&2; exit 1; }\n${mark(`${id}-checked`)}` },
  intervalSeconds: 0.01, deadlineSeconds: 30, ...extra,
} as Step);

function setup(steps: Step[]) {
  const dir = mkdtempSync(path.join(tmpdir(), 'migen-handoff-'));
  const def: RunbookDef = {
    formatVersion: 1, name: 'demo', service: 'custom', strategy: 'cold', from: 'old', to: 'new', inputs: [],
    hosts: { old: { name: 'old', ssh: 'old', address: '127.0.0.1' }, new: { name: 'new', ssh: 'new', address: '127.0.0.1' } },
    lock: { path: path.join(dir, 'lock/demo.lock') }, steps,
  };
  const exec = new LocalExecutor(dir);
  const o = out();
  const journal = new FileJournal(path.join(dir, '.migen/demo'));
  let sleeps = 0;
  /** `act`: what "the person" does while the runbook waits, at its n-th wait. */
  const engine = (act: Record<number, () => void> = {}, resume = false) => new Engine(def, exec, journal, o, {
    dryRun: false, resume, rollbackOnly: false, yes: true, noRollback: false, forwardAgent: false, confirm: async () => true,
    sleep: async () => { sleeps++; act[sleeps]?.(); },
  }, quote);
  const log = (): string[] => (existsSync(path.join(dir, 'log')) ? readFileSync(path.join(dir, 'log'), 'utf8').trim().split('\n') : []);
  const done = (id: string) => () => writeFileSync(path.join(dir, `done-${id}`), '');
  return { dir, exec, o, journal, engine, log, done };
}

describe('handoff steps in the runtime', () => {
  it('a person: the instruction is printed, then the check is retried until it holds', async () => {
    const t = setup([cmd('before', 'prepare'), handoff('dhcp', 'prepare'), cmd('after', 'prepare')]);
    const { code } = await t.engine({ 3: t.done('dhcp') }).run();
    expect(code).toBe(EXIT.done);
    expect(t.o.text).toContain('ACTION NEEDED: Do dhcp by hand');
    expect(t.o.text.indexOf('ACTION NEEDED')).toBeLessThan(t.o.text.indexOf('report: demo done'));
    expect(t.exec.checks).toBe(4); // three failed checks, a wait after each, then it held
    expect(t.log()).toEqual(['before', 'dhcp-checked', 'after']);
  });

  it('another system: its command runs instead of asking, then the check proves it', async () => {
    const t = setup([handoff('dns', 'prepare', { run: { on: 'new', script: `touch "$BASE/done-dns"; ${mark('provider')}` } } as Partial<Step>)]);
    const { code } = await t.engine().run();
    expect(code).toBe(EXIT.done);
    expect(t.o.text).not.toContain('ACTION NEEDED');
    expect(t.o.text).toContain("Do dns by hand (by the provider's command)");
    expect(t.log()).toEqual(['provider', 'dns-checked']);
    expect(t.exec.checks).toBe(1);
  });

  it('the provider\'s command fails: the step fails at once, its check never runs', async () => {
    const t = setup([handoff('dns', 'prepare', { run: { on: 'new', script: 'echo refused >&2; exit 2' } } as Partial<Step>)]);
    const { code, report } = await t.engine().run();
    expect(code).toBe(EXIT.failed);
    expect(report!.message).toMatch(/dns: exit 2 on new:\nrefused/);
    expect(t.exec.checks).toBe(0);
  });

  it('nobody acts before the deadline: the step fails, naming what the check saw', async () => {
    const t = setup([handoff('dhcp', 'prepare', { deadlineSeconds: 0.05 } as Partial<Step>)]);
    const { code, report } = await t.engine().run();
    expect(code).toBe(EXIT.failed);
    expect(report!.message).toMatch(/still failing after 0\.05 s: not yet: dhcp/);
  });

  it('in the window: its first success ends the window; a later failure rolls it back, printing what the person must undo', async () => {
    const steps = [
      cmd('stop-old', 'cutover', { window: true, stopsService: true, undo: { on: 'old', script: mark('undo-stop-old') } }),
      handoff('switch', 'cutover', { window: true, endsWindow: true, undoInstruction: 'Point it back', undo: { on: 'old', script: mark('undo-switch') } } as Partial<Step>),
      cmd('verify', 'verify', { run: { on: 'new', script: 'false' } }),
    ];
    const t = setup(steps);
    const { code, report } = await t.engine({ 1: t.done('switch') }).run();
    expect(code).toBe(EXIT.rolledBack);
    expect(report!.window.ms).not.toBeNull();
    expect(t.o.text).toContain('ACTION NEEDED (rollback): Point it back');
    expect(t.log()).toEqual(['stop-old', 'switch-checked', 'undo-switch', 'undo-stop-old']);
  });

  it('after the verification (finalize): a failure leaves the move standing; --resume waits for it again', async () => {
    const steps = [
      cmd('stop-old', 'cutover', { window: true, stopsService: true, undo: { on: 'old', script: mark('undo-stop-old') } }),
      cmd('verified', 'verify'),
      handoff('dhcp', 'finalize', { deadlineSeconds: 0.05 } as Partial<Step>),
      { id: 'note', phase: 'finalize', kind: 'note', title: 'note', text: 'finalize it' } as Step,
    ];
    const t = setup(steps);
    const first = await t.engine().run();
    expect(first.code).toBe(EXIT.failed);
    expect(first.report!.message).toMatch(/^dhcp failed after demo was cut over and verified \(nothing rolled back; migen run demo --resume waits again\)/);
    expect(t.log()).toEqual(['stop-old', 'verified']); // no undo
    expect(t.journal.load()!.status).toBe('running');
    t.done('dhcp')();
    const second = await t.engine({}, true).run();
    expect(second.code).toBe(EXIT.done);
    expect(t.log()).toEqual(['stop-old', 'verified', 'dhcp-checked']);
  });
});

// The same harness for the rollback's treatment of an undo whose failure leaves only something
// harmless (the new host's copy keys once the old host stopped accepting them).
describe('an undo with a harmless leftover (undoLeftover)', () => {
  const steps = (leftover: boolean) => [
    cmd('copy-keys', 'prepare', { run: { on: 'new', script: mark('keys') }, undo: { on: 'new', script: `${mark('undo-keys')}\nexit 255` }, ...(leftover ? { undoLeftover: 'the keys on new' } : {}) } as Partial<Step>),
    cmd('copy-access', 'prepare', { undo: { on: 'old', script: mark('undo-access') } }),
    cmd('sync', 'sync', { run: { on: 'new', script: 'exit 255' } }),
  ];
  it('fails: the rollback names what stays and goes on; the run failed before any stop, not an incomplete rollback', async () => {
    const t = setup(steps(true));
    const { code, report } = await t.engine().run();
    expect(code).toBe(EXIT.failed);
    expect(report!.result).toBe('failed');
    expect(t.o.text).toMatch(/left behind on new \(harmless\): the keys on new/);
    expect(t.log()).toEqual(['keys', 'copy-access', 'undo-access', 'undo-keys']);
  });
  it('without it the same failure is an incomplete rollback', async () => {
    const t = setup(steps(false));
    const { code } = await t.engine().run();
    expect(code).toBe(EXIT.rollbackFailed);
  });
});
