// bench/window: the fit and the report.
import { execFileSync } from 'node:child_process';
import os from 'node:os';
import { SIZES } from './downtime.js';

export interface Sample { readonly files: number; readonly bytes: number; readonly delta: number; readonly run: number; readonly finalMs: number; readonly verifyMs: number }
export interface Fit {
  /** final pass ms = finalMs + finalPerFileMs·files + delta / bytesPerMs */
  readonly finalMs: number; readonly finalPerFileMs: number; readonly bytesPerSecond: number;
  /** the dry run ms = verifyMs + verifyPerFileMs·files */
  readonly verifyMs: number; readonly verifyPerFileMs: number;
}

/** Least squares: the coefficients x of A·x ≈ y (normal equations, Gaussian elimination). */
function lsq(rows: number[][], y: number[]): number[] {
  const n = rows[0]!.length;
  const m = Array.from({ length: n }, (_, i) => [...Array.from({ length: n }, (_, j) => rows.reduce((s, r) => s + r[i]! * r[j]!, 0)), rows.reduce((s, r, k) => s + r[i]! * y[k]!, 0)]);
  for (let c = 0; c < n; c++) {
    const p = m.slice(c).reduce((best, r, k) => (Math.abs(r[c]!) > Math.abs(m[best]![c]!) ? c + k : best), c);
    [m[c], m[p]] = [m[p]!, m[c]!];
    for (let r = 0; r < n; r++) if (r !== c) { const f = m[r]![c]! / m[c]![c]!; for (let k = c; k <= n; k++) m[r]![k]! -= f * m[c]![k]!; }
  }
  return m.map((r, i) => r[n]! / r[i]!);
}

const median = (xs: number[]): number => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]!; };

export function fitWindow(samples: readonly Sample[]): Fit {
  const [a, b, inv] = lsq(samples.map((s) => [1, s.files, s.delta]), samples.map((s) => s.finalMs));
  const [c, d] = lsq(samples.map((s) => [1, s.files]), samples.map((s) => s.verifyMs));
  return { finalMs: a!, finalPerFileMs: b!, bytesPerSecond: 1000 / inv!, verifyMs: c!, verifyPerFileMs: d! };
}

/** The other steps of migen's window and the copy under load, from bench/downtime's migen runs (medians per state size). */
export interface Loaded {
  readonly runs: number;
  readonly sizes: readonly { readonly size: string; readonly files: number; readonly finalMs: number; readonly verifyMs: number; readonly windowMs: number }[];
  readonly finalMs: number; readonly finalPerFileMs: number; readonly verifyMs: number; readonly verifyPerFileMs: number;
  readonly stopMs: number; readonly startMs: number; readonly switchMs: number; readonly backendMs: number; readonly sqliteMs: number; readonly firstVerifyMs: number;
}

export function loadedFit(runs: readonly { procedure: string; size: string; windowMs: number; steps: Record<string, number> }[]): Loaded {
  const ms = runs.filter((r) => r.procedure === 'migen');
  const step = (xs: typeof ms, pick: (k: string) => boolean): number => median(xs.flatMap((r) => Object.keys(r.steps).filter(pick).map((k) => r.steps[k]!)));
  const sizes = [...new Set(ms.map((r) => r.size))].map((size) => {
    const xs = ms.filter((r) => r.size === size);
    return { size, files: SIZES[size]!.smallFiles + SIZES[size]!.largeFiles, finalMs: step(xs, (k) => k === 'final-pass'), verifyMs: step(xs, (k) => k === 'copy-identical'), windowMs: median(xs.map((r) => r.windowMs)) };
  }).sort((a, b) => a.files - b.files);
  const [lo, hi] = [sizes[0]!, sizes[sizes.length - 1]!];
  const slope = (f: (x: typeof lo) => number): number => (f(hi) - f(lo)) / (hi.files - lo.files);
  const finalPerFileMs = slope((x) => x.finalMs); const verifyPerFileMs = slope((x) => x.verifyMs);
  return {
    runs: ms.length, sizes,
    finalMs: lo.finalMs - finalPerFileMs * lo.files, finalPerFileMs, verifyMs: lo.verifyMs - verifyPerFileMs * lo.files, verifyPerFileMs,
    stopMs: step(ms, (k) => k === 'stop-old'), startMs: step(ms, (k) => k === 'start-new'), switchMs: step(ms, (k) => k === 'route-new'),
    backendMs: step(ms, (k) => k === 'backend-healthy'), sqliteMs: step(ms, (k) => k.startsWith('sqlite')), firstVerifyMs: step(ms, (k) => k === 'verify-1'),
  };
}

/** The window as plan/window.ts models it, for a delta too small to count (one SQLite database). */
export function modelMs(l: Loaded, files: number): number {
  return l.stopMs + l.finalMs + l.finalPerFileMs * files + l.verifyMs + l.verifyPerFileMs * files + l.sqliteMs + Math.max(l.startMs, l.switchMs) + l.backendMs + l.firstVerifyMs;
}

export function markdown(samples: readonly Sample[], fit: Fit, o: { runs: number; loaded: Loaded | null }): string {
  const cases = [...new Set(samples.map((s) => `${s.files}/${s.delta}`))].map((k) => samples.filter((s) => `${s.files}/${s.delta}` === k));
  const rev = (() => { try { return execFileSync('git', ['log', '-1', '--format=%h %s'], { encoding: 'utf8' }).trim(); } catch { return 'unknown'; } })();
  const r = (x: number, d = 1): string => x.toFixed(d);
  const predict = (files: number, delta: number): number => fit.finalMs + fit.finalPerFileMs * files + (delta / fit.bytesPerSecond) * 1000 + fit.verifyMs + fit.verifyPerFileMs * files;
  return [
    '# The downtime window\'s copy in the lab (bench/window)',
    '',
    `Code: \`${rev}\`. Machine: ${os.cpus().length} CPUs, ${Math.round(os.totalmem() / 2 ** 30)} GiB RAM, load ${os.loadavg().map((x) => x.toFixed(2)).join(' ')} at the end.`,
    '',
    `On h002 of a two-host lab (o001 100.64.0.1 holds the state), the committed vaultwarden plan's \`final-pass\` and \`copy-identical\` scripts, over an ssh connection opened before (ControlPersist). States of files of 4-12 KiB; the delta is one new file of that size written on o001 before the pass. ${o.runs} runs per case; milliseconds, median (min-max).`,
    '',
    '| files | state bytes | delta bytes | final pass | dry run | model (both) |',
    '|---:|---:|---:|---:|---:|---:|',
    ...cases.map((xs) => {
      const f = xs.map((x) => x.finalMs); const v = xs.map((x) => x.verifyMs);
      return `| ${xs[0]!.files} | ${xs[0]!.bytes} | ${xs[0]!.delta} | ${median(f)} (${Math.min(...f)}-${Math.max(...f)}) | ${median(v)} (${Math.min(...v)}-${Math.max(...v)}) | ${r(predict(xs[0]!.files, xs[0]!.delta), 0)} |`;
    }),
    '',
    'Least-squares fit over every run:',
    '',
    `- final pass: ${r(fit.finalMs)} ms + ${r(fit.finalPerFileMs * 1000)} ms per 1,000 files + delta at ${r(fit.bytesPerSecond / 1e6)} MB/s`,
    `- dry run proving the copies equal: ${r(fit.verifyMs)} ms + ${r(fit.verifyPerFileMs * 1000)} ms per 1,000 files`,
    '',
    ...(o.loaded ? [
      '## Under load: migen\'s window in bench/downtime',
      '',
      `bench/results/downtime.json, the ${o.loaded.runs} migen runs (Vaultwarden o001 -> h002 while a writer and a prober go through o001's nginx; the live passes left a delta of a few hundred KiB): medians per state size.`,
      '',
      '| state | files | final pass | dry run | window | the planner\'s model (small delta) |',
      '|---|---:|---:|---:|---:|---:|',
      ...o.loaded.sizes.map((x) => `| ${x.size} | ${x.files} | ${x.finalMs} | ${x.verifyMs} | ${x.windowMs} | ${r(modelMs(o.loaded!, x.files), 0)} |`),
      '',
      `- the copy under load (two sizes): final pass ${r(o.loaded.finalMs)} ms + ${r(o.loaded.finalPerFileMs * 1000)} ms per 1,000 files; dry run ${r(o.loaded.verifyMs)} ms + ${r(o.loaded.verifyPerFileMs * 1000)} ms per 1,000 files (about twice the figures above, measured without clients)`,
      `- the other steps (medians of every run): stop ${o.loaded.stopMs} ms, start ${o.loaded.startMs} ms and route switch ${o.loaded.switchMs} ms (at once), backend check ${o.loaded.backendMs} ms, SQLite integrity_check ${o.loaded.sqliteMs} ms, first verification ${o.loaded.firstVerifyMs} ms`,
      '',
    ] : []),
    '## What the planner uses (src/generator/plan/window.ts)',
    '',
    'The window = stop + final pass + dry run + integrity_check (SQLite) + the longer of start and switch + backend check + first verification. Per file and fixed costs of the copy from the runs under load (the window never runs on an idle machine), the delta at the slower of the manifest\'s sync.bandwidthBytesPerSecond and the throughput fitted above. Rerun `node bench/window.mjs` (after `node bench/downtime.mjs` for new load figures) and copy the constants.',
    '',
  ].join('\n');
}
