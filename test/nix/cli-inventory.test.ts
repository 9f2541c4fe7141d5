import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { migen, ROOT } from '../helpers/cli.js';

const overrides = ['--override-input', 'nixpkgs', 'path:test/nixpkgs-double', '--override-input', 'agenix', 'path:test/nixpkgs-double/agenix', '--override-input', 'migen', `git+file://${ROOT}`];

describe('migen inventory (real nix eval)', () => {
  it('prints exactly the committed examples/homelab/inventory.json', () => {
    const r = migen(['inventory', '--flake', 'examples/homelab', ...overrides]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout, 'examples/homelab/inventory.json is stale: refresh it with node test/nix/export-inventory.mjs').toBe(readFileSync(path.join(ROOT, 'examples/homelab/inventory.json'), 'utf8'));
  });

  it('plans from the flake itself (not the export) with the same result', () => {
    const fromFlake = migen(['plan', 'examples/homelab/migrations/forgejo.yaml', '--flake', 'examples/homelab', ...overrides, '--format', 'json']);
    const fromFile = migen(['plan', 'examples/homelab/migrations/forgejo.yaml', '--format', 'json']);
    expect(fromFlake.stderr).toBe('');
    expect(fromFlake.code).toBe(2);
    expect(JSON.parse(fromFlake.stdout).migrations).toEqual(JSON.parse(fromFile.stdout).migrations);
  });

  it('a failed evaluation is one clear error with nix\'s message and a hint', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'migen-badflake-'));
    writeFileSync(path.join(dir, 'flake.nix'), '{ outputs = { self }: { nixosConfigurations = { a = 1 +; }; }; }\n');
    const r = migen(['inventory', '--flake', dir]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^migen: evaluating the inventory of .* failed:\n/);
    expect(r.stderr).toMatch(/syntax error/);
    expect(r.stderr).toMatch(/--inventory FILE/);
    expect(r.stderr).not.toMatch(/\n\s+at .*\.js/);
  });

  it('a missing nix is one clear error suggesting --inventory', () => {
    const r = migen(['inventory', '--flake', 'examples/homelab'], { env: { PATH: '/nonexistent' } });
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('migen: nix is not installed or not on PATH: migen reads the inventory with `nix eval`; install nix, or pass --inventory FILE with an exported inventory (migen inventory > inventory.json on a machine with nix)\n');
  });
});
