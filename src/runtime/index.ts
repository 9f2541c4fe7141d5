// The runtime a generated runbook imports: `main(runbook, argv)`.
import { createHash } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline/promises';
import { Engine, EXIT, type RunOptions } from './engine.js';
import { SshExecutor, type Executor } from './executor.js';
import { FileJournal, type JournalStore } from './journal.js';
import { makeOut, type Out } from './output.js';
import type { RunbookDef } from './types.js';

export type { RunbookDef, RunbookHost, RunbookInput } from './types.js';
export { Engine, EXIT, type Report, type RunOptions } from './engine.js';
export { FileJournal } from './journal.js';
export { SshExecutor, type Executor, type ExecResult } from './executor.js';

export const RUN_USAGE = `Usage: migen run NAME [options]   (or: node generated/runbooks/migrate-NAME.mjs [options])

  --dry-run          print every command in order, with its host; run nothing
  --resume           continue an interrupted run from its journal (.migen/NAME/journal.json)
  --rollback         undo what an interrupted run did, in reverse order
  --yes              do not ask before the first step that stops a service
  --no-rollback      on a failed cutover, stop and print the undo commands instead of running them
  --forward-agent    forward your ssh agent to the host that runs rsync (host-to-host copy)
  --ssh-config FILE  ssh_config to use (also MIGEN_SSH_CONFIG)
  --root DIR         the repository root holding the manifest and generated/ (default: .)

Exit status: 0 done, 1 failed before any service stopped (nothing changed), 2 usage,
3 rolled back (the service runs on the old host again), 4 rollback incomplete (act by hand),
130 interrupted.`;

export interface MainDeps { readonly executor?: Executor; readonly journal?: JournalStore; readonly out?: Out; readonly runbookFile?: string; readonly confirm?: (q: string) => Promise<boolean>; readonly env?: NodeJS.ProcessEnv }

interface Parsed { dryRun: boolean; resume: boolean; rollbackOnly: boolean; yes: boolean; noRollback: boolean; forwardAgent: boolean; sshConfig?: string; root: string; help: boolean }

function parse(argv: readonly string[]): Parsed | string {
  const p: Parsed = { dryRun: false, resume: false, rollbackOnly: false, yes: false, noRollback: false, forwardAgent: false, root: '.', help: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    switch (a) {
      case '--dry-run': p.dryRun = true; break;
      case '--resume': p.resume = true; break;
      case '--rollback': p.rollbackOnly = true; break;
      case '--yes': case '-y': p.yes = true; break;
      case '--no-rollback': p.noRollback = true; break;
      case '--forward-agent': p.forwardAgent = true; break;
      case '--help': case '-h': p.help = true; break;
      case '--ssh-config': case '--root': {
        const v = argv[++i];
        if (!v) return `${a} needs a value`;
        if (a === '--root') p.root = v; else p.sshConfig = v;
        break;
      }
      default: return `unknown option ${a}`;
    }
  }
  if (p.resume && p.rollbackOnly) return '--resume and --rollback exclude each other';
  return p;
}

const sha256 = (b: Buffer | string): string => createHash('sha256').update(b).digest('hex');

/** The plan is stale when an input changed since generation, or the runbook was edited by hand. */
export function staleInputs(def: RunbookDef, root: string, runbookFile?: string): string[] {
  const problems: string[] = [];
  for (const input of def.inputs) {
    const p = path.resolve(root, input.path);
    if (!existsSync(p)) { problems.push(`${input.kind} ${input.path} is missing`); continue; }
    if (statSync(p).isDirectory()) { problems.push(`${input.kind} ${input.path} was read from a flake: export it (migen inventory > FILE) to run`); continue; }
    if (sha256(readFileSync(p)) !== input.sha256) problems.push(`${input.kind} ${input.path} changed since the runbook was generated`);
  }
  if (runbookFile) {
    const sum = path.resolve(path.dirname(runbookFile), '..', 'migen.sum');
    if (existsSync(sum)) {
      const rel = `runbooks/${path.basename(runbookFile)}`;
      const line = readFileSync(sum, 'utf8').split('\n').find((l) => l.startsWith(`file ${rel} `));
      if (!line) problems.push(`${rel} is not listed in migen.sum`);
      else if (line.split(' ')[2] !== sha256(readFileSync(runbookFile))) problems.push(`${rel} was edited by hand (its sha256 differs from migen.sum)`);
    }
  }
  return problems;
}

async function ask(question: string): Promise<boolean> {
  if (!process.stdin.isTTY) return false;
  const rl = createInterface({ input: process.stdin, output: process.stdout });
  try { return /^y(es)?$/i.test((await rl.question(`${question} [y/N] `)).trim()); } finally { rl.close(); }
}

/** Runs a runbook as the command line asks; returns the exit code. */
export async function main(def: RunbookDef, argv: readonly string[], deps: MainDeps = {}): Promise<number> {
  const out = deps.out ?? makeOut();
  const p = parse(argv);
  if (typeof p === 'string') { out.err(`migen: ${p}\n${RUN_USAGE}`); return EXIT.usage; }
  if (p.help) { out.line(RUN_USAGE); return EXIT.done; }
  const root = path.resolve(p.root);
  const { quote } = await import('zx');
  if (!p.dryRun) {
    const stale = staleInputs(def, root, deps.runbookFile);
    if (stale.length) {
      out.err(`migen: plan is stale, re-run migen plan (and migen generate) before running ${def.name}:\n${stale.map((s) => `  ${s}`).join('\n')}`);
      return EXIT.failed;
    }
  }
  const executor = deps.executor ?? new SshExecutor({ hosts: def.hosts, sshConfig: p.sshConfig, cwd: root, env: deps.env });
  const journal = deps.journal ?? new FileJournal(path.join(root, '.migen', def.name));
  const ac = new AbortController();
  // every concurrent command listens on this signal (checks in the window run at once): no leak warning
  setMaxListeners(0, ac.signal);
  const onSigint = (): void => { out.err('\nmigen: interrupted; finishing safely (rolling back if the cutover started)'); ac.abort(); };
  process.on('SIGINT', onSigint);
  process.on('SIGTERM', onSigint);
  const opts: RunOptions = {
    dryRun: p.dryRun, resume: p.resume, rollbackOnly: p.rollbackOnly, yes: p.yes, noRollback: p.noRollback, forwardAgent: p.forwardAgent,
    confirm: deps.confirm ?? (async (q) => {
      if (!process.stdin.isTTY) { out.err('migen: not on a terminal: pass --yes to confirm the cutover'); return false; }
      return ask(q);
    }),
    signal: ac.signal,
  };
  try {
    const { code } = await new Engine(def, executor, journal, out, opts, quote).run();
    return code;
  } finally {
    process.off('SIGINT', onSigint);
    process.off('SIGTERM', onSigint);
    if (!deps.executor) await executor.close();
  }
}
