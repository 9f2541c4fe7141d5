// migen's command line: thin glue between the pipeline stages. Heavy modules load per command.
import { COMMAND_OPTIONS, flag, parse, type Command } from './args.js';
import { UserError } from './errors.js';

const USAGE: Record<Command | 'main', string> = {
  main: `migen: generate reviewable NixOS service migrations

Usage: migen <command> [options]

Commands:
  plan MANIFEST...       validate and print the plan and the files generate would change
                         (exit 0: nothing to do, 2: changes pending, 1: error)
  generate MANIFEST...   write generated/ (NixOS modules, runbooks, plans, migen.sum)
  check MANIFEST...      exit 1 when generated/ is stale, incomplete or edited by hand
  inventory              print the inventory read from the flake with nix eval
  run NAME               run generated/runbooks/migrate-NAME.mjs
  run --all MANIFEST...  run every planned migration of those manifests in the plan's order
                         (evacuate a host: --from HOST); groups at once where they share no host
  status [NAME...]       what the hosts say: planned, prepared, cut over, rolled back, finalized
  unlock NAME            lift the locks a crashed run of NAME left on its hosts
  finalize NAME          mark a verified migration done in its manifest and regenerate

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
  finalize: `Usage: migen finalize NAME MANIFEST [--force] [--ssh-config FILE] [--out DIR] [--inventory FILE | --flake DIR]

Sets status: done for migration NAME in MANIFEST (keeping comments and layout) and regenerates.
Refuses unless the hosts say NAME was cut over and verified (migen status NAME); --force skips that.`,
  status: `Usage: migen status [NAME...] [--format text|json] [--ssh-config FILE] [--out DIR]

Reads from the hosts of each migration of DIR/plans (default generated/plans) the fence markers,
the locks, the units and the proxy's route files, and prints per migration: planned, prepared,
cutting over, cut over, rolled back or finalized, the locks held, and what is inconsistent.
Exit 0 when every migration is consistent, 1 otherwise.`,
  unlock: `Usage: migen unlock NAME [--ssh-config FILE] [--out DIR]

Lifts the locks that a run of NAME left on its hosts (a crashed run); a lock of another migration
is left alone. A live run releases its locks itself.`,
};

const RUN_ALL_USAGE = `Usage: migen run --all MANIFEST... [--from HOST] [--yes] [--dry-run] [--no-rollback] [--ssh-config FILE] [--root DIR] [--out DIR]

Runs every planned migration of the manifests (those whose last run finished are skipped: finalize
them), each as \`migen run NAME --yes\`, in the order \`migen plan\` shows: after what each declares
(after:), the SSO service (zitadel) last, in groups of migrations that share no host, one group after
another, a group's migrations at once. After a group in which one failed nothing else starts.
--from HOST: only the migrations that move a service off HOST (evacuating it).
Exit status: 0 every migration done, else the exit status of the first that failed.`;

/** Runs a command; returns the exit code. One message, never a stack trace (unless --debug). */
export async function main(argv: readonly string[]): Promise<number> {
  const debug = argv.includes('--debug');
  try {
    const [first, ...rest] = argv;
    if (first === undefined || first === 'help' || first === '--help' || first === '-h') {
      process.stdout.write(`${USAGE.main}\n`);
      return first === undefined ? 1 : 0;
    }
    if (first.startsWith('-')) throw new UserError('E_USAGE', `${first}: a command comes first; see migen --help`);
    if (!Object.prototype.hasOwnProperty.call(COMMAND_OPTIONS, first)) throw new UserError('E_USAGE', `unknown command ${JSON.stringify(first)}; commands: ${Object.keys(COMMAND_OPTIONS).join(', ')}`);
    const command = first as Command;
    const args = parse(rest, COMMAND_OPTIONS[command], `migen ${command}`);
    if (flag(args.values, 'help')) {
      if (command === 'run') {
        const { RUN_USAGE } = await import('./runtime/usage.js');
        process.stdout.write(`${RUN_USAGE}\n  --out DIR          the generated/ directory (default: generated)\n  --runbook FILE     run this runbook file instead of DIR/runbooks/migrate-NAME.mjs\n\n${RUN_ALL_USAGE}\n`);
      } else process.stdout.write(`${USAGE[command]}\n`);
      return 0;
    }
    const { commands } = await import('./commands.js');
    return await commands[command](args);
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
