import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { str, type Parsed } from './args.js';
import { UserError } from './errors.js';
import type { RunbookDef } from './runbook/def.js';

/** `migen run NAME`: loads generated/runbooks/migrate-NAME.mjs (or --runbook FILE) and runs it with the runbook options. */
export async function runCommand(a: Parsed): Promise<number> {
  if (a.values.all === true) {
    const { runAllCommand } = await import('./run-all/index.js');
    return runAllCommand(a);
  }
  if (a.values.from !== undefined) throw new UserError('E_USAGE', '--from HOST goes with --all: migen run --all MANIFEST... --from HOST');
  const [name, ...extra] = a.positionals;
  if (name === undefined) {
    const { RUN_USAGE } = await import('./runtime/usage.js');
    process.stdout.write(`${RUN_USAGE}\n`);
    return 2;
  }
  if (extra.length) throw new UserError('E_USAGE', `migen run takes one NAME, got also ${extra.join(' ')}`);
  const file = path.resolve(str(a.values, 'runbook') ?? path.join(str(a.values, 'out') ?? 'generated', 'runbooks', `migrate-${name}.mjs`));
  if (!existsSync(file)) throw new UserError('E_RUN', `${path.relative(process.cwd(), file) || file}: no runbook for ${name}; generate it with migen generate MANIFEST`);
  if (a.values['dry-run'] !== true) refuseDirty(path.dirname(path.dirname(file)));
  const mod = (await import(pathToFileURL(file).href)) as { runbook?: RunbookDef };
  if (!mod.runbook || mod.runbook.name !== name) throw new UserError('E_RUN', `${file} does not define the runbook ${name}`);
  const { run } = await import('./runtime/index.js');
  return run(mod.runbook, a.values, { runbookFile: file });
}

/**
 * The runbook deploys the flake, and a git flake sees only tracked, committed files: a generated/
 * with changes or untracked files would deploy hosts without (or with older) generated modules,
 * and the service could start on an empty directory. Outside a git work tree there is nothing to check.
 */
function refuseDirty(generated: string): void {
  const top = spawnSync('git', ['-C', generated, 'rev-parse', '--show-toplevel'], { encoding: 'utf8' });
  if (top.status !== 0) return;
  const st = spawnSync('git', ['-C', generated, 'status', '--porcelain', '--untracked-files=all', '--', '.'], { encoding: 'utf8' });
  const dirty = st.stdout.split('\n').filter(Boolean);
  if (dirty.length === 0) return;
  const shown = dirty.slice(0, 10).map((l) => `  ${l}`).join('\n');
  throw new UserError('E_RUN', `${path.relative(process.cwd(), generated) || generated}/ has uncommitted or untracked changes; commit them first (a git flake's deploy sees only committed, tracked files):\n${shown}${dirty.length > 10 ? `\n  ... and ${dirty.length - 10} more` : ''}`);
}
