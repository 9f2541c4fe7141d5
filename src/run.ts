import { existsSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { str, type Parsed } from './args.js';
import { UserError } from './errors.js';
import type { RunbookDef } from './runbook/def.js';

/** `migen run NAME`: loads generated/runbooks/migrate-NAME.mjs (or --runbook FILE) and runs it with the runbook options. */
export async function runCommand(a: Parsed): Promise<number> {
  const [name, ...extra] = a.positionals;
  if (name === undefined) {
    const { RUN_USAGE } = await import('./runtime/usage.js');
    process.stdout.write(`${RUN_USAGE}\n`);
    return 2;
  }
  if (extra.length) throw new UserError('E_USAGE', `migen run takes one NAME, got also ${extra.join(' ')}`);
  const file = path.resolve(str(a.values, 'runbook') ?? path.join(str(a.values, 'out') ?? 'generated', 'runbooks', `migrate-${name}.mjs`));
  if (!existsSync(file)) throw new UserError('E_RUN', `${path.relative(process.cwd(), file) || file}: no runbook for ${name}; generate it with migen generate MANIFEST`);
  const mod = (await import(pathToFileURL(file).href)) as { runbook?: RunbookDef };
  if (!mod.runbook || mod.runbook.name !== name) throw new UserError('E_RUN', `${file} does not define the runbook ${name}`);
  const { run } = await import('./runtime/index.js');
  return run(mod.runbook, a.values, { runbookFile: file });
}
