#!/usr/bin/env node
// Node's own compile cache (22.1+): the modules migen plan loads are compiled once, not at every start.
import module from 'node:module';
module.enableCompileCache?.();
// dist/migen.js: dist/cli.js bundled by esbuild (scripts/bundle.mjs), a few files to load instead of ~190.
const { main } = await import('../dist/migen.js');
// `migen plan ... | head` closes the pipe early: that is not an error.
process.stdout.on('error', (e) => { if (e.code === 'EPIPE') process.exit(0); throw e; });
process.exitCode = await main(process.argv.slice(2));
