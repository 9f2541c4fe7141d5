// The runtime a generated runbook imports: `main(runbook, argv)`.
import { setMaxListeners } from 'node:events';
import path from 'node:path';
import { createInterface } from 'node:readline/promises';
import { flag, parse, RUN_OPTIONS, str, type Parsed } from '../args.js';
import { UserError } from '../errors.js';
import type { RunbookDef } from '../runbook/def.js';
import { Engine } from './engine.js';
import { SshExecutor, type Executor } from './executor.js';
import { FileJournal, type JournalStore } from './journal.js';
import { makeOut, type Out } from './output.js';
import { staleInputs } from './stale.js';
import { EXIT, type RunOptions } from './types.js';
import { RUN_USAGE } from './usage.js';

export type { RunbookDef, RunbookHost, RunbookInput } from '../runbook/def.js';
export { Engine } from './engine.js';
export { EXIT, type Report, type RunOptions } from './types.js';
export { FileJournal } from './journal.js';
export { SshExecutor, type Executor, type ExecResult } from './executor.js';
export { staleInputs } from './stale.js';
export { RUN_USAGE } from './usage.js';

export interface MainDeps { readonly executor?: Executor; readonly journal?: JournalStore; readonly out?: Out; readonly runbookFile?: string; readonly confirm?: (q: string) => Promise<boolean>; readonly env?: NodeJS.ProcessEnv }

async function ask(question: string): Promise<boolean> {
  if (!process.stdin.isTTY) return false;
  const rl = createInterface({ input: process.stdin, output: process.stdout });
  try { return /^y(es)?$/i.test((await rl.question(`${question} [y/N] `)).trim()); } finally { rl.close(); }
}

/** Runs a runbook as its command line asks (a runbook run directly); returns the exit code. */
export async function main(def: RunbookDef, argv: readonly string[], deps: MainDeps = {}): Promise<number> {
  const out = deps.out ?? makeOut();
  let args: Parsed;
  try {
    args = parse(argv, RUN_OPTIONS, `node generated/runbooks/migrate-${def.name}.mjs`);
    if (args.positionals.length) throw new UserError('E_USAGE', `unexpected argument ${args.positionals[0]}`);
  } catch (e) {
    if (!(e instanceof UserError)) throw e;
    out.err(`migen: ${e.message}\n${RUN_USAGE}`);
    return EXIT.usage;
  }
  if (flag(args.values, 'help')) { out.line(RUN_USAGE); return EXIT.done; }
  return run(def, args.values, { ...deps, out });
}

/** Runs a runbook with parsed options (migen run NAME, or main above). */
export async function run(def: RunbookDef, v: Parsed['values'], deps: MainDeps = {}): Promise<number> {
  const out = deps.out ?? makeOut();
  if (flag(v, 'resume') && flag(v, 'rollback')) { out.err(`migen: --resume and --rollback exclude each other\n${RUN_USAGE}`); return EXIT.usage; }
  const root = path.resolve(str(v, 'root') ?? '.');
  const { quote } = await import('zx');
  const dry = flag(v, 'dry-run');
  if (!dry) {
    const stale = staleInputs(def, root, deps.runbookFile);
    if (stale.length) {
      out.err(`migen: plan is stale, re-run migen plan (and migen generate) before running ${def.name}:\n${stale.map((s) => `  ${s}`).join('\n')}`);
      return EXIT.failed;
    }
  }
  const executor = deps.executor ?? new SshExecutor({ hosts: def.hosts, sshConfig: str(v, 'ssh-config'), cwd: root, env: deps.env });
  const journal = deps.journal ?? new FileJournal(path.join(root, '.migen', def.name));
  const ac = new AbortController();
  // every concurrent command listens on this signal (checks in the window run at once): no leak warning
  setMaxListeners(0, ac.signal);
  const onSigint = (): void => { out.err('\nmigen: interrupted; finishing safely (rolling back if the cutover started)'); ac.abort(); };
  process.on('SIGINT', onSigint);
  process.on('SIGTERM', onSigint);
  const opts: RunOptions = {
    dryRun: dry, resume: flag(v, 'resume'), rollbackOnly: flag(v, 'rollback'), yes: flag(v, 'yes'), noRollback: flag(v, 'no-rollback'), forwardAgent: flag(v, 'forward-agent'),
    confirm: deps.confirm ?? (async (q) => {
      if (!process.stdin.isTTY) { out.err('migen: not on a terminal: pass --yes to confirm the cutover'); return false; }
      return ask(q);
    }),
    signal: ac.signal,
  };
  try {
    return (await new Engine(def, executor, journal, out, opts, quote).run()).code;
  } finally {
    process.off('SIGINT', onSigint);
    process.off('SIGTERM', onSigint);
    if (!deps.executor) await executor.close();
  }
}
