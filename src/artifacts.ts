// Build artifacts next to this file in dist/ (precompiled schema validators and templates,
// scripts/compile-*.mjs): loaded when present, so the CLI compiles neither at start. Running from
// src/ (the tests) there are none, and callers compile instead.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const here = path.dirname(fileURLToPath(import.meta.url));

/**
 * The package root (templates/, schemas/, nix/, bin/): the folder above this file's, which is src/,
 * dist/, or dist/ for the bundle bin/migen.js loads (scripts/bundle.mjs keeps its chunks there), so
 * no other module derives a path from its own place.
 */
export const ROOT = path.dirname(here);

export function artifact(rel: string): unknown {
  const file = path.join(here, rel);
  return existsSync(file) ? require(file) : null;
}
