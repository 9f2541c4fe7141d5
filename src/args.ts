// The one argument parser (node:util parseArgs) for the migen command line and for runbooks run
// directly: option tables per command, errors as one UserError naming the option.
import { parseArgs } from 'node:util';
import { UserError } from './errors.js';

type OptionSpec = { readonly type: 'string' | 'boolean'; readonly short?: string; readonly multiple?: boolean };
type Options = Readonly<Record<string, OptionSpec>>;

const HELP = { help: { type: 'boolean', short: 'h' }, debug: { type: 'boolean' } } as const;
const SOURCE = { inventory: { type: 'string' }, flake: { type: 'string' }, 'override-input': { type: 'string', multiple: true } } as const;
const OUT = { out: { type: 'string' } } as const;

/** A runbook's own options (`node generated/runbooks/migrate-NAME.mjs ...` and `migen run NAME ...`). */
export const RUN_OPTIONS = {
  'dry-run': { type: 'boolean' },
  resume: { type: 'boolean' },
  rollback: { type: 'boolean' },
  yes: { type: 'boolean', short: 'y' },
  'no-rollback': { type: 'boolean' },
  'forward-agent': { type: 'boolean' },
  'ssh-config': { type: 'string' },
  root: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

export const COMMAND_OPTIONS = {
  plan: { ...HELP, ...SOURCE, ...OUT, format: { type: 'string' }, diff: { type: 'boolean' } },
  generate: { ...HELP, ...SOURCE, ...OUT },
  check: { ...HELP, ...SOURCE, ...OUT },
  inventory: { ...HELP, ...SOURCE },
  finalize: { ...HELP, ...SOURCE, ...OUT, force: { type: 'boolean' }, 'ssh-config': { type: 'string' } },
  status: { ...HELP, ...OUT, format: { type: 'string' }, 'ssh-config': { type: 'string' } },
  unlock: { ...HELP, ...OUT, 'ssh-config': { type: 'string' } },
  run: { ...HELP, ...OUT, ...RUN_OPTIONS, runbook: { type: 'string' }, all: { type: 'boolean' }, from: { type: 'string' } },
} as const satisfies Record<string, Options>;
export type Command = keyof typeof COMMAND_OPTIONS;

export interface Parsed { readonly values: Readonly<Record<string, string | boolean | string[] | undefined>>; readonly positionals: readonly string[] }

/** `--override-input NAME REF` takes two words (as nix spells it): folded into one value NAME=REF for parseArgs. */
function foldOverrides(argv: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] !== '--override-input') { out.push(argv[i]!); continue; }
    const n = argv[i + 1]; const r = argv[i + 2];
    if (!n || !r || n.startsWith('-')) throw new UserError('E_USAGE', '--override-input needs NAME and REF, e.g. --override-input nixpkgs path:/srv/nixpkgs');
    out.push(`--override-input=${n}=${r}`);
    i += 2;
  }
  return out;
}

export function parse(argv: readonly string[], options: Options, what: string): Parsed {
  try {
    const { values, positionals } = parseArgs({ args: foldOverrides(argv), options: options as never, allowPositionals: true, strict: true });
    return { values: values as Parsed['values'], positionals };
  } catch (e) {
    if (e instanceof UserError) throw e;
    const code = (e as { code?: string }).code;
    const msg = (e as Error).message.replace(/\. To specify a positional argument.*$/s, '').replace(/^Unknown option '([^']+)'.*$/s, 'unknown option $1');
    if (code?.startsWith('ERR_PARSE_ARGS')) throw new UserError('E_USAGE', `${msg}; see ${what} --help`);
    throw e;
  }
}

/** The NAME=REF pairs of --override-input. */
export const overridesOf = (v: Parsed['values']): [string, string][] =>
  ((v['override-input'] as string[] | undefined) ?? []).map((s) => [s.slice(0, s.indexOf('=')), s.slice(s.indexOf('=') + 1)]);

export const str = (v: Parsed['values'], k: string): string | undefined => (typeof v[k] === 'string' ? (v[k] as string) : undefined);
export const flag = (v: Parsed['values'], k: string): boolean => v[k] === true;
