/**
 * e2e: interruptions and faults during a run of the generated warm runbook
 * (generated/runbooks/migrate-vaultwarden.mjs, o001 -> h002, `migen run vaultwarden --yes` as the
 * operator), with a writer and a prober going through o001's nginx (issue [7]):
 * 1. Ctrl-C (SIGINT to the operator's migen process) during the live rsync pass: exit 130,
 *    nothing changed on the service, lock released; `--resume` then completes the migration.
 * 2. SIGINT during the cutover (the final pass, run by the coordinator on h002): the operator asks
 *    the coordinator to roll back; exit 3, o001 serves every acknowledged write.
 * 3. The ssh connection h002 -> o001 serving the final pass killed on o001: the coordinator rolls back, exit 3.
 * 4. The proxy's switch fails (its route files cannot be written): rollback, exit 3.
 * 5. o001's deploy did not carry the generated module: refused in prepare, before anything stops.
 * 6. A marker secret in h002's /run/agenix/vaultwarden-env (the one secret the runbook checks,
 *    with `test -s`) appears in no file under --root, in no output of the run, not in generated/
 *    and in no process command line sampled during the run (the machine's /proc, which holds the
 *    operator's processes and every lab host's, and each host's own /proc through lab.exec).
 * The state carries a 64 MiB file so that the first live rsync pass lasts long enough to be
 * interrupted while it runs.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { checks, createLab, findLeftovers, startProber, startWriter, type Lab } from '../lab/index.js';
import { REPO, makeRoot, migenRun, proxyProfiles, proxyRoutes, readJournal, readReport, runbookSteps, sleep, whenJournal, type MigenRun } from './helpers.js';
import { VW_DB, VW_DOMAIN, VW_STATE, activeOn, locked, resetVaultwarden, servedBy, setupVaultwarden, vaultwardenLabOptions } from './fleet.js';

const BLOB_MIB = 64;

let lab: Lab;
let root: string;
let baseRoutes: Record<string, string[]>;
const summary: string[] = [];

beforeAll(async () => {
  lab = await createLab(vaultwardenLabOptions({}, false));
  root = makeRoot(lab);
  await setupVaultwarden(lab, { blobMiB: BLOB_MIB });
  baseRoutes = await proxyRoutes(lab, 'o001');
}, 90_000);
afterAll(async () => {
  if (summary.length) console.log(`e2e interrupts (vaultwarden o001 -> h002):\n  ${summary.join('\n  ')}`);
  await lab?.teardown();
});

const unitPid = async (host: string): Promise<string> => (await lab.exec(host, 'cat /run/lab-units/vaultwarden/pid 2>/dev/null')).stdout.trim();

const clients = () => ({
  writer: startWriter(lab, { address: '100.64.0.1', host: VW_DOMAIN, attachEvery: 5, maxMs: 150_000 }),
  prober: startProber(lab, { address: '100.64.0.1', host: VW_DOMAIN, intervalMs: 50, maxMs: 150_000 }),
});

/** rsync processes still running on a host (a stray pass after the run ended) */
async function rsyncOn(host: string): Promise<string> {
  return (await lab.exec(host, "ps -eo pid=,args= | grep '[r]sync' || true")).stdout.trim();
}
/** waits (up to 5 s) for the hosts to have no rsync left; returns what is left */
async function noStrayRsync(): Promise<string> {
  let left = '';
  for (let i = 0; i < 50; i++) {
    left = `${await rsyncOn('o001')}${await rsyncOn('h002')}`;
    if (!left) return '';
    await sleep(100);
  }
  return left;
}

/** o001 serves (still or again): the only active copy, behind the proxy (base routes), every acknowledged write there, lock released */
async function servedByOld(acked: { id: number }[]): Promise<void> {
  expect(await activeOn(lab, 'vaultwarden', ['o001', 'h002'])).toEqual(['o001']);
  expect(await servedBy(lab)).toBe('o001');
  expect(await proxyRoutes(lab, 'o001')).toEqual(baseRoutes);
  expect(baseRoutes[VW_DOMAIN]).toEqual(['/', 'http://127.0.0.1:8222']);
  const ids = new Set(await checks.rowIds(lab, 'o001', VW_DB));
  expect(acked.length).toBeGreaterThan(10);
  expect(acked.filter((a) => !ids.has(a.id))).toEqual([]);
  expect(await checks.sqliteIntegrity(lab, 'o001', VW_DB)).toBe('ok');
  expect(await locked(lab)).toEqual([]);
}

/** Ctrl-C: SIGINT to the operator's migen process (nsenter execs node: the child is node itself) */
function interrupt(run: MigenRun): void {
  expect(fs.readFileSync(`/proc/${run.child.pid}/cmdline`, 'utf8')).toContain('migen.js');
  run.child.kill('SIGINT');
}

const failedStep = (root_: string): string | undefined => readReport(root_, 'vaultwarden').steps.find((s) => s.status === 'failed')?.id;
/** the guards armed before the window, disarmed at the end of a rollback (newest first) */
const GUARDS = ['guard-routes', 'guard-new', 'guard-old'];
/** a rollback also takes back the copy keys' access prepare gave (o001's authorized key, then h002's keys) */
const COPY = ['copy-access', 'copy-keys'];
const undone = (): string[] => readReport(root, 'vaultwarden').steps.filter((s) => s.status === 'undone').map((s) => s.id);

describe('interrupts and faults during the vaultwarden migration (generated warm runbook)', () => {
  test('Ctrl-C during the live sync: exit 130, nothing changed, lock released; --resume completes the migration', async () => {
    const { writer, prober } = clients();
    await sleep(300);
    const pid0 = await unitPid('o001');
    const run = migenRun(lab, 'vaultwarden', root);
    await whenJournal(root, 'vaultwarden', run, (j) => j.steps['sync-live']?.status === 'running');
    // the pass is live: h002's rsync has copied some MiB of the state
    const copied = async () => Number((await lab.exec('h002', `du -sb ${VW_STATE} 2>/dev/null | cut -f1`)).stdout.trim() || 0);
    let copiedBefore = 0;
    for (let i = 0; i < 500 && (copiedBefore = await copied()) < 8 * 1048576; i++) await sleep(10);
    expect(copiedBefore).toBeGreaterThanOrEqual(8 * 1048576);
    expect(await rsyncOn('h002')).toContain('--info=progress2');
    const tInt = Date.now();
    interrupt(run);
    const r = await run.done;
    const stopMs = Date.now() - tInt;
    expect(r.code, r.stdout + r.stderr).toBe(130);
    expect(r.stderr).toMatch(/interrupted during sync-live; no service was stopped/);
    const report = readReport(root, 'vaultwarden');
    expect(report.result).toBe('interrupted');
    expect(report.window.startedAt).toBeNull();
    expect(report.steps.map((s) => s.id)).not.toContain('stop-old');
    expect(failedStep(root)).toBe('sync-live');
    expect(readJournal(root, 'vaultwarden')!.status).toBe('failed');
    const stray = await noStrayRsync();
    // nothing changed on the service: the same process serves, behind the same routes, never refused
    expect(await unitPid('o001')).toBe(pid0);
    expect(await activeOn(lab, 'vaultwarden', ['o001', 'h002'])).toEqual(['o001']);
    expect(await servedBy(lab)).toBe('o001');
    expect(await proxyRoutes(lab, 'o001')).toEqual(baseRoutes);
    expect(await locked(lab)).toEqual([]);
    expect(prober.samples.filter((s) => !s.ok)).toEqual([]);
    expect(stray).toBe('');

    // --resume picks the run up at sync-live and completes the migration
    const t1 = Date.now();
    const resumed = await migenRun(lab, 'vaultwarden', root, ['--resume']).done;
    expect(resumed.code, resumed.stdout + resumed.stderr).toBe(0);
    expect(resumed.stdout).toMatch(/resuming run/);
    await sleep(500);
    const acked = await writer.stop();
    const probe = await prober.stop();
    const rep2 = readReport(root, 'vaultwarden');
    expect(rep2.result).toBe('done');
    expect(rep2.runId).toBe(report.runId);
    expect(rep2.steps.find((s) => s.id === 'backup')!.status).toBe('skipped');
    expect(rep2.steps.find((s) => s.id === 'sync-live')!.status).toBe('done');
    expect(await activeOn(lab, 'vaultwarden', ['o001', 'h002'])).toEqual(['h002']);
    expect(await servedBy(lab)).toBe('h002');
    const ids = new Set(await checks.rowIds(lab, 'h002', VW_DB));
    expect(acked.filter((a) => !ids.has(a.id))).toEqual([]);
    expect(await checks.sqliteIntegrity(lab, 'h002', VW_DB)).toBe('ok');
    expect(await locked(lab)).toEqual([]);
    const hosts = probe.samples.filter((s) => s.ok).map((s) => s.host);
    expect(hosts.lastIndexOf('o001')).toBeLessThan(hosts.indexOf('h002'));
    summary.push(
      `1 SIGINT during sync-live (${(copiedBefore / 1048576).toFixed(1)} MiB on h002 when sent): exit ${r.code} ${stopMs} ms after the signal, ` +
        `o001 kept serving (same pid, 0 failed probes of ${probe.samples.length}), lock released, no rsync left; ` +
        `--resume exit ${resumed.code} in ${((Date.now() - t1) / 1000).toFixed(1)} s, h002 serves, ${acked.length} acknowledged writes on h002, outage ${probe.longestOutageMs} ms`,
    );
  }, 120_000);

  test('SIGINT during the final pass: rollback, exit 3, o001 serves with every acknowledged write', async () => {
    await resetVaultwarden(lab, root);
    const { writer, prober } = clients();
    await sleep(300);
    const run = migenRun(lab, 'vaultwarden', root);
    await whenJournal(root, 'vaultwarden', run, (j) => j.steps['sync-live']?.status === 'done');
    // a large upload lands after the last live pass, so the final pass has 128 MiB to move: long
    // enough for the operator (reading the coordinator's journal every 150 ms) to see it running
    await lab.exec('o001', `head -c ${128 * 1048576} /dev/urandom > ${VW_STATE}/icon_cache/late.bin`);
    await whenJournal(root, 'vaultwarden', run, (j) => j.steps['final-pass']?.status === 'running');
    interrupt(run);
    const r = await run.done;
    if (process.env.E2E_DEBUG) console.log(r.stdout, r.stderr);
    await sleep(500);
    const acked = await writer.stop();
    const probe = await prober.stop();
    expect(r.code, r.stdout + r.stderr).toBe(3);
    expect(r.stderr).toMatch(/migen: interrupted; finishing safely[\s\S]*asked the coordinator on h002 to roll back[\s\S]*failed \(\S+\): interrupted by the operator/);
    const report = readReport(root, 'vaultwarden');
    expect(report.result).toBe('rolled-back');
    // the abort reaches the coordinator a moment after the operator saw final-pass running: the
    // step it stops is that one or a later one of the window; whatever ran is undone, newest first
    const failed = failedStep(root)!;
    const ids = (await runbookSteps('vaultwarden')).map((x) => x.id);
    expect(ids.indexOf(failed)).toBeGreaterThanOrEqual(ids.indexOf('final-pass'));
    expect(ids.indexOf(failed)).toBeLessThanOrEqual(ids.indexOf('verify-1'));
    expect(undone().slice(-6)).toEqual(['stop-old', ...GUARDS, ...COPY]);
    expect(readJournal(root, 'vaultwarden')!.status).toBe('rolled-back');
    await servedByOld(acked);
    expect(await noStrayRsync()).toBe('');
    const ok = probe.samples.filter((s) => s.ok);
    expect(ok.at(-1)!.host).toBe('o001');
    expect(ok.at(-1)!.t).toBeGreaterThan(probe.samples.find((s) => !s.ok)!.t); // served again after the outage
    summary.push(`2 SIGINT during final-pass (stopped at ${failed}): exit ${r.code} after ${(r.ms / 1000).toFixed(1)} s, undone: ${undone().join(', ')}, o001 serves alone, ${acked.length} acknowledged writes on o001, clients' outage ${probe.longestOutageMs} ms`);
  }, 90_000);

  test('the ssh connection h002 -> o001 drops during the final pass: rollback, exit 3, o001 serves with every acknowledged write', async () => {
    await resetVaultwarden(lab, root);
    const { writer, prober } = clients();
    await sleep(300);
    const run = migenRun(lab, 'vaultwarden', root);
    await whenJournal(root, 'vaultwarden', run, (j) => j.steps['sync-live']?.status === 'done');
    // a large upload lands after the last live pass, so the final pass has 128 MiB to move (it
    // reuses the live passes' ssh connection, so it starts at once: the killer needs that time)
    const late = lab.exec('o001', `head -c ${128 * 1048576} /dev/urandom > ${VW_STATE}/icon_cache/late.bin`);
    // on o001: the first rsync daemon (the copy key's forced command, `rsync --server --daemon`,
    // which sends the files itself) started after the live sync is the final pass's (nothing
    // copies between them); kill the sshd session processes above it and itself (the TCP
    // connection drops). One still ending from the live sync's last dry run is not it.
    const killer = await lab.exec('o001', [
      "old=\" $(pgrep -d ' ' -f '^(/[^ ]*/)?rsync --server --daemon' || true) \"",
      'for i in $(seq 1 3000); do',
      "  for p in $(pgrep -f '^(/[^ ]*/)?rsync --server --daemon'); do",
      '    case $old in *" $p "*) continue ;; esac',
      '    a=$(tr "\\0" " " </proc/$p/cmdline 2>/dev/null) || continue',
      '    up=""; q=$p; for _ in 1 2 3 4; do q=$(ps -o ppid= -p $q | tr -d " "); [ -n "$q" ] && [ "$q" != 1 ] || break; up="$up,$q"; done',
      '    sess=$(ps -o pid=,args= -p ${up#,} | grep sshd | grep -v "^ *1 " | grep -v -e listener -e " -D " | awk \'{print $1}\' | tr "\\n" " ")',
      '    kill -KILL $sess $p',
      '    echo "killed rsync $p ($a) and sshd session $sess"; exit 0',
      '  done',
      '  sleep 0.005',
      'done',
      'echo "no final pass seen" >&2; exit 1',
    ].join('\n'));
    await late;
    const r = await run.done;
    await sleep(500);
    const acked = await writer.stop();
    const probe = await prober.stop();
    expect(killer.code, killer.stderr + killer.stdout).toBe(0);
    expect(r.code, r.stdout + r.stderr).toBe(3);
    expect(r.stderr).toMatch(/failed \(final-pass\): exit (12|255) on h002/);
    expect(r.stdout + r.stderr).toMatch(/rolled back on h002/);
    expect(readReport(root, 'vaultwarden').result).toBe('rolled-back');
    expect(failedStep(root)).toBe('final-pass');
    expect(undone()).toEqual(['stop-old', ...GUARDS, ...COPY]);
    await servedByOld(acked);
    expect(await noStrayRsync()).toBe('');
    expect(probe.samples.filter((s) => s.ok).every((s) => s.host === 'o001')).toBe(true);
    const exitLine = /failed \(final-pass\): (exit \d+ on h002)/.exec(r.stderr)?.[1];
    summary.push(`3 final pass's ssh connection killed on o001 (${killer.stdout.trim().replace(/\(.*\)/, '').trim()}): final-pass ${exitLine}, exit ${r.code} after ${(r.ms / 1000).toFixed(1)} s, undone: ${undone().join(', ')}, o001 serves alone, ${acked.length} acknowledged writes on o001, clients' outage ${probe.longestOutageMs} ms`);
  }, 90_000);

  test("the proxy's switch fails (its route files cannot be written): rollback, exit 3, o001 serves with every acknowledged write", async () => {
    await resetVaultwarden(lab, root);
    const { writer, prober } = clients();
    await sleep(300);
    const run = migenRun(lab, 'vaultwarden', root);
    // after the deploy made the route file, its directory becomes read-only on o001
    await whenJournal(root, 'vaultwarden', run, (j) => j.steps['routes-o001']?.status === 'done');
    const ro = await lab.exec('o001', 'd=/var/lib/migen/nginx/vaultwarden; mount --bind "$d" "$d" && mount -o remount,ro,bind "$d"');
    expect(ro.code, ro.stderr).toBe(0);
    try {
      const r = await run.done;
      if (process.env.E2E_DEBUG) console.log(r.stdout, r.stderr);
      await sleep(500);
      const acked = await writer.stop();
      const probe = await prober.stop();
      expect(r.code, r.stdout + r.stderr).toBe(3);
      expect(r.stderr).toMatch(/failed \(route-new\): exit 1 on o001:[\s\S]*Read-only file system/);
      expect(readReport(root, 'vaultwarden').result).toBe('rolled-back');
      expect(failedStep(root)).toBe('route-new');
      expect(undone()).toEqual(['route-new', 'start-new', 'stop-old', ...GUARDS, ...COPY]);
      await servedByOld(acked);
      expect(probe.samples.filter((s) => s.ok).every((s) => s.host === 'o001')).toBe(true);
      summary.push(`4 the proxy's route files read-only: exit ${r.code} after ${(r.ms / 1000).toFixed(1)} s, undone: ${undone().join(', ')}, o001 serves alone on the old routes, ${acked.length} acknowledged writes on o001, clients' outage ${probe.longestOutageMs} ms`);
    } finally {
      await lab.exec('o001', 'umount /var/lib/migen/nginx/vaultwarden');
    }
  }, 90_000);

  test("o001's deploy did not carry the generated module: refused in prepare, before anything stops", async () => {
    await resetVaultwarden(lab, root);
    // o001's "deploy" activates its configuration without migen's module: no fence on its unit, no route files
    const { proxy, profiles } = await proxyProfiles('vaultwarden', ['nginx', 'vaultwarden']);
    await lab.system(proxy, { profiles: { base: profiles.previous!, previous: profiles.previous! }, active: 'previous' });
    try {
      const { writer, prober } = clients();
      await sleep(300);
      const pid0 = await unitPid('o001');
      const r = await migenRun(lab, 'vaultwarden', root).done;
      await sleep(300);
      const acked = await writer.stop();
      const probe = await prober.stop();
      expect(r.code, r.stdout + r.stderr).toBe(1);
      expect(failedStep(root)).toBe('fenced-o001');
      expect(r.stderr).toMatch(/fenced-o001[\s\S]*no service was stopped/);
      const report = readReport(root, 'vaultwarden');
      expect(report.steps.find((x) => x.id === 'stop-old')).toBeUndefined(); // never reached
      expect(report.steps.some((x) => x.id === 'sync-live')).toBe(false);
      expect(await unitPid('o001')).toBe(pid0);
      expect(await activeOn(lab, 'vaultwarden', ['o001', 'h002'])).toEqual(['o001']);
      expect(await servedBy(lab)).toBe('o001');
      expect(await locked(lab)).toEqual([]);
      const ids = new Set(await checks.rowIds(lab, 'o001', VW_DB));
      expect(acked.filter((a) => !ids.has(a.id))).toEqual([]);
      expect(probe.failures).toBe(0);
      summary.push(`5 o001 deployed without the generated module: exit ${r.code} after ${(r.ms / 1000).toFixed(1)} s in prepare (fenced-o001), nothing stopped, no probe failed`);
    } finally {
      await lab.system(proxy, { profiles, active: 'base' });
    }
  }, 90_000);

  test('a marker secret in h002\'s /run/agenix/vaultwarden-env appears in no file, output or command line of a full run', async () => {
    await resetVaultwarden(lab, root);
    const marker = `MIGENSECRETMARKER${randomBytes(12).toString('hex')}`;
    // written through stdin: the marker never is on a command line of the test itself
    const w = await lab.exec('h002', 'umask 077; cat > /run/agenix/vaultwarden-env', { input: `ADMIN_TOKEN=${marker}\n` });
    expect(w.code, w.stderr).toBe(0);
    expect((await lab.exec('h002', 'cat /run/agenix/vaultwarden-env')).stdout).toContain(marker);

    // samplers: the machine's /proc (operator processes and, through nested PID namespaces, every
    // host's) from this process, and each host's own /proc with a loop started through lab.exec;
    // the marker reaches the host loops in their environment, not on a command line
    const hits: string[] = [];
    let localScans = 0;
    let stop = false;
    const localLoop = (async () => {
      while (!stop) {
        for (const e of fs.readdirSync('/proc')) {
          if (!/^\d+$/.test(e)) continue;
          let c: string;
          try { c = fs.readFileSync(`/proc/${e}/cmdline`, 'latin1'); } catch { continue; }
          if (c.includes(marker)) hits.push(`machine pid ${e}: ${c.replace(/\0/g, ' ')}`);
        }
        localScans++;
        await sleep(50);
      }
    })();
    const hostLoop = (host: string) => lab.exec(host, [
      'n=0',
      'while [ ! -e /run/marker-scan.stop ]; do',
      '  for f in /proc/[0-9]*/cmdline; do',
      '    mapfile -d "" -t a < "$f" 2>/dev/null || continue',
      '    case "${a[*]}" in *"$M"*) echo "HIT $f: ${a[*]}" ;; esac',
      '  done',
      '  n=$((n + 1)); sleep 0.05',
      'done',
      'rm -f /run/marker-scan.stop',
      'echo "SCANS $n"',
    ].join('\n'), { env: { M: marker } });
    const hostScans = { o001: hostLoop('o001'), h002: hostLoop('h002') };
    await sleep(200);

    const { writer, prober } = clients();
    const r = await migenRun(lab, 'vaultwarden', root).done;
    stop = true;
    await localLoop;
    for (const h of ['o001', 'h002']) fs.writeFileSync(path.join(lab.hostDir(h), 'run', 'marker-scan.stop'), '');
    const scans: Record<string, number> = { machine: localScans };
    for (const [h, p] of Object.entries(hostScans)) {
      const s = await p;
      expect(s.code, s.stderr).toBe(0);
      hits.push(...s.stdout.split('\n').filter((l) => l.startsWith('HIT')).map((l) => `${h} ${l}`));
      scans[h] = Number(/SCANS (\d+)/.exec(s.stdout)?.[1] ?? 0);
    }
    await sleep(300);
    await writer.stop();
    await prober.stop();
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const report = readReport(root, 'vaultwarden');
    expect(report.result).toBe('done');
    expect(report.steps.find((s) => s.id === 'secret-vaultwarden-env')!.status).toBe('done'); // the secret was looked at

    expect(hits).toEqual([]);
    expect(r.stderr).not.toMatch(/Warning/); // e.g. no MaxListenersExceededWarning from the concurrent checks
    expect(r.stdout).not.toContain(marker);
    expect(r.stderr).not.toContain(marker);
    const files = (dir: string): string[] => fs.readdirSync(dir, { withFileTypes: true, recursive: true }).filter((d) => d.isFile()).map((d) => path.join(d.parentPath, d.name));
    const rootFiles = files(root);
    expect(rootFiles.some((f) => f.includes(`${path.sep}.migen${path.sep}`))).toBe(true);
    expect(rootFiles.filter((f) => fs.readFileSync(f, 'latin1').includes(marker))).toEqual([]);
    const genFiles = files(path.join(REPO, 'generated'));
    expect(genFiles.filter((f) => fs.readFileSync(f, 'latin1').includes(marker))).toEqual([]);
    // every sampler ran through the whole run, about every 50 ms
    for (const [k, n] of Object.entries(scans)) expect(n, k).toBeGreaterThan(r.ms / 50 / 4);
    summary.push(
      `5 marker secret: exit ${r.code} in ${(r.ms / 1000).toFixed(1)} s; absent from ${rootFiles.length} files under --root, ${genFiles.length} under generated/, the run's stdout/stderr, ` +
        `and from every command line in ${scans.machine} scans of the machine's /proc (${scans.o001} on o001, ${scans.h002} on h002)`,
    );
  }, 90_000);

  test('teardown leaves nothing behind', async () => {
    await lab.teardown();
    expect(await findLeftovers(lab.id)).toEqual([]);
  });
});
