// nix/source.nix is what `nix build .#migen` (nix/package.nix) compiles. Nothing can be built with
// nixpkgs here, so this test builds the source with real nix (builtins.path with the filter), then
// runs package.json's own "build" script in a copy of it, with the repository's node_modules: a
// file the build needs but the filter drops (scripts/ once was) fails here instead of in a user's
// `nix run .#migrate-NAME`.
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { repoRoot } from '../helpers/nix.js';

const temps: string[] = [];
afterAll(() => { for (const d of temps) rmSync(d, { recursive: true, force: true }); });

describe('nix/source.nix (the package build\'s source)', () => {
  const storePath = execFileSync('nix', ['--extra-experimental-features', 'nix-command', 'eval', '--raw', '--impure', '--expr', `import ${path.join(repoRoot, 'nix/source.nix')} { root = ${repoRoot}; }`], { encoding: 'utf8' }).trim();

  it('holds what the build and the package need, and none of the tests, examples, generated/ or dist/', () => {
    expect(storePath).toMatch(/^\/nix\/store\/[0-9a-z]{32}-migen-source$/);
    const top = readdirSync(storePath).sort();
    for (const need of ['bin', 'nix', 'package-lock.json', 'package.json', 'schemas', 'scripts', 'src', 'templates', 'tsconfig.build.json']) expect(top).toContain(need);
    for (const never of ['test', 'examples', 'generated', 'dist', 'node_modules', 'bench', '.git']) expect(top).not.toContain(never);
  });

  it('package.json\'s "build" script succeeds in it, and the built CLI runs', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'migen-src-'));
    temps.push(dir);
    cpSync(storePath, dir, { recursive: true });
    execFileSync('chmod', ['-R', 'u+w', dir]);
    symlinkSync(path.join(repoRoot, 'node_modules'), path.join(dir, 'node_modules'));
    const build = (JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts.build!;
    execFileSync('bash', ['-c', build], { cwd: dir, env: { ...process.env, PATH: `${path.join(dir, 'node_modules/.bin')}:${process.env.PATH}` }, stdio: 'pipe' });
    for (const f of ['dist/cli.js', 'dist/templates.cjs', 'dist/schemas/manifest.cjs', 'dist/runtime/index.js']) expect(existsSync(path.join(dir, f)), f).toBe(true);
    // the CLI built from this source plans the example exactly like the checkout's build does
    const plan = (bin: string) => spawnSync(process.execPath, [bin, 'plan', 'examples/homelab/migrations/forgejo.yaml'], { cwd: repoRoot, encoding: 'utf8' });
    const built = plan(path.join(dir, 'bin/migen.js'));
    expect(built.status, built.stderr).toBe(2);
    expect(built.stdout).toMatch(/^migen plan for examples\/homelab\/migrations\/forgejo\.yaml/);
    expect(built.stdout).toBe(plan(path.join(repoRoot, 'bin/migen.js')).stdout);
  }, 120_000);
});
