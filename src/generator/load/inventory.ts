import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { ROOT } from '../../artifacts.js';
import { UserError } from '../../errors.js';
import { parseManifestText } from './manifest.js';
import type { SourceDoc } from './source.js';

export const NIX_FLAGS = ['--extra-experimental-features', 'nix-command flakes'];

/** migen's own nix/inventory.nix, next to the package root. */
export function inventoryHelper(): string {
  return path.join(ROOT, 'nix/inventory.nix');
}

export interface FlakeSource { readonly flake: string; readonly overrideInputs?: readonly (readonly [string, string])[] }

/** The nix command line that reads the inventory of a flake; shown to users and run as is. */
export function inventoryCommand(src: FlakeSource): string[] {
  const abs = path.resolve(src.flake);
  const overrides = (src.overrideInputs ?? []).flatMap(([n, r]) => ['--override-input', n, absoluteRef(r)]);
  // A plain directory: nix reads it as git+file (tracked files only) inside a git repository,
  // else as path:. --impure lets --apply import migen's helper from its own location.
  return ['nix', ...NIX_FLAGS, 'eval', '--json', '--impure', '--no-write-lock-file', ...overrides, `${abs}#nixosConfigurations`, '--apply', `import ${inventoryHelper()} {}`];
}

/** Relative `path:`/`git+file:` references resolve against the working directory. */
export function absoluteRef(ref: string): string {
  const m = /^(path:|git\+file:)(?!\/)(.*)$/.exec(ref);
  return m ? `${m[1]}${path.resolve(m[2]!)}` : ref;
}

/** Evaluates the flake's nixosConfigurations with real nix; returns the JSON text. */
export async function evalInventory(src: FlakeSource): Promise<string> {
  if (!existsSync(path.join(src.flake, 'flake.nix'))) {
    throw new UserError('E_FLAKE', `${src.flake}: no flake.nix here; pass --flake DIR, or --inventory FILE with an exported inventory`);
  }
  const [bin, ...args] = inventoryCommand(src);
  // Loaded here, not at start: node:child_process (with net and dgram) is for nix eval only.
  const { execFile } = await import('node:child_process');
  return new Promise((resolve, reject) => {
    execFile(bin!, args, { maxBuffer: 256 * 1024 * 1024, env: { ...process.env, NIX_CONFIG: process.env.NIX_CONFIG ?? '' } }, (err, stdout, stderr) => {
      if (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
          reject(new UserError('E_NIX', 'nix is not installed or not on PATH: migen reads the inventory with `nix eval`; install nix, or pass --inventory FILE with an exported inventory (migen inventory > inventory.json on a machine with nix)'));
          return;
        }
        const msg = stderr.split('\n').filter((l) => l.trim() !== '' && !l.startsWith('warning: ')).slice(-12).join('\n');
        reject(new UserError('E_NIX', `evaluating the inventory of ${src.flake} failed:\n${msg || err.message}\n(or pass --inventory FILE with an exported inventory)`));
        return;
      }
      resolve(stdout);
    });
  });
}

/** Reads an exported inventory (JSON) with source positions for error messages. */
export function readInventoryFile(file: string): SourceDoc {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new UserError('E_READ', `${file}: cannot read the inventory (${(e as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  return parseInventoryText(file, text);
}

/** An inventory may describe thousands of hosts: far more than a manifest's size limit. */
const MAX_INVENTORY_BYTES = 256 * 1024 * 1024;

/**
 * Parses an inventory (JSON from nix eval or an export). JSON.parse is far faster than the YAML
 * parser on megabytes of JSON; the YAML document (for error positions) is built only when asked
 * for. Text that is not JSON goes through the YAML parser as before, with its located errors.
 */
export function parseInventoryText(file: string, text: string): SourceDoc {
  let data: unknown;
  try { data = JSON.parse(text); } catch { return parseManifestText(file, text, MAX_INVENTORY_BYTES); }
  let full: SourceDoc | null = null;
  const yamlDoc = (): SourceDoc => (full ??= parseManifestText(file, text, MAX_INVENTORY_BYTES));
  return { file, text, data, get doc() { return yamlDoc().doc; }, get lines() { return yamlDoc().lines; } };
}

/** JSON with recursively sorted keys, 2-space indent and a final newline: the committed export format. */
export function canonicalJson(value: unknown): string {
  return `${JSON.stringify(sortKeys(value), null, 2)}\n`;
}
function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(v).sort()) out[k] = sortKeys((v as Record<string, unknown>)[k]);
    return out;
  }
  return v;
}
