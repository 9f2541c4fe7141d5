import { existsSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { UserError } from './errors.js';
import type { Opts } from './commands.js';

/** `migen run NAME`: loads generated/runbooks/migrate-NAME.mjs (or --runbook FILE) and runs it. */
export async function runCommand(o: Opts, argv: readonly string[]): Promise<number> {
  const [name] = o.positional;
  if (!name) throw new UserError('E_USAGE', 'migen run needs NAME, e.g. migen run forgejo --dry-run');
  const file = path.resolve(o.runbook ?? path.join(o.out, 'runbooks', `migrate-${name}.mjs`));
  if (!existsSync(file)) throw new UserError('E_RUN', `${path.relative(process.cwd(), file) || file}: no runbook for ${name}; generate it with migen generate MANIFEST`);
  const mod = (await import(pathToFileURL(file).href)) as { runbook?: import('./runtime/types.js').RunbookDef };
  if (!mod.runbook || mod.runbook.name !== name) throw new UserError('E_RUN', `${file} does not define the runbook ${name}`);
  const { main } = await import('./runtime/index.js');
  return main(mod.runbook, argv, { runbookFile: file });
}
