#!/usr/bin/env node
// Refreshes examples/homelab/inventory.json from a real `nix eval` of the example fleet
// (against the nixpkgs and agenix test doubles, since nixpkgs cannot be fetched here).
// Output format (shared with `migen inventory`): JSON with recursively sorted keys, 2-space
// indent, trailing newline.
//   node test/nix/export-inventory.mjs            # write examples/homelab/inventory.json
//   node test/nix/export-inventory.mjs --stdout   # print it instead
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

export const exampleDir = resolve(root, 'examples/homelab');
export const exampleOverrides = {
  nixpkgs: `path:${resolve(root, 'test/nixpkgs-double')}`,
  agenix: `path:${resolve(root, 'test/nixpkgs-double/agenix')}`,
  migen: `git+file://${root}`,
};

export function sortKeys(value) {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(
      Object.keys(value).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)).map((k) => [k, sortKeys(value[k])]),
    );
  }
  return value;
}

export function formatInventory(value) {
  return JSON.stringify(sortKeys(value), null, 2) + '\n';
}

export function inventoryArgs(flakeDir, overrides = {}) {
  const args = ['--extra-experimental-features', 'nix-command flakes', 'eval', '--json', '--impure', '--no-write-lock-file'];
  for (const [name, ref] of Object.entries(overrides).sort(([a], [b]) => (a < b ? -1 : 1))) {
    args.push('--override-input', name, ref);
  }
  args.push(`${resolve(flakeDir)}#nixosConfigurations`, '--apply', `import ${resolve(root, 'nix/inventory.nix')} {}`);
  return args;
}

export function evalInventory(flakeDir = exampleDir, overrides = exampleOverrides) {
  const out = execFileSync('nix', inventoryArgs(flakeDir, overrides), { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 << 20 });
  return JSON.parse(out);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const text = formatInventory(evalInventory());
  if (process.argv.includes('--stdout')) process.stdout.write(text);
  else {
    writeFileSync(resolve(exampleDir, 'inventory.json'), text);
    process.stderr.write(`wrote ${resolve(exampleDir, 'inventory.json')}\n`);
  }
}
