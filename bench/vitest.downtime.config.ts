// vitest config of bench/downtime (run by bench/downtime.mjs): one file, runs sequentially.
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['bench/downtime.bench.test.ts'],
    testTimeout: 3_600_000,
    hookTimeout: 600_000,
    pool: 'forks',
    fileParallelism: false,
    reporters: ['verbose'],
    // after the run: no lab of this run left a namespace, mount or process behind
    globalSetup: ['test/lab/leftovers.global.ts'],
  },
});
