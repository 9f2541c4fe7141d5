// A throwaway copy of the repository's example (a git repo of its own), so tests can run
// `migen generate`/`finalize` and evaluate the result with real nix without touching the checkout.
import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ROOT } from './cli.js';

export function exampleRepo(): { dir: string; commitAll: () => void; cleanup: () => void } {
  const dir = mkdtempSync(path.join(tmpdir(), 'migen-repo-'));
  for (const p of ['flake.nix', 'nix', 'examples/homelab', 'generated']) cpSync(path.join(ROOT, p), path.join(dir, p), { recursive: true });
  const git = (...args: string[]): void => { execFileSync('git', ['-c', 'user.email=t@t', '-c', 'user.name=t', ...args], { cwd: dir, stdio: 'ignore' }); };
  git('init', '-q');
  const commitAll = (): void => { git('add', '-A'); };
  commitAll();
  return { dir, commitAll, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export function overridesFor(repoDir: string): Record<string, string> {
  return {
    agenix: `path:${path.join(ROOT, 'test/nixpkgs-double/agenix')}`,
    migen: `git+file://${repoDir}`,
    nixpkgs: `path:${path.join(ROOT, 'test/nixpkgs-double')}`,
  };
}
