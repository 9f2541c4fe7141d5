// Build artifacts next to this file in dist/ (precompiled schema validators and templates,
// scripts/compile-*.mjs): loaded when present, so the CLI compiles neither at start. Running from
// src/ (the tests) there are none, and callers compile instead.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const here = path.dirname(fileURLToPath(import.meta.url));

export function artifact(rel: string): unknown {
  const file = path.join(here, rel);
  return existsSync(file) ? require(file) : null;
}
