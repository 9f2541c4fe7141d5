// Build step (last): V8 code cache for the CommonJS artifacts `migen plan` loads (see
// src/vendor.ts). Runs `migen plan` on the example fleet in this process as the warm-up, so the
// cache also holds the functions a plan compiles lazily (parsing YAML, validating, rendering), then
// writes dist/code-cache/*.v8. Without the example (a source tree without examples/) the artifacts
// are only loaded. The cache is an optimisation only: a missing or rejected one costs the normal
// compilation, and a cache whose source hash differs is never used.
import { existsSync, readdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
rmSync(path.join(root, 'dist/code-cache'), { recursive: true, force: true });
const vendor = await import(path.join(root, 'dist/vendor.js'));
const examples = path.join(root, 'examples/homelab/migrations');
if (existsSync(examples)) {
  const { main } = await import(path.join(root, 'dist/cli.js'));
  const manifests = readdirSync(examples).filter((f) => f.endsWith('.yaml')).sort().map((f) => path.relative(root, path.join(examples, f)));
  const write = process.stdout.write;
  process.chdir(root);
  process.stdout.write = () => true;
  let code;
  try { code = await main(['plan', ...manifests]); } finally { process.stdout.write = write; }
  if (code !== 0 && code !== 2) throw new Error(`code-cache warm-up: migen plan exited ${code}`);
} else {
  for (const rel of ['templates.cjs', 'vendor/handlebars-runtime.cjs', 'schemas/manifest.cjs', 'schemas/inventory.cjs']) vendor.artifact(rel);
}
const written = vendor.writeCodeCache();
console.log(`code cache: ${written.length} file(s) in dist/code-cache/`);
