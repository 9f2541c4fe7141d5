/**
 * [13]'s figures for the hot window: writes unavailable under 2 s at 100 MiB and at 1 GiB, the two
 * within 20% of each other. They are benchmark targets (bench/pg-window.mjs runs
 * test/lab/pg-window.test.ts and test/e2e/w13.test.ts with MIGEN_TARGETS=1, where they are asserted,
 * and reports the figures). Without it, as in `npm test`, the tests assert what the load on the
 * machine does not change. A CPU-starved host has a longer window, as a real one would: the
 * window's steps are psql sessions and process starts, CPU-bound here. Under `stress-ng --cpu 2`
 * on this 2-core machine (scripts/flake-hunt.sh --load) they measured 1860 and 2007 ms, then 1954
 * and 1594 ms (23% apart, the smaller database slower): twice the quiet figures, and single
 * measurements 20% apart by load alone. What the load cannot make pass by chance: nothing in the
 * window grows with the data (ten times the data, at most 1.5 times the window: a copy or a full
 * scan of 1 GiB inside the window would take seconds), and no window near the seed's 5 s.
 */
export const STRICT = process.env.MIGEN_TARGETS === '1';
export const WINDOW_MAX_MS = STRICT ? 2000 : 5000;
/** |a - b| / min(a, b) at most this, for windows measured at the same moment. */
export const SIZES_APART = STRICT ? 0.2 : 0.5;
export const TARGETS_NOTE = STRICT ? 'the targets of [13] (MIGEN_TARGETS=1)' : 'what load does not change (the 2 s and 20% targets: bench/pg-window.mjs)';
