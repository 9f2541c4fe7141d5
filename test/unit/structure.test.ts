// The shape of src/: no import cycles (type-only imports included) and files short enough to read
// in one sitting; and no merge-conflict markers anywhere in the repository.
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parseCircular, parseDependencyTree } from 'dpdm';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/cli.js';

const files = (dir: string, ext = /\.ts$/): string[] => readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? files(path.join(dir, e.name), ext) : ext.test(e.name) ? [path.join(dir, e.name)] : []));

describe('src/', () => {
  it('has no circular import (dpdm, type-only imports included)', async () => {
    const cwd = process.cwd();
    process.chdir(ROOT);
    try {
      const tree = await parseDependencyTree('src/**/*.ts', { context: ROOT, transform: false, skipDynamicImports: false });
      expect(Object.keys(tree).length).toBeGreaterThan(50);
      expect(parseCircular(tree)).toEqual([]);
    } finally {
      process.chdir(cwd);
    }
  });

  it('has no file longer than 250 lines (TypeScript, the coordinator\'s bash, any other)', () => {
    const all = files(path.join(ROOT, 'src'), /./);
    expect(all.some((f) => f.endsWith('.sh'))).toBe(true);
    const long = all.map((f) => [path.relative(ROOT, f), readFileSync(f, 'utf8').split('\n').length - 1] as const).filter(([, n]) => n > 250);
    expect(long).toEqual([]);
  });
});

describe('the repository', () => {
  it('holds no merge-conflict markers in a tracked file', () => {
    const tracked = spawnSync('git', ['ls-files', '-z'], { cwd: ROOT, encoding: 'utf8' }).stdout.split('\0').filter(Boolean);
    expect(tracked.length).toBeGreaterThan(100);
    const marked = tracked.filter((f) => {
      let text: string;
      try { text = readFileSync(path.join(ROOT, f), 'utf8'); } catch { return false; }
      return /^(<{7} |>{7} )/m.test(text);
    });
    expect(marked).toEqual([]);
  });
});
