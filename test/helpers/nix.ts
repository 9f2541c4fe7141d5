// Runs real nix (execFile, no shell) for the tests. nixpkgs cannot be fetched on the test
// machine: flakes are evaluated with their inputs overridden to the test doubles.
import { execFile } from 'node:child_process';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const nixpkgsDouble = resolve(repoRoot, 'test/nixpkgs-double');
export const agenixDouble = resolve(repoRoot, 'test/nixpkgs-double/agenix');

/** --override-input values that make a flake of this repo evaluable offline. */
export const doubleOverrides: Record<string, string> = {
  nixpkgs: `path:${nixpkgsDouble}`,
  agenix: `path:${agenixDouble}`,
  migen: `git+file://${repoRoot}`,
};

const baseArgs = ['--extra-experimental-features', 'nix-command flakes', 'eval', '--json'];

export interface NixEvalOptions {
  /** input name -> flake ref; only the inputs the flake declares are passed */
  overrides?: Record<string, string>;
  /** a Nix function applied to the attribute (`--apply`) */
  apply?: string;
  impure?: boolean;
}

export class NixError extends Error {
  constructor(message: string, readonly stderr: string) {
    super(message);
  }
}

async function nix(args: string[]): Promise<unknown> {
  try {
    const { stdout } = await run('nix', args, { maxBuffer: 64 << 20 });
    return JSON.parse(stdout);
  } catch (e) {
    const err = e as { stderr?: string; message: string };
    const stderr = (err.stderr ?? '').split('\n').filter((l) => !l.startsWith('warning:') && !l.startsWith('•') && !/^\s+'/.test(l)).join('\n');
    throw new NixError(`nix ${args.slice(2).join(' ')} failed:\n${stderr}`, stderr);
  }
}

/** `nix eval --json path:<flakeDir>#<attr>` with input overrides. */
export function nixEvalJson(flakeDir: string, attr: string, opts: NixEvalOptions = {}): Promise<unknown> {
  const args = [...baseArgs, '--no-write-lock-file'];
  if (opts.impure ?? opts.apply !== undefined) args.push('--impure');
  for (const [name, ref] of Object.entries(opts.overrides ?? {}).sort(([a], [b]) => (a < b ? -1 : 1))) {
    args.push('--override-input', name, ref);
  }
  args.push(`${resolve(flakeDir)}#${attr}`);
  if (opts.apply !== undefined) args.push('--apply', opts.apply);
  return nix(args);
}

/** `nix eval --json --impure --expr EXPR`, with `lib` and `double` (the nixpkgs double flake) in scope. */
export function nixEvalExpr(expr: string): Promise<unknown> {
  const wrapped = `let double = builtins.getFlake "path:${nixpkgsDouble}"; lib = double.lib; in ${expr}`;
  return nix([...baseArgs, '--impure', '--expr', wrapped]);
}

/** The inventory of a flake, as `migen inventory` reads it. */
export function nixInventory(flakeDir: string, overrides: Record<string, string>): Promise<unknown> {
  return nixEvalJson(flakeDir, 'nixosConfigurations', {
    overrides,
    apply: `import ${resolve(repoRoot, 'nix/inventory.nix')} {}`,
  });
}
