// vitest config of bench/window (run by bench/window.mjs): one file, runs sequentially.
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['bench/window.bench.test.ts'],
    testTimeout: 3_600_000,
    hookTimeout: 600_000,
    pool: 'forks',
    fileParallelism: false,
    reporters: ['verbose'],
    // after the run: no lab of this run left a namespace, mount or process behind
    globalSetup: ['test/lab/leftovers.global.ts'],
  },
});
