/**
 * e2e: the generated warm runbook generated/runbooks/migrate-vaultwarden.mjs moves Vaultwarden
 * from o001 to h002 in a lab, with a writer and a prober going through o001's nginx the whole time.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { checks, createLab, findLeftovers, startProber, startWriter, type Lab } from '../lab/index.js';
import { makeRoot, migenRun, proxyRoutes, readReport, sleep, whenJournal } from './helpers.js';
import { VW_DB, VW_DOMAIN, VW_STATE, activeOn, servedBy, setupVaultwarden, vaultwardenLabOptions } from './fleet.js';

/**
 * The report's window runs from the start of the stop command to the first successful
 * verification; the clients' outage from the first refused request to the first one h002 served.
 * So the window covers the outage (less one probe interval, 50 ms, plus slack: 100 ms) and
 * exceeds it by the stop command's own latency (ssh, SIGTERM, the app's 0.2 s shutdown poll)
 * and the verification's (switch-to-configuration's wait, curl over TLS): at most this margin.
 */
const WINDOW_MARGIN_MS = 1500;

let lab: Lab;
let root: string;

beforeAll(async () => {
  lab = await createLab(vaultwardenLabOptions());
  root = makeRoot(lab);
  await setupVaultwarden(lab);
}, 60_000);
afterAll(async () => { await lab?.teardown(); });

async function viaProxy(domain: string): Promise<string> {
  const r = await lab.operator(['curl', '-sS', '--max-time', '3', '--resolve', `${domain}:443:100.64.0.1`, `https://${domain}/healthz`]);
  return r.code === 0 ? r.stdout.trim() : `curl exit ${r.code}: ${r.stderr.trim()}`;
}

describe('warm migration (vaultwarden o001 -> h002) with the generated runbook', () => {
  test('moves the state with nothing lost, routes only its domain, reports the downtime the clients saw', async () => {
    const routesBefore = await proxyRoutes(lab, 'o001');
    const others = Object.keys(routesBefore).filter((d) => d !== VW_DOMAIN && d !== '_');
    expect(others.length).toBeGreaterThanOrEqual(6);
    for (const d of others) expect(await viaProxy(d)).toBe('h001');
    expect(await servedBy(lab)).toBe('o001');

    const writer = startWriter(lab, { address: '100.64.0.1', host: VW_DOMAIN, attachEvery: 5, maxMs: 180_000 });
    const prober = startProber(lab, { address: '100.64.0.1', host: VW_DOMAIN, intervalMs: 50, maxMs: 180_000 });
    await sleep(700);
    const run = migenRun(lab, 'vaultwarden', root);
    await whenJournal(root, 'vaultwarden', run, (j) => j.steps['stop-old']?.status === 'done');
    const oldAtStop = await checks.treeDigest(lab, 'o001', VW_STATE);
    const r = await run.done;
    expect(r.code, r.stdout + r.stderr).toBe(0);
    await sleep(700); // writes now land on h002
    const acked = await writer.stop();
    const probe = await prober.stop();

    // the old host's state is exactly what it was when the service stopped
    expect(await checks.treeDigest(lab, 'o001', VW_STATE)).toEqual(oldAtStop);

    // every acknowledged write is on h002, attachments byte for byte, the database sound
    const ids = new Set(await checks.rowIds(lab, 'h002', VW_DB));
    expect(acked.length).toBeGreaterThan(50);
    expect(acked.filter((a) => !ids.has(a.id))).toEqual([]);
    const newState = await checks.treeDigest(lab, 'h002', VW_STATE);
    const attachOld = Object.entries(oldAtStop).filter(([k]) => k.startsWith('attachments/'));
    expect(attachOld.length).toBeGreaterThan(10);
    for (const [k, v] of attachOld) expect([k, newState[k]]).toEqual([k, v]);
    for (const a of acked.filter((x) => x.attach)) expect(newState[`attachments/${a.id}.bin`], `attachment of ${a.id}`).toBeDefined();
    expect(newState['rsa_key.pem']).toBe(oldAtStop['rsa_key.pem']);
    expect(newState['icon_cache/blob.bin']).toBe(oldAtStop['icon_cache/blob.bin']);
    expect(await checks.sqliteIntegrity(lab, 'h002', VW_DB)).toBe('ok');
    // the writes made after the cutover are on h002 only: more rows there than o001 had
    expect(ids.size).toBeGreaterThan((await checks.rowIds(lab, 'o001', VW_DB)).length);

    // one copy serving, and the proxy changed only vault.joshuabell.xyz
    expect(await activeOn(lab, 'vaultwarden', ['o001', 'h002'])).toEqual(['h002']);
    expect(await servedBy(lab)).toBe('h002');
    const routesAfter = await proxyRoutes(lab, 'o001');
    expect(routesAfter).toEqual({ ...routesBefore, [VW_DOMAIN]: ['/', 'http://100.64.0.20:8222'] });
    expect(routesBefore[VW_DOMAIN]).toEqual(['/', 'http://127.0.0.1:8222']);
    for (const d of others) expect(await viaProxy(d)).toBe('h001');

    // the backup ran before the stop, to the manifest's repository, with the host's password
    const snaps = await lab.exec('o001', 'restic -r /backup/o001 snapshots --json --tag pre-migration');
    expect(snaps.code, snaps.stderr).toBe(0);
    // the state, and the consistent copy of its database (VACUUM INTO) instead of the live file and its -wal
    expect((JSON.parse(snaps.stdout) as { paths: string[] }[]).map((s) => [...s.paths].sort())).toEqual([['/var/lib/migen/backup/vaultwarden', VW_STATE]]);
    expect(fs.readFileSync(path.join(lab.dir, 'operator', 'nixos-rebuild.log'), 'utf8')).toBe(
      "switch --flake examples/homelab#h002 --target-host root@100.64.0.20\nswitch --flake examples/homelab#o001 --target-host root@o001\n",
    );

    // the report's window agrees with what the clients saw
    const report = readReport(root, 'vaultwarden');
    expect(report.result).toBe('done');
    expect(report.window.ms).not.toBeNull();
    const hosts = probe.samples.filter((s) => s.ok).map((s) => s.host);
    expect(hosts[0]).toBe('o001');
    expect(hosts[hosts.length - 1]).toBe('h002');
    expect(hosts.lastIndexOf('o001')).toBeLessThan(hosts.indexOf('h002')); // never both at once
    expect(probe.longestOutageMs).toBeGreaterThan(0);
    if (process.env.E2E_DEBUG) {
      const fails = probe.samples.filter((s) => !s.ok);
      console.log(JSON.stringify({ window: report.window, outage: probe.longestOutageMs, firstFailSent: fails[0] && new Date(fails[0].t - fails[0].ms).toISOString(), lastFail: fails.at(-1) && new Date(fails.at(-1)!.t).toISOString(), firstNew: new Date(probe.samples.find((s) => s.host === 'h002')!.t).toISOString(), steps: report.steps.map((s) => `${s.id}:${s.ms}`).join(' ') }, null, 1));
      // the coordinator's own journal on h002 (MS EVENT IDX ID ...): per-step times as the fleet saw them
      const j = await lab.exec('h002', 'cat /var/lib/migen/vaultwarden/cutover/*/journal');
      const t0 = Number(j.stdout.split('\n')[0].split('\t')[0]);
      console.log(j.stdout.trim().split('\n').map((l) => { const f = l.split('\t'); return `${Number(f[0]) - t0} ${f[1]} ${f[3]}`; }).join('\n'));
    }
    expect(report.window.ms!).toBeGreaterThanOrEqual(probe.longestOutageMs - 100);
    expect(report.window.ms! - probe.longestOutageMs).toBeLessThanOrEqual(WINDOW_MARGIN_MS);
    console.log(
      `e2e warm vaultwarden o001 -> h002: runbook ${(r.ms / 1000).toFixed(1)} s; downtime window (report) ${report.window.ms} ms; ` +
        `prober's longest outage ${probe.longestOutageMs} ms (${probe.failures} failed probes of ${probe.samples.length}); ` +
        `${acked.length} acknowledged writes checked on h002 (${acked.filter((a) => a.attach).length} with attachments), ` +
        `${writer_failed(acked)}; live passes: ${report.passes.map((p) => `${p.movedBytes} B`).join(', ')}`,
    );
  }, 120_000);

  test('teardown leaves nothing behind', async () => {
    await lab.teardown();
    expect(await findLeftovers(lab.id)).toEqual([]);
  });
});

function writer_failed(acked: { seq: number }[]): string {
  const last = acked[acked.length - 1]?.seq ?? 0;
  return `${last - acked.length} writes refused or timed out during the window`;
}
