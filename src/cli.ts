// migen's command line: thin glue between the pipeline stages. Heavy modules load per command.
import { UserError } from './errors.js';

const USAGE: Record<string, string> = {
  main: `migen: generate reviewable NixOS service migrations

Usage: migen <command> [options]

Commands:
  plan MANIFEST...       validate and print the plan and the files generate would change
                         (exit 0: nothing to do, 2: changes pending, 1: error)
  generate MANIFEST...   write generated/ (NixOS modules, runbooks, plans, migen.sum)
  check MANIFEST...      exit 1 when generated/ is stale, incomplete or edited by hand
  inventory              print the inventory read from the flake with nix eval
  run NAME               run generated/runbooks/migrate-NAME.mjs
  finalize NAME          mark a finished migration done in its manifest and regenerate

Common options:
  --inventory FILE       read an exported inventory instead of evaluating the flake
  --flake DIR            the flake to evaluate (default: the manifest's, or its directory's)
  --override-input N R   passed to nix (e.g. nixpkgs path:/some/dir); repeatable
  --out DIR              output directory (default: generated)
  --debug                show stack traces
  --help                 help for a command

Environment: NO_COLOR disables colour.`,
  plan: `Usage: migen plan MANIFEST... [--format text|markdown|json] [--diff] [--inventory FILE | --flake DIR]

Validates the manifests against the inventory and prints, per migration, the steps of each
phase with their host and exact commands, the downtime window, the proxy routes that move and
those that stay, warnings, and the files that \`migen generate\` would add (+), change (~) or
remove (-). Writes nothing.
Exit status: 0 nothing to do (every migration done, generated/ up to date), 2 changes pending
(a migration still planned, or generated/ would change), 1 error.`,
  generate: `Usage: migen generate MANIFEST... [--out DIR] [--inventory FILE | --flake DIR]

Writes DIR (default generated/) for the given manifests and those already recorded in
DIR/migen.sum: hosts/<host>.nix, runbooks/migrate-<name>.mjs, plans/<name>.{md,json}, migen.sum.
Writes nothing when validation fails; removes files it no longer produces.`,
  check: `Usage: migen check MANIFEST... [--out DIR] [--inventory FILE | --flake DIR]

Exit 1 and name every generated file that is stale, missing, extra or edited by hand; exit 0 otherwise.`,
  inventory: `Usage: migen inventory [--flake DIR] [--override-input NAME REF]... [--inventory FILE]

Evaluates the flake's nixosConfigurations with migen's nix/inventory.nix (real nix eval) and prints
the inventory as JSON (sorted keys): the format of --inventory FILE.`,
  run: '',
  finalize: `Usage: migen finalize NAME MANIFEST [--out DIR] [--inventory FILE | --flake DIR]

Sets status: done for migration NAME in MANIFEST (keeping comments and layout) and regenerates.`,
};

interface Args { command: string; positional: string[]; flags: Map<string, string | true>; overrides: [string, string][] }

const VALUE_FLAGS = new Set(['--format', '--inventory', '--flake', '--out']);
const BOOL_FLAGS = new Set(['--help', '-h', '--debug', '--diff', '--dry-run', '--resume', '--yes', '--no-rollback']);

function parseArgs(argv: readonly string[]): Args {
  const positional: string[] = [];
  const flags = new Map<string, string | true>();
  const overrides: [string, string][] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--override-input') {
      const n = argv[i + 1]; const r = argv[i + 2];
      if (!n || !r) throw new UserError('E_USAGE', '--override-input needs NAME and REF, e.g. --override-input nixpkgs path:/srv/nixpkgs');
      overrides.push([n, r]); i += 2;
    } else if (a.startsWith('--') && a.includes('=') && VALUE_FLAGS.has(a.slice(0, a.indexOf('=')))) {
      flags.set(a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1));
    } else if (VALUE_FLAGS.has(a)) {
      const v = argv[i + 1];
      if (v === undefined) throw new UserError('E_USAGE', `${a} needs a value`);
      flags.set(a, v); i++;
    } else if (BOOL_FLAGS.has(a)) flags.set(a === '-h' ? '--help' : a, true);
    else if (a.startsWith('-')) throw new UserError('E_USAGE', `unknown option ${a}; see migen --help`);
    else positional.push(a);
  }
  const command = positional.shift() ?? '';
  return { command, positional, flags, overrides };
}

const str = (a: Args, f: string): string | undefined => { const v = a.flags.get(f); return typeof v === 'string' ? v : undefined; };

export async function main(argv: readonly string[]): Promise<number> {
  const debug = argv.includes('--debug');
  try {
    if (argv[0] === 'run') return await runCli(argv.slice(1));
    const a = parseArgs(argv);
    if (a.command === '' || a.command === 'help') { process.stdout.write(`${USAGE.main}\n`); return a.command === '' && !a.flags.has('--help') ? 1 : 0; }
    if (!(a.command in USAGE) || a.command === 'main') throw new UserError('E_USAGE', `unknown command ${JSON.stringify(a.command)}; commands: plan, generate, check, inventory, run, finalize`);
    if (a.flags.has('--help')) { process.stdout.write(`${USAGE[a.command]}\n`); return 0; }
    const { commands } = await import('./commands.js');
    return await commands[a.command as keyof typeof commands]({
      positional: a.positional,
      format: str(a, '--format'),
      inventory: str(a, '--inventory'),
      flake: str(a, '--flake'),
      out: str(a, '--out') ?? 'generated',
      overrideInputs: a.overrides,
      diff: a.flags.has('--diff'),
      dryRun: a.flags.has('--dry-run'),
      resume: a.flags.has('--resume'),
      yes: a.flags.has('--yes'),
      noRollback: a.flags.has('--no-rollback'),
    });
  } catch (e) {
    if (e instanceof UserError) {
      process.stderr.write(`migen: ${e.message}\n`);
      if (debug) process.stderr.write(`${e.stack ?? ''}\n`);
      return 1;
    }
    process.stderr.write(`migen: internal error: ${(e as Error)?.message ?? String(e)}\n${debug ? `${(e as Error)?.stack ?? ''}\n` : 'Run again with --debug for the stack trace, and report it.\n'}`);
    return 1;
  }
}

/** `migen run NAME [runtime options]`: --out/--runbook pick the file, the rest goes to the runbook. */
async function runCli(argv: readonly string[]): Promise<number> {
  const rest: string[] = [];
  let out = 'generated';
  let runbook: string | undefined;
  let name: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--out' || a === '--runbook') {
      const v = argv[++i];
      if (!v) throw new UserError('E_USAGE', `${a} needs a value`);
      if (a === '--out') out = v; else runbook = v;
    } else if (!a.startsWith('-') && name === undefined) name = a;
    else rest.push(a);
  }
  if (name === undefined || rest.includes('--help') || rest.includes('-h')) {
    const { RUN_USAGE } = await import('./runtime/index.js');
    process.stdout.write(`${RUN_USAGE}\n  --out DIR          the generated/ directory (default: generated)\n  --runbook FILE     run this runbook file instead of DIR/runbooks/migrate-NAME.mjs\n`);
    return name === undefined && !rest.includes('--help') ? 2 : 0;
  }
  const { runCommand } = await import('./run.js');
  return runCommand({ positional: [name], out, runbook, overrideInputs: [], diff: false, dryRun: false, resume: false, yes: false, noRollback: false }, rest);
}
