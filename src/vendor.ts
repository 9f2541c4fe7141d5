import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createRequire, Module } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import vm from 'node:vm';
import type * as YamlNS from 'yaml';

const require = createRequire(import.meta.url);
const here = path.dirname(fileURLToPath(import.meta.url));

/**
 * Build artifacts that `migen plan` loads (dist/vendor/*.cjs, dist/templates.cjs,
 * dist/schemas/*.cjs) are CommonJS files compiled here through node:vm with V8's code cache
 * (dist/code-cache/, written by scripts/code-cache.mjs after a warm-up run), so neither their
 * parsing nor the compilation of the functions the warm-up used is paid again at every start.
 * Node 22 has this built in (module.enableCompileCache); Node 20 does not.
 *
 * V8 checks a cache only against the source's length, so each cache file starts with the sha256
 * of the source it was made from and is used only when that matches. A cache V8 rejects (another
 * Node version or V8 flags) or a missing one only costs the normal compilation.
 */
const CACHE_DIR = path.join(here, 'code-cache');
const HASH_BYTES = 32;
const loaded = new Map<string, { script: vm.Script; sha: Buffer; name: string }>();

/** How the last loadCompiled() of a file used the cache: none found, stale (other source), rejected by V8, or used. */
export type CacheUse = 'none' | 'stale' | 'rejected' | 'used';
export const cacheUse = new Map<string, CacheUse>();

function cacheName(file: string): string {
  return path.relative(here, file).replace(/[\\/]/g, '__');
}

/** require() of a CommonJS build artifact, with the code cache when there is a valid one. */
export function loadCompiled(file: string, cacheDir = CACHE_DIR): unknown {
  const source = readFileSync(file, 'utf8');
  const sha = createHash('sha256').update(source).digest();
  let cachedData: Buffer | undefined;
  let use: CacheUse = 'none';
  const cacheFile = path.join(cacheDir, `${cacheName(file)}.v8`);
  if (existsSync(cacheFile)) {
    const c = readFileSync(cacheFile);
    if (c.length > HASH_BYTES && c.subarray(0, HASH_BYTES).equals(sha)) cachedData = c.subarray(HASH_BYTES);
    else use = 'stale';
  }
  const script = new vm.Script(Module.wrap(source), { filename: file, cachedData });
  if (cachedData) use = script.cachedDataRejected ? 'rejected' : 'used';
  cacheUse.set(file, use);
  loaded.set(file, { script, sha, name: cacheName(file) });
  const fn = script.runInThisContext() as (exports: unknown, require: NodeJS.Require, module: { exports: unknown }, filename: string, dirname: string) => void;
  const mod = { exports: {} as unknown };
  fn.call(mod.exports, mod.exports, createRequire(file), mod, file, path.dirname(file));
  return mod.exports;
}

/** Writes the code cache of every file loadCompiled() loaded so far (after a warm-up: scripts/code-cache.mjs). */
export function writeCodeCache(cacheDir = CACHE_DIR): string[] {
  mkdirSync(cacheDir, { recursive: true });
  const written: string[] = [];
  for (const { script, sha, name } of loaded.values()) {
    const out = path.join(cacheDir, `${name}.v8`);
    writeFileSync(`${out}.tmp`, Buffer.concat([sha, script.createCachedData()]));
    renameSync(`${out}.tmp`, out);
    written.push(out);
  }
  return written;
}

/** A build artifact next to this file (dist/), or null when running from src/ (no build). */
export function artifact(rel: string): unknown {
  const file = path.join(here, rel);
  return existsSync(file) ? loadCompiled(file) : null;
}

/**
 * A CommonJS package as packed into one file by scripts/bundle-vendor.mjs (dist/vendor/NAME.cjs,
 * loaded in a few ms instead of file by file), or the package itself where no pack exists (src/
 * run by the tests).
 */
export function vendored<T>(name: string, pkg: string): T {
  return (artifact(`vendor/${name}.cjs`) ?? require(pkg)) as T;
}

export const YAML = vendored<typeof YamlNS>('yaml', 'yaml');
