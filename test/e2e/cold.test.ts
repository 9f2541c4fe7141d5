/**
 * e2e: the generated cold runbook generated/runbooks/migrate-adguardhome.mjs moves AdGuard Home
 * (the lab's app with its DNS responder; state in /var/lib/private/AdGuardHome) from h003 to
 * h002, in the network its clients have (test/e2e/fleet.ts setupClientsNetwork): the secondary
 * DNS 1.1.1.1 (unbound) and a DHCP server (dnsmasq) handing out "100.64.0.3 1.1.1.1".
 * - The runbook waits for 1.1.1.1 to answer nixos.org (the test adds the record only once the
 *   runbook has asked) before it stops h003; a client with the DHCP servers (h003, then 1.1.1.1)
 *   falls back to the secondary and is never without an answer for as long as the window.
 * - A resolver-like client asking h003, then h002, shows the outage the window measures; the
 *   verification asks h002 from h003 and needs an answer, which only the moved state has.
 * - The handoff: the runbook prints ACTION NEEDED; its check (dhcpcd -T on h003, real) fails
 *   while the router still hands out h003 first; the test, as the person, changes the router's
 *   option 6 to "100.64.0.20 1.1.1.1", and only then does the check pass.
 */
import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { checks, createLab, dhcpQuery, findLeftovers, macOf, resolve, startDnsProber, startWriter, type Lab } from '../lab/index.js';
import { fleet, makeRoot, migenRun, readJournal, readReport, sleep, whenJournal, type MigenRun } from './helpers.js';
import { AGH_DB, AGH_STATE, activeOn, CLIENTS_NETWORK_HOSTS, SECONDARY_DNS, setupAdguard, setupClientsNetwork } from './fleet.js';

let lab: Lab;
let root: string;
let net: Awaited<ReturnType<typeof setupClientsNetwork>>;

beforeAll(async () => {
  lab = await createLab({ hosts: [...fleet(['h003', 'h002']), ...CLIENTS_NETWORK_HOSTS] });
  root = makeRoot(lab);
  await setupAdguard(lab, { 'nixos.org': '203.0.113.7', 'git.joshuabell.xyz': '100.64.0.1' });
  net = await setupClientsNetwork(lab);
}, 120_000);
afterAll(async () => { await lab?.teardown(); });

const dig = async (host: string, server: string, name: string) => (await lab.exec(host, `dig +short +time=1 +tries=1 @${server} ${name}`)).stdout.trim();
const ACTION = 'ACTION NEEDED: On the router, make DHCP option 6 (DNS servers) hand out 100.64.0.20 first, then 1.1.1.1';
const H003_NET = 'ip -4 addr show dev eth0; ip -4 route; pgrep -a dhcpcd || true';

/** polls `pred` every 10 ms; rejects when the run ends first or after `timeoutMs` */
async function until(what: string, run: MigenRun, pred: () => boolean, timeoutMs = 120_000): Promise<void> {
  let ended = false;
  void run.done.then(() => (ended = true));
  for (const t = Date.now(); !pred(); await sleep(10)) {
    if (ended || Date.now() - t > timeoutMs) throw new Error(`${ended ? 'the run ended' : 'timeout'} before ${what}:\n${run.output()}`);
  }
}

describe('cold migration (adguardhome h003 -> h002) with the generated runbook', () => {
  test('moves the DNS service with its records; the verification needs the moved state', async () => {
    expect(await dig('h003', '127.0.0.1', 'nixos.org')).toBe('203.0.113.7');
    // h002's service has no records of its own: started empty it would fail the verification
    expect((await lab.exec('h002', `ls -A ${AGH_STATE} 2>/dev/null | wc -l`)).stdout.trim()).toBe('0');

    // the clients' DNS servers as DHCP hands them out before the move: h003 first, then 1.1.1.1
    const offered = await dhcpQuery(lab, 'h003');
    expect(offered.domain_name_servers).toBe(`100.64.0.3 ${SECONDARY_DNS}`);
    const h003Net = (await lab.exec('h003', H003_NET)).stdout;
    const mac = await macOf(lab, 'h003');
    const offersBefore = net.dhcp.offers().filter((o) => o.mac === mac).length;
    // 1.1.1.1 has no address for nixos.org yet: the runbook has to wait for it
    expect((await resolve(lab, 'h003', SECONDARY_DNS, 'nixos.org')).value).toBeUndefined();

    const writer = startWriter(lab, { address: '100.64.0.3', port: 3000, host: 'h003', attachEvery: 4, maxMs: 180_000 });
    const dns = startDnsProber(lab, { servers: ['100.64.0.3', '100.64.0.20'], name: 'nixos.org', intervalMs: 50, maxMs: 180_000 });
    const client = startDnsProber(lab, { servers: offered.domain_name_servers!.split(' '), name: 'nixos.org', intervalMs: 50, maxMs: 180_000 });
    await sleep(500);
    const asked = fs.readFileSync(net.queryLog, 'utf8').length;
    const run = migenRun(lab, 'adguardhome', root);
    await whenJournal(root, 'adguardhome', run, (j) => j.steps['secondary-dns']?.status === 'running');
    // the secondary's check asked 1.1.1.1 from h003 and got no address; nothing was stopped meanwhile
    await until('h003 asked 1.1.1.1', run, () => /info: 100\.64\.0\.3 nixos\.org\. A IN/.test(fs.readFileSync(net.queryLog, 'utf8').slice(asked)));
    expect(readJournal(root, 'adguardhome')!.steps['stop-old']).toBeUndefined();
    expect(await activeOn(lab, 'adguardhome', ['h003', 'h002'])).toEqual(['h003']);
    const secondaryUp = Date.now();
    await net.nixosOrg.setRecord({ name: 'nixos.org', value: '203.0.113.7', ttl: 300 });
    await whenJournal(root, 'adguardhome', run, (j) => j.steps['stop-old']?.status === 'done');
    const oldAtStop = await checks.treeDigest(lab, 'h003', AGH_STATE);

    // the handoff: printed once the move is verified; its check asks the router, which still
    // hands out h003 first (the check fails and is retried); then the person changes the router
    await until('the handoff was printed', run, () => run.output().includes(ACTION), 150_000);
    const printedAt = Date.now();
    expect(await activeOn(lab, 'adguardhome', ['h003', 'h002'])).toEqual(['h002']);
    await until('the handoff check asked the router', run, () => net.dhcp.offers().filter((o) => o.mac === mac).length > offersBefore, 60_000);
    expect(readJournal(root, 'adguardhome')!.steps['handoff-dhcp']?.status).toBe('running');
    const changedAt = Date.now();
    const offersAtChange = net.dhcp.offers().filter((o) => o.mac === mac).length;
    await net.dhcp.setDnsServers(['100.64.0.20', SECONDARY_DNS]);
    const r = await run.done;
    expect(r.code, r.stdout + r.stderr).toBe(0);
    await sleep(300);
    const acked = await writer.stop(); // h003 refuses writes after the stop; the acked ones must be on h002
    const probe = await dns.stop();
    const fallback = await client.stop();

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

    // the secondary was proven before the stop: its check came first and passed only after the
    // record existed, and the window opened after that
    const order = report.steps.map((x) => x.id);
    expect(report.steps.find((x) => x.id === 'secondary-dns')?.status).toBe('done');
    expect(order.indexOf('secondary-dns')).toBeLessThan(order.indexOf('stop-old'));
    expect(Date.parse(report.window.startedAt!)).toBeGreaterThan(secondaryUp);
    // a client with the servers DHCP handed out falls back to 1.1.1.1 while h003 is stopped: no
    // failed query for as long as the window, and answers from the secondary inside it
    const [w0, w1] = [Date.parse(report.window.startedAt!), Date.parse(report.window.endedAt!)];
    expect(fallback.longestOutageMs).toBeLessThan(report.window.ms!);
    expect(fallback.samples.some((x) => x.ok && x.host === SECONDARY_DNS && x.t >= w0 && x.t <= w1)).toBe(true);

    // the handoff: its check saw the old offer (h003 first) until the change, the new one after it
    const handoff = report.steps.find((x) => x.id === 'handoff-dhcp')!;
    expect(handoff.status).toBe('done');
    expect(handoff.ms).toBeGreaterThanOrEqual(changedAt - printedAt);
    const offers = net.dhcp.offers().filter((o) => o.mac === mac).map((o) => o.dnsServers.join(' '));
    expect([...new Set(offers.slice(offersBefore, offersAtChange))]).toEqual([`100.64.0.3 ${SECONDARY_DNS}`]);
    expect(offers.slice(offersAtChange).at(-1)).toBe(`100.64.0.20 ${SECONDARY_DNS}`);
    // what clients get from DHCP now, and h002 answers them
    expect((await dhcpQuery(lab, 'h003')).domain_name_servers).toBe(`100.64.0.20 ${SECONDARY_DNS}`);
    expect((await resolve(lab, 'h003', '100.64.0.20', 'nixos.org')).value).toBe('203.0.113.7');
    // dhcpcd's test mode configured nothing on h003 and left nothing running there
    expect((await lab.exec('h003', H003_NET)).stdout).toBe(h003Net);
    console.log(
      `e2e cold adguardhome h003 -> h002: runbook ${(r.ms / 1000).toFixed(1)} s; downtime window (report) ${report.window.ms} ms; ` +
        `resolver's longest outage ${probe.longestOutageMs} ms (${probe.failures} failed queries of ${probe.samples.length}); ` +
        `client falling back to ${SECONDARY_DNS}: longest outage ${fallback.longestOutageMs} ms (${fallback.failures} failed of ${fallback.samples.length}); ` +
        `handoff ${(handoff.ms / 1000).toFixed(1)} s (${offers.length - offersBefore} DHCP offers to h003); ${acked.length} acknowledged writes checked on h002`,
    );
  }, 240_000);

  test('teardown leaves nothing behind', async () => {
    await lab.teardown();
    expect(await findLeftovers(lab.id)).toEqual([]);
  });
});
