/**
 * bench/downtime helpers: the state to migrate, one run of a procedure in a fresh lab, and the
 * markdown report. Used by bench/downtime.bench.test.ts (run by bench/downtime.mjs).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { checks, createLab, startProber, startWriter, type Lab } from '../../test/lab/index.js';
import { makeRoot, migenRun, readReport, REPO, sleep } from '../../test/e2e/helpers.js';
import { VW_DB, VW_DOMAIN, VW_STATE, setupVaultwarden, vaultwardenLabOptions } from '../../test/e2e/fleet.js';
import { proxyProfiles } from '../../test/e2e/helpers.js';

export const SEED_SCRIPT = path.join(REPO, 'bench', 'downtime-seed.sh');

export interface SizeSpec { label: string; totalBytes: number; smallFiles: number; largeFiles: number }
/** many small files (4-16 KiB, random bytes: Vaultwarden's attachments are encrypted) plus a few
 * large ones sized so that attachments/ holds totalBytes */
export const SIZES: Record<string, SizeSpec> = {
  '100M': { label: '100 MiB', totalBytes: 100 * 2 ** 20, smallFiles: 5_000, largeFiles: 3 },
  '1G': { label: '1 GiB', totalBytes: 2 ** 30, smallFiles: 20_000, largeFiles: 4 },
};

/** deterministic (seeded) so that every lab starts from byte-identical state */
const POPULATE_PY = String.raw`
import os, random, sys
root, n_small, n_large, total = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
rng = random.Random(6)
d = os.path.join(root, 'attachments')
os.makedirs(d, exist_ok=True)
small = 0
for i in range(n_small):
    size = rng.randint(4096, 16384)
    with open(os.path.join(d, 'bulk-%05d.bin' % i), 'wb') as f:
        f.write(rng.randbytes(size))
    small += size
each = (total - small) // n_large
for i in range(n_large):
    left = each
    with open(os.path.join(d, 'large-%d.bin' % i), 'wb') as f:
        while left > 0:
            n = min(left, 8 << 20)
            f.write(rng.randbytes(n))
            left -= n
print(small, each)
`;

export async function populate(lab: Lab, size: SizeSpec): Promise<void> {
  const r = await lab.exec('o001', `/usr/bin/python3 - ${VW_STATE} ${size.smallFiles} ${size.largeFiles} ${size.totalBytes} <<'PY'\n${POPULATE_PY}\nPY\nsync`);
  if (r.code !== 0) throw new Error(`populate: ${r.stderr}`);
}

export const load = (): string => fs.readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
export const uptime = (): string => execFileSync('uptime', { encoding: 'utf8' }).trim();

/** what migen ran: sha256 (12 hex) of the runbook and of dist/runtime/engine.js at the start of the run */
export const gitHead = (): string => {
  try { return execFileSync('git', ['-C', REPO, 'log', '-1', '--format=%h %s'], { encoding: 'utf8' }).trim(); } catch { return 'unknown'; }
};
export const fingerprint = (): string => ['generated/runbooks/migrate-vaultwarden.mjs', 'dist/runtime/engine.js']
  .map((f) => createHash('sha256').update(fs.readFileSync(path.join(REPO, f))).digest('hex').slice(0, 12)).join('/');

export type Procedure = 'seed' | 'seed-delete' | 'migen';
export interface RunResult {
  size: string;
  procedure: Procedure;
  run: number;
  /** prober: longest outage (first failing probe sent -> next success) */
  outageMs: number;
  /** writer: longest gap between two acknowledged writes */
  writerGapMs: number;
  /** migen's report window (stop -> first successful verification); seed: stop start -> proxy switched */
  windowMs: number | null;
  /** whole procedure, wall */
  wallMs: number;
  stateBytes: number;
  acked: number;
  ackedMissing: number;
  integrity: string;
  /** files of o001's stopped state (db files excepted) missing or different on h002 */
  filesDiffer: number;
  /** o001 left a db.sqlite3-wal when the service stopped */
  oldWal: boolean;
  /** h002 answered through the proxy after the procedure */
  served: boolean;
  /** the seed's step 4 failed: h002's unit log (tail) */
  startFailure: string;
  /** per step: id -> ms (migen: the report; seed: the script's steps) */
  steps: Record<string, number>;
  loadBefore: string;
  loadAfter: string;
  /** migen runs: runbook/engine fingerprint */
  code: string;
  /** a fresh `ssh o001 true` just before the procedure, ms */
  sshMs: number;
  exit: number;
}

/** the seed's steps as bench/downtime-seed.sh numbers them */
export const SEED_STEPS: Record<string, string> = {
  '1': 'rsync -avz (live)',
  '2': 'ssh o001 systemctl stop',
  '3': 'rsync -avz (final)',
  '4': 'ssh h002 systemctl start',
  '5': 'proxy switch',
  '6': 'curl',
};

export async function runOnce(sizeKey: string, procedure: Procedure, run: number, log: (s: string) => void): Promise<RunResult> {
  const size = SIZES[sizeKey]!;
  const loadBefore = load();
  const code = procedure === 'migen' ? fingerprint() : '';
  const lab = await createLab(vaultwardenLabOptions({}, false));
  try {
    const root = makeRoot(lab);
    await setupVaultwarden(lab);
    if (procedure !== 'migen') await seedProfile(lab);
    await populate(lab, size);
    const stateBytes = Number((await lab.exec('o001', `du -sb ${VW_STATE} | cut -f1`)).stdout.trim());
    // the machine's responsiveness right now: a fresh `ssh o001 true` from the operator
    const sshT0 = Date.now();
    await lab.operator(['ssh', 'o001', 'true']);
    const sshMs = Date.now() - sshT0;
    const maxMs = 1_800_000;
    const writer = startWriter(lab, { address: '100.64.0.1', host: VW_DOMAIN, attachEvery: 5, maxMs });
    const prober = startProber(lab, { address: '100.64.0.1', host: VW_DOMAIN, intervalMs: 50, maxMs });
    await sleep(700);
    const t0 = Date.now();
    let exit: number;
    let steps: Record<string, number> = {};
    let windowMs: number | null = null;
    let startFailure = '';
    if (procedure !== 'migen') {
      const timings = path.join(lab.dir, 'seed-timings.txt');
      const out = path.join(lab.dir, 'seed-output.txt');
      const r = await lab.operator(['bash', '-c', `exec 3>'${timings}'; exec bash '${SEED_SCRIPT}' >'${out}' 2>&1`], { cwd: REPO, env: { SEED_FINAL_EXTRA: procedure === 'seed-delete' ? '--delete' : '' } });
      exit = r.code;
      const lines = fs.readFileSync(timings, 'utf8').trim().split('\n').map((l) => l.split(' '));
      let stopAt = 0;
      let switched = 0;
      for (const [, n, a, b, rc] of lines) {
        steps[`${n} ${SEED_STEPS[n!]}`] = Number(b) - Number(a);
        if (n === '2') stopAt = Number(a);
        if (n === '5') switched = Number(b);
        if (rc !== '0' && !(n === '1' && rc === '24')) exit = exit || Number(rc) || 1;
        if (n === '4' && rc !== '0') startFailure = (await lab.exec('h002', 'journalctl -u vaultwarden | tail -n 3; ls -la /var/lib/vaultwarden | grep db.sqlite')).stdout.trim();
      }
      windowMs = stopAt && switched ? switched - stopAt : null;
      const tail = fs.readFileSync(out, 'utf8').split('\n').slice(-6).join('\n');
      log(`seed output (tail):\n${tail}`);
    } else {
      const m = migenRun(lab, 'vaultwarden', root);
      const r = await m.done;
      exit = r.code;
      if (r.code !== 0) log(r.stdout + r.stderr);
      if (process.env.DOWNTIME_LOGS) {
        fs.mkdirSync(process.env.DOWNTIME_LOGS, { recursive: true });
        fs.writeFileSync(path.join(process.env.DOWNTIME_LOGS, `migen-${sizeKey}-${run}.log`), r.stdout + r.stderr);
      }
      const rep = readReport(root, 'vaultwarden');
      windowMs = rep.window.ms;
      steps = Object.fromEntries(rep.steps.map((s) => [s.id, s.ms]));
    }
    const wallMs = Date.now() - t0;
    // until the prober has seen h002 (or 10 s), then a little more traffic on h002
    for (let i = 0; i < 200 && !prober.samples.some((s) => s.ok && s.host === 'h002'); i++) await sleep(50);
    await sleep(700);
    const acked = await writer.stop();
    const probe = await prober.stop();
    const served = probe.samples.some((s) => s.ok && s.host === 'h002');
    const ts = acked.map((a) => a.t).sort((a, b) => a - b);
    let writerGapMs = 0;
    for (let i = 1; i < ts.length; i++) writerGapMs = Math.max(writerGapMs, ts[i]! - ts[i - 1]!);
    const ids = new Set(await checks.rowIds(lab, 'h002', VW_DB).catch(() => [] as number[]));
    const ackedMissing = acked.filter((a) => !ids.has(a.id)).length;
    const integrity = await checks.sqliteIntegrity(lab, 'h002', VW_DB);
    const oldWal = (await lab.exec('o001', `test -e ${VW_DB}-wal`)).code === 0;
    const isDb = /^db\.sqlite3/;
    const oldTree = await checks.treeDigest(lab, 'o001', VW_STATE, { exclude: isDb });
    const newTree = await checks.treeDigest(lab, 'h002', VW_STATE, { exclude: isDb });
    const filesDiffer = Object.entries(oldTree).filter(([k, v]) => newTree[k] !== v).length;
    return {
      size: sizeKey, procedure, run, outageMs: probe.longestOutageMs, writerGapMs, windowMs, wallMs, stateBytes,
      acked: acked.length, ackedMissing, integrity, filesDiffer, oldWal, served, startFailure, steps, loadBefore, loadAfter: load(), exit, code, sshMs,
    };
  } finally {
    await lab.teardown();
  }
}

// ---------------------------------------------------------------- report

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const sec = (ms: number | null): string => (ms === null ? '–' : `${(ms / 1000).toFixed(2)} s`);
const agg = (xs: number[]): string => (xs.length === 1 ? sec(xs[0]!) : `${sec(median(xs))} (${xs.map((x) => (x / 1000).toFixed(2)).join(' / ')})`);

export function markdown(results: RunResult[], meta: { startUptime: string; endUptime: string; nproc: number; head: string }): string {
  const out: string[] = [];
  out.push('# Downtime: the seed\'s warm procedure vs migen\'s warm runbook (Vaultwarden o001 -> h002, test/lab)', '');
  out.push(`Code: \`${meta.head}\` (the runbook/engine sha256 of every migen run is in the integrity table).`, '');
  out.push(`Machine: ${meta.nproc} CPUs, ${Math.round(os.totalmem() / 2 ** 30)} GiB RAM. Load (uptime) at start: \`${meta.startUptime}\`; at end: \`${meta.endUptime}\`.`, '');
  out.push('Downtime = the prober\'s longest outage (GET /healthz every 50 ms through o001\'s nginx, from the first failing probe sent to the next success) and the writer\'s longest gap between acknowledged writes (POST /items every 20 ms, every 5th with an attachment). Medians over the runs, single values in brackets (run 1 / 2 / ...). Seed window = from `ssh o001 systemctl stop` to the proxy switch done; migen window = the report\'s (stop to first successful verification).', '');
  out.push('| size | runs | seed as written: result, outage (prober) | seed with final `--delete`: outage (prober) | its writer gap | migen outage (prober) | migen writer gap | migen/seed (outage) | migen report window | seed window (stop -> proxy switched) | targets (≤ 1/10 of seed; 1 GiB < 5 s) |');
  out.push('|---|---|---|---|---|---|---|---|---|---|---|');
  for (const size of [...new Set(results.map((r) => r.size))]) {
    const lit = results.filter((r) => r.size === size && r.procedure === 'seed');
    const del = results.filter((r) => r.size === size && r.procedure === 'seed-delete');
    const m = results.filter((r) => r.size === size && r.procedure === 'migen');
    if (!m.length || (!lit.length && !del.length)) continue;
    // the reference: the seed as written when it brought the service back every time, else the --delete variant
    // the seed as written is the reference only when it was correct every time: h002 served, no
    // acknowledged write lost, integrity ok
    const correct = (r: RunResult) => r.served && r.exit === 0 && r.ackedMissing === 0 && r.integrity === 'ok';
    const litOk = lit.length > 0 && lit.every(correct);
    const ref = litOk ? lit : del;
    const so = median(ref.map((r) => r.outageMs));
    const mo = median(m.map((r) => r.outageMs));
    const ratio = mo / so;
    const t1 = ratio <= 0.1;
    const t2 = size !== '1G' || mo < 5000;
    const runs = m.length;
    const litText = !lit.length ? '–' : litOk ? agg(lit.map((r) => r.outageMs))
      : `**unsafe in ${lit.filter((r) => !correct(r)).length}/${lit.length} runs**: ` + lit.map((r) => !r.served ? `h002 did not serve (${/database disk image is malformed/.test(r.startFailure + r.integrity) ? 'database disk image is malformed' : `exit ${r.exit}`})` : r.ackedMissing ? `${r.ackedMissing} of ${r.acked} acknowledged writes lost` : r.integrity !== 'ok' ? `integrity: ${r.integrity.slice(0, 60)}` : `ok, outage ${sec(r.outageMs)}`).join('; ')
        + `; outage ${agg(lit.map((r) => r.outageMs))}`;
    out.push(`| ${SIZES[size]!.label} | ${runs}${runs === 1 ? ' (single run)' : ''} | ${litText} | ${del.length ? agg(del.map((r) => r.outageMs)) : '–'} | ${del.length ? agg(del.map((r) => r.writerGapMs)) : '–'} | ${agg(m.map((r) => r.outageMs))} | ${agg(m.map((r) => r.writerGapMs))} | ${ratio.toFixed(2)} (vs ${litOk ? 'as written' : '--delete'}) | ${agg(m.map((r) => r.windowMs ?? NaN))} | ${agg(ref.map((r) => r.windowMs ?? NaN))} | ${t1 ? 'ratio met' : '**ratio missed**'}${size === '1G' ? (t2 ? ', < 5 s met' : ', **5 s missed**') : ''} |`);
  }
  out.push('', '## Integrity (every run)', '');
  out.push('| size | procedure | run | exit | h002 served | state bytes | wall | acked writes | acked missing on h002 | integrity_check on h002 | o001 files differing on h002 (db excepted) | o001 left -wal at stop | load before / after | fresh ssh before, ms | runbook/engine sha256 |');
  out.push('|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|');
  for (const r of results) {
    out.push(`| ${SIZES[r.size]!.label} | ${r.procedure} | ${r.run} | ${r.exit} | ${r.served ? 'yes' : '**no**'} | ${r.stateBytes} | ${sec(r.wallMs)} | ${r.acked} | ${r.ackedMissing} | ${r.integrity.replace(/\n/g, '; ').replace(/\|/g, '\\|').slice(0, 200)} | ${r.filesDiffer} | ${r.oldWal ? 'yes' : 'no'} | ${r.loadBefore} / ${r.loadAfter} | ${r.sshMs} | ${r.code} |`);
  }
  const fails = results.filter((r) => r.startFailure);
  if (fails.length) {
    out.push('', '## Start failures on h002', '');
    for (const r of fails) out.push(`${SIZES[r.size]!.label} ${r.procedure} run ${r.run}:`, '', '```', r.startFailure, '```', '');
  }
  out.push('', '## Step timings (medians, ms)', '');
  for (const size of [...new Set(results.map((r) => r.size))]) {
    for (const proc of ['seed', 'seed-delete', 'migen'] as const) {
      const rs = results.filter((r) => r.size === size && r.procedure === proc);
      if (!rs.length) continue;
      const keys = [...new Set(rs.flatMap((r) => Object.keys(r.steps)))];
      out.push(`${SIZES[size]!.label}, ${proc}: ${keys.map((k) => `${k} ${Math.round(median(rs.map((r) => r.steps[k] ?? 0)))}`).join(' · ')}`, '');
    }
  }
  out.push('The seed\'s proxy step stands in for `nixos-rebuild switch` on o001 by activating the already built configuration (switch-to-configuration); a real rebuild\'s evaluation, build and copy time is not included, which favours the seed.', '');
  return out.join('\n');
}

/**
 * The configuration the seed's step 5 (`nixos-rebuild switch` of the proxy after editing its
 * vhost) activates on o001: its configuration before migen's module with vault. proxied to h002,
 * and nothing else changed: the seed leaves vaultwarden enabled on o001, so that activation starts
 * the stopped vaultwarden again (switch-to-configuration starts every wanted unit), as it would on
 * NixOS. Installed as the profile `seed-cutover` (its switch-to-configuration is the one step 5 runs).
 */
async function seedProfile(lab: Lab): Promise<void> {
  const { proxy, profiles } = await proxyProfiles('vaultwarden', ['nginx', 'vaultwarden']);
  const prev = profiles.previous!;
  const vhosts = prev.nginx!.vhosts.map((v) => (v.serverName === VW_DOMAIN ? { ...v, locations: Object.fromEntries(Object.entries(v.locations).map(([l, x]) => [l, { ...x, proxyPass: 'http://100.64.0.20:8222' }])) } : v));
  await lab.system(proxy, { profiles: { ...profiles, 'seed-cutover': { ...prev, nginx: { ...prev.nginx!, vhosts } } }, active: 'previous' });
}
