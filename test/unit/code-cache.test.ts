// src/vendor.ts loads the CommonJS build artifacts through node:vm with V8's code cache. V8 checks
// a cache only against the source's length: these tests show that migen's own check (the sha256
// of the source in front of each cache) keeps a same-length edit from running stale code, and
// that a valid cache is accepted by V8.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { cacheUse, loadCompiled, writeCodeCache } from '../../src/vendor.js';

describe('code cache of the build artifacts', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'migen-cc-'));
  const cache = path.join(dir, 'cache');
  const file = path.join(dir, 'artifact.cjs');
  const v1 = "'use strict';\nconst base = require('node:path').basename('/x/one');\nmodule.exports = { base, answer() { return 41 + 1; }, version: 'AAA' };\n";
  const v2 = v1.replace("'AAA'", "'BBB'"); // same length, other code

  it('without a cache the file loads like require() would, with its own require and module', () => {
    writeFileSync(file, v1);
    const m = loadCompiled(file, cache) as { base: string; answer(): number; version: string };
    expect(cacheUse.get(file)).toBe('none');
    expect([m.base, m.answer(), m.version]).toEqual(['one', 42, 'AAA']);
  });

  it('a cache written after use is accepted by V8 on the next load', () => {
    expect(writeCodeCache(cache).some((f) => f.endsWith('.v8'))).toBe(true);
    const m = loadCompiled(file, cache) as { answer(): number; version: string };
    expect(cacheUse.get(file)).toBe('used');
    expect([m.answer(), m.version]).toEqual([42, 'AAA']);
  });

  it('a same-length edit of the source is not run from the stale cache', () => {
    expect(v2.length).toBe(v1.length);
    writeFileSync(file, v2);
    const m = loadCompiled(file, cache) as { version: string };
    expect(cacheUse.get(file)).toBe('stale');
    expect(m.version).toBe('BBB');
  });
});
