/**
 * e2e: the generated cold runbook generated/runbooks/migrate-adguardhome.mjs moves AdGuard Home
 * (the lab's app with its DNS responder; state in /var/lib/private/AdGuardHome) from h003 to
 * h002. A resolver-like client asks h003, then h002, the whole time; the runbook's own
 * verification asks h002's 127.0.0.1 with dig and needs an answer, which only the moved state has.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { checks, createLab, findLeftovers, startDnsProber, startWriter, type Lab } from '../lab/index.js';
import { fleet, makeRoot, migenRun, readReport, sleep, whenJournal } from './helpers.js';
import { AGH_DB, AGH_STATE, activeOn, setupAdguard } from './fleet.js';

let lab: Lab;
let root: string;

beforeAll(async () => {
  lab = await createLab({ hosts: fleet(['h003', 'h002']) });
  root = makeRoot(lab);
  await setupAdguard(lab, { 'nixos.org': '203.0.113.7', 'git.joshuabell.xyz': '100.64.0.1' });
}, 60_000);
afterAll(async () => { await lab?.teardown(); });

const dig = async (host: string, server: string, name: string) => (await lab.exec(host, `dig +short +time=1 +tries=1 @${server} ${name}`)).stdout.trim();

describe('cold migration (adguardhome h003 -> h002) with the generated runbook', () => {
  test('moves the DNS service with its records; the verification needs the moved state', async () => {
    expect(await dig('h003', '127.0.0.1', 'nixos.org')).toBe('203.0.113.7');
    // h002's service has no records of its own: started empty it would fail the verification
    expect((await lab.exec('h002', `ls -A ${AGH_STATE} 2>/dev/null | wc -l`)).stdout.trim()).toBe('0');

    const writer = startWriter(lab, { address: '100.64.0.3', port: 3000, host: 'h003', attachEvery: 4, maxMs: 120_000 });
    const dns = startDnsProber(lab, { servers: ['100.64.0.3', '100.64.0.20'], name: 'nixos.org', intervalMs: 50, maxMs: 120_000 });
    await sleep(500);
    const run = migenRun(lab, 'adguardhome', root);
    await whenJournal(root, 'adguardhome', run, (j) => j.steps['stop-old']?.status === 'done');
    const oldAtStop = await checks.treeDigest(lab, 'h003', AGH_STATE);
    const r = await run.done;
    expect(r.code, r.stdout + r.stderr).toBe(0);
    await sleep(300);
    const acked = await writer.stop(); // h003 refuses writes after the stop; the acked ones must be on h002
    const probe = await dns.stop();

    expect(await checks.treeDigest(lab, 'h003', AGH_STATE)).toEqual(oldAtStop);
    // The copy is the old state: every file byte for byte, the database row for row. The database
    // is compared by content: h003's service may stop with committed pages still in its -wal (a
    // request in flight at the stop keeps a connection open, so the last close never checkpoints),
    // and the copy carries that -wal; the service's start on h002 then checkpoints it into
    // db.sqlite3. Same rows, other bytes in db.sqlite3 and db.sqlite3-wal.
    const notDb = { exclude: /^db\.sqlite3(-wal|-shm)?$/ };
    expect(await checks.treeDigest(lab, 'h002', AGH_STATE, notDb)).toEqual(await checks.treeDigest(lab, 'h003', AGH_STATE, notDb));
    expect(await checks.sqliteDump(lab, 'h002', AGH_DB)).toBe(await checks.sqliteDump(lab, 'h003', AGH_DB));
    const ids = new Set(await checks.rowIds(lab, 'h002', AGH_DB));
    expect(acked.length).toBeGreaterThan(10);
    expect(acked.filter((a) => !ids.has(a.id))).toEqual([]);
    expect(await checks.sqliteIntegrity(lab, 'h002', AGH_DB)).toBe('ok');
    // DynamicUser state: /var/lib/private stays 0700 on the new host
    expect((await lab.exec('h002', 'stat -c %a /var/lib/private')).stdout.trim()).toBe('700');

    expect(await activeOn(lab, 'adguardhome', ['h003', 'h002'])).toEqual(['h002']);
    expect(await dig('h002', '127.0.0.1', 'nixos.org')).toBe('203.0.113.7');
    expect(await dig('h002', '100.64.0.20', 'git.joshuabell.xyz')).toBe('100.64.0.1');

    const report = readReport(root, 'adguardhome');
    expect(report.result).toBe('done');
    const hosts = probe.samples.filter((s) => s.ok).map((s) => s.host);
    expect(hosts[0]).toBe('100.64.0.3');
    expect(hosts[hosts.length - 1]).toBe('100.64.0.20');
    expect(hosts.lastIndexOf('100.64.0.3')).toBeLessThan(hosts.indexOf('100.64.0.20'));
    // As for the warm run, the window covers the clients' outage, up to the client's own delay. The
    // client is a resolver with two servers, h003 first, 300 ms each: a query that failed on both
    // takes 600 ms, and the next one starts right after it. A query that asked h002 just before it
    // answered fails 300 ms later; the next one waits out h003 again and gets h002's answer 600 ms
    // after h002 answered. The runbook's verification asks h002 directly, so the client's outage
    // ends up to 2 x 300 ms + its 50 ms interval after the window (any real resolver with a dead
    // first server behaves the same way).
    expect(report.window.ms!).toBeGreaterThanOrEqual(probe.longestOutageMs - 650);
    expect(report.window.ms! - probe.longestOutageMs).toBeLessThanOrEqual(1500);
    console.log(
      `e2e cold adguardhome h003 -> h002: runbook ${(r.ms / 1000).toFixed(1)} s; downtime window (report) ${report.window.ms} ms; ` +
        `resolver's longest outage ${probe.longestOutageMs} ms (${probe.failures} failed queries of ${probe.samples.length}); ` +
        `${acked.length} acknowledged writes checked on h002`,
    );
  }, 90_000);

  test('teardown leaves nothing behind', async () => {
    await lab.teardown();
    expect(await findLeftovers(lab.id)).toEqual([]);
  });
});
