// Build step, after tsc: bundles the CLI that bin/migen.js loads (dist/migen.js) with esbuild, so
// `migen plan` resolves and loads a few files instead of some 190 (tsc's modules, yaml's and
// handlebars' CommonJS files). The input is tsc's output; every `import()` stays lazy (a chunk of
// its own). Left out, and loaded from tsc's output as before: the runtime that generated runbooks
// import (`migen/runtime`, dist/runtime/) and errors.js, so that one copy of each class exists in a
// process whichever way it was reached (UserError is caught by instanceof on both sides); and the
// npm packages other than yaml and handlebars (ts-morph, zx and ajv load only when needed).
// The chunks sit in dist/ itself, beside dist/artifacts.js, so ROOT (src/artifacts.ts) holds there too.
import { build } from 'esbuild-wasm';
import { readdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dist = path.join(root, 'dist');
const BUNDLED_PACKAGES = new Set(['yaml', 'handlebars']);
const shared = (file) => {
  const rel = path.relative(dist, file).split(path.sep).join('/');
  return rel.startsWith('runtime/') || rel === 'errors.js';
};

for (const f of readdirSync(dist)) if (/^migen(-[A-Z0-9]+)?\.js$/.test(f)) rmSync(path.join(dist, f));

await build({
  entryPoints: { migen: path.join(dist, 'cli.js') },
  outdir: dist,
  chunkNames: 'migen-[hash]',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node24',
  logLevel: 'warning',
  // yaml's CommonJS files require node:process and node:buffer; an ES module has no `require`.
  banner: { js: "import { createRequire as __migenCreateRequire } from 'node:module';\nconst require = __migenCreateRequire(import.meta.url);" },
  plugins: [{
    name: 'migen-externals',
    setup(b) {
      // Node's own modules through require, not an ES module import: importing node:fs, node:util
      // or node:crypto as an ES module builds a facade of every export, and reading some of them
      // loads more of Node (fs/promises, util.diff with worker_threads, webcrypto). The object
      // handed to the bundle inherits from the module instead of copying it, for the same reason.
      // (An import() of one stays as it is: a chunk made of a CommonJS module has only a default export.)
      b.onResolve({ filter: /^node:/ }, (args) => (args.namespace === 'node-builtin' || args.kind === 'dynamic-import' ? { external: true } : { path: args.path, namespace: 'node-builtin' }));
      b.onLoad({ filter: /.*/, namespace: 'node-builtin' }, (args) => ({ contents: `module.exports = Object.create(require(${JSON.stringify(args.path)}));`, loader: 'js' }));
      // npm packages: yaml and handlebars (its runtime) in the bundle, the others where npm put them.
      b.onResolve({ filter: /^[^./]/ }, (args) => {
        const pkg = args.path.startsWith('@') ? args.path.split('/').slice(0, 2).join('/') : args.path.split('/')[0];
        return BUNDLED_PACKAGES.has(pkg) ? undefined : { external: true };
      });
      // tsc's runtime/ and errors.js: imported from dist/ (the chunks sit there too).
      b.onResolve({ filter: /^\./ }, (args) => {
        const file = path.resolve(args.resolveDir, args.path);
        if (!file.startsWith(dist + path.sep) || !shared(file)) return undefined;
        return { path: `./${path.relative(dist, file).split(path.sep).join('/')}`, external: true };
      });
    },
  }],
});
