/**
 * Real DNS in the lab (test/lab/dns.ts): BIND 9 on ns1 is the authority of joshuabell.xyz and
 * takes TSIG-signed dynamic updates; unbound on r1 (stub-zone) and r2 (forward-zone) caches its
 * answers for their TTL. Shows what a DNS cutover relies on: an update is not seen through a
 * resolver until the cached copy expires, so the TTL is lowered one old TTL ahead; then a switch
 * reaches every resolver, and a client that goes by the name, within the low TTL.
 *
 * Timing bounds come from the TTLs the resolvers report: unbound counts in whole seconds (a record
 * answered with TTL n expires within n + 1 s), and a poll adds its interval and its own latency.
 */
import { beforeAll, describe, expect, test } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { APP_PY, useLab } from './lab.js';
import { resolve, setupDnsAuthority, setupResolver, waitForAnswer, type DnsAuthority, type ResolveResult } from './dns.js';
import { startNameClient, type NameSample } from './clients.js';

const ZONE = 'joshuabell.xyz';
const NAME = `headscale.${ZONE}`;
const OLD_TTL = 6; // the record's TTL before the cutover
const LOW_TTL = 2; // lowered to this one old TTL ahead
const POLL_MS = 100;
const HOSTS = [
  { name: 'ns1', address: '100.64.0.53' },
  { name: 'r1', address: '100.64.0.61' },
  { name: 'r2', address: '100.64.0.62' },
  { name: 'l001', address: '100.64.0.2' }, // the example inventory's addresses
  { name: 'newvps', address: '100.64.0.30' },
  { name: 'h003', address: '100.64.0.3' }, // AdGuard Home (the lab app's DNS responder)
  { name: 'r3', address: '100.64.0.63' },
];
const ADDR: Record<string, string> = Object.fromEntries(HOSTS.map((h) => [h.name, h.address]));
const HOST_OF: Record<string, string> = Object.fromEntries(HOSTS.map((h) => [h.address, h.name]));
const RESOLVERS = [ADDR.r1!, ADDR.r2!];

const ctx = useLab({ hosts: HOSTS });
let auth: DnsAuthority;

const sleepUntil = (t: number) => new Promise<void>((r) => setTimeout(r, Math.max(0, t - Date.now())));
const rec = (name: string, value: string, ttl: number) => ({ name: `${name}.${ZONE}`, value, ttl });
/** the latest time a resolver may still answer the value it had when asked in `r` (see top) */
const expiryBound = (r: ResolveResult, seen: ResolveResult[]) => r.t + r.ms + ((r.ttl ?? 0) + 1) * 1000 + POLL_MS + Math.max(...seen.map((s) => s.ms));

async function until<T>(what: string, timeoutMs: number, f: () => Promise<T | undefined> | T | undefined): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await f();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out (${timeoutMs} ms) waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

beforeAll(async () => {
  const { lab } = ctx;
  auth = await setupDnsAuthority(lab, 'ns1', {
    zone: ZONE,
    records: [rec('headscale', ADDR.l001!, OLD_TTL), rec('cache30', '192.0.2.1', 30), rec('zero', '192.0.2.1', 0), rec('plain', '192.0.2.1', OLD_TTL)],
  });
  await setupResolver(lab, 'r1', { forwardZone: ZONE, to: auth.address });
  await setupResolver(lab, 'r2', { forwardZone: ZONE, to: auth.address, mode: 'forward' });
  for (const host of ['l001', 'newvps']) {
    const listen = `${ADDR[host]}:8080`; // the Headscale stand-in: /healthz answers the host's name
    await lab.defineUnit(host, 'headscale', { exec: ['/usr/bin/python3', APP_PY], env: { STATE_DIR: '/var/lib/headscale', LISTEN: listen }, ready: { http: `http://${listen}/healthz` } });
    const r = await lab.exec(host, 'systemctl start headscale');
    expect(r.code, r.stderr).toBe(0);
  }
}, 60_000);

describe('DNS in the lab: BIND 9 authority, unbound resolvers', () => {
  test('BIND answers the zone with authority (SOA, NS) to the operator and lab hosts; unbound resolves it from there', async () => {
    const { lab } = ctx;
    const soa = await resolve(lab, 'operator', auth.address, ZONE, 'SOA');
    expect(soa.status).toBe('NOERROR');
    expect(soa.flags).toContain('aa');
    expect(soa.value).toMatch(/^ns1\.joshuabell\.xyz\. hostmaster\.joshuabell\.xyz\. \d+ /);
    expect((await resolve(lab, 'l001', auth.address, ZONE, 'NS')).value).toBe('ns1.joshuabell.xyz.');
    for (const server of RESOLVERS) {
      for (const from of ['operator', 'newvps']) {
        const a = await resolve(lab, from, server, `ns1.${ZONE}`);
        expect(a.status, `${from} -> ${server}`).toBe('NOERROR');
        expect(a.value).toBe(auth.address);
        expect(a.flags).toContain('ra'); // a recursive resolver, not the authority
        expect(a.flags).not.toContain('aa');
      }
      expect((await resolve(lab, 'operator', server, `nope.${ZONE}`)).status).toBe('NXDOMAIN');
    }
  });

  test('nsupdate needs the zone TSIG key: a wrong secret, an unknown key and no key are refused', async () => {
    const { lab } = ctx;
    const serial = async () => (await resolve(lab, 'operator', auth.address, ZONE, 'SOA')).value!.split(' ')[2];
    const before = await serial();
    const line = `update add keytest.${ZONE}. 60 A 192.0.2.9`;
    const keyFile = async (name: string) => {
      const f = path.join(lab.dir, 'operator', 'dns', `other-${name}.key`);
      fs.writeFileSync(f, (await lab.operator(['tsig-keygen', '-a', 'hmac-sha256', name])).stdout, { mode: 0o600 });
      return f;
    };
    const wrongSecret = await auth.nsupdate([line], { keyFile: await keyFile(auth.keyName) });
    expect(wrongSecret.code).not.toBe(0);
    expect(wrongSecret.stderr).toMatch(/BADSIG/);
    const unknownKey = await auth.nsupdate([line], { keyFile: await keyFile('someone-else') });
    expect(unknownKey.code).not.toBe(0);
    expect(unknownKey.stderr).toMatch(/BADKEY/);
    const noKey = await lab.operator(['nsupdate', '-t', '5'], { input: `server ${auth.address}\nzone ${ZONE}.\n${line}\nsend\n` });
    expect(noKey.code).not.toBe(0);
    expect(noKey.stderr).toMatch(/REFUSED/);
    expect((await resolve(lab, 'operator', auth.address, `keytest.${ZONE}`)).status).toBe('NXDOMAIN');
    expect(await serial()).toBe(before);

    const ok = await auth.nsupdate([line]); // the zone's key: from the operator and on ns1 itself
    expect(ok.code, ok.stderr).toBe(0);
    expect((await auth.nsupdate([`update delete keytest.${ZONE}. A`], { from: 'ns1' })).code).toBe(0);
    expect(Number(await serial())).toBe(Number(before) + 2);
  });

  test('unbound keeps a record for its TTL: with TTL 30 an update is not seen, with TTL 0 at once', async () => {
    const { lab } = ctx;
    const [r1, r2] = RESOLVERS as [string, string];
    const first = await resolve(lab, 'operator', r1, `cache30.${ZONE}`);
    expect(first.value).toBe('192.0.2.1');
    expect(first.ttl).toBe(30);
    await auth.setRecord(rec('cache30', '192.0.2.2', 30));
    const fromAuth = await resolve(lab, 'operator', auth.address, `cache30.${ZONE}`);
    expect([fromAuth.value, fromAuth.ttl]).toEqual(['192.0.2.2', 30]);
    // r1 answers from its cache, the TTL counting down; r2 never asked, so it has the new value
    const later = await until('r1 to count the TTL down', 5000, async () => {
      const r = await resolve(lab, 'operator', r1, `cache30.${ZONE}`);
      expect(r.value).toBe('192.0.2.1');
      return r.ttl! < first.ttl! ? r : undefined;
    });
    expect(later.ttl).toBeGreaterThan(0);
    expect((await resolve(lab, 'operator', r2, `cache30.${ZONE}`)).value).toBe('192.0.2.2');

    // cache-min-ttl 0: a TTL-0 answer is never served from the cache
    const zero = await resolve(lab, 'operator', r1, `zero.${ZONE}`);
    expect([zero.value, zero.ttl]).toEqual(['192.0.2.1', 0]);
    await auth.setRecord(rec('zero', '192.0.2.2', 0));
    expect((await resolve(lab, 'operator', r1, `zero.${ZONE}`)).value).toBe('192.0.2.2');
  });

  test('an update without lowering the TTL: each resolver keeps the old value until its cached copy expires', async () => {
    const { lab } = ctx;
    const name = `plain.${ZONE}`;
    const warm = await Promise.all(RESOLVERS.map((s) => resolve(lab, 'operator', s, name)));
    for (const w of warm) expect([w.value, w.ttl]).toEqual(['192.0.2.1', OLD_TTL]); // fetched just now
    await auth.setRecord(rec('plain', '192.0.2.2', OLD_TTL));
    const seen = await Promise.all(RESOLVERS.map((s) => waitForAnswer(lab, 'operator', s, name, '192.0.2.2', { timeoutMs: (OLD_TTL + 5) * 1000, intervalMs: POLL_MS })));
    RESOLVERS.forEach((server, i) => {
      const w = warm[i]!;
      const s = seen[i]!;
      const got = s[s.length - 1]!;
      const old = s.slice(0, -1);
      expect(old.map((r) => r.value).filter((v) => v !== '192.0.2.1'), server).toEqual([]);
      expect(old.length, `${server} answered the old value while cached`).toBeGreaterThan(0);
      // all from the one cached copy: its TTL only counts down (no stale copy served past expiry)
      const ttls = [w.ttl!, ...old.map((r) => r.ttl!)];
      expect(ttls.filter((t, j) => j > 0 && t > ttls[j - 1]!), `${server} TTLs ${ttls.join(',')}`).toEqual([]);
      // not before the cached copy expired, and soon after
      expect(got.t + got.ms, server).toBeGreaterThanOrEqual(w.t + (OLD_TTL - 1) * 1000);
      expect(got.t, server).toBeLessThanOrEqual(expiryBound(w, s));
      expect(got.ttl).toBe(OLD_TTL);
    });
  });

  test("the seed's way: lower the TTL one old TTL ahead, switch, both resolvers and a client by name follow within the low TTL; rollback", async () => {
    const { lab } = ctx;
    const start = Date.now();
    await auth.setRecord(rec('headscale', ADDR.l001!, OLD_TTL)); // this test's starting state
    const warm = await Promise.all(RESOLVERS.map((s) => resolve(lab, 'operator', s, NAME)));
    for (const w of warm) expect([w.value, w.ttl]).toEqual([ADDR.l001, OLD_TTL]); // nothing asked for it before: fetched now
    const clients = RESOLVERS.map((s) => startNameClient(lab, { servers: [s], name: NAME, port: 8080, intervalMs: POLL_MS, timeoutMs: 2000, maxMs: 60_000 }));
    await until('both clients on l001', 5000, () => (clients.every((c) => c.samples.some((x) => x.ok && x.host === 'l001')) ? true : undefined));

    // 1. lower the TTL (same address) and verify it at the authority
    await auth.setRecord(rec('headscale', ADDR.l001!, LOW_TTL));
    const tLower = Date.now();
    const lowered = await resolve(lab, 'operator', auth.address, NAME);
    expect([lowered.value, lowered.ttl]).toEqual([ADDR.l001, LOW_TTL]);
    // the resolvers still count down the old TTL: nothing sees the low TTL before that expires
    for (const [i, server] of RESOLVERS.entries()) {
      const w = warm[i]!;
      const now = await resolve(lab, 'operator', server, NAME);
      expect(now.ttl!, server).toBeGreaterThanOrEqual(Math.floor(w.ttl! - (now.t + now.ms - w.t) / 1000) - 1);
      expect(now.ttl!, server).toBeLessThanOrEqual(w.ttl!);
    }
    // 2. wait one old TTL (whole seconds: + 1 s), then every resolver answers with the low TTL
    await sleepUntil(tLower + (OLD_TTL + 1) * 1000);
    const before = await Promise.all(RESOLVERS.map((s) => resolve(lab, 'operator', s, NAME)));
    for (const b of before) {
      expect(b.value).toBe(ADDR.l001);
      expect(b.ttl).toBeLessThanOrEqual(LOW_TTL);
    }

    // 3. switch, 4. wait until every resolver answers the new address; then rollback the same way
    const move = async (to: 'newvps' | 'l001') => {
      const t0 = Date.now();
      await auth.setRecord(rec('headscale', ADDR[to]!, LOW_TTL));
      const t1 = Date.now(); // a resolver may refetch the old value until the update is in
      const cached = await Promise.all(RESOLVERS.map((s) => resolve(lab, 'operator', s, NAME)));
      const seen = await Promise.all(RESOLVERS.map((s) => waitForAnswer(lab, 'operator', s, NAME, ADDR[to]!, { timeoutMs: (LOW_TTL + 5) * 1000, intervalMs: POLL_MS })));
      RESOLVERS.forEach((server, i) => {
        const got = seen[i]![seen[i]!.length - 1]!;
        expect(cached[i]!.ttl, server).toBeLessThanOrEqual(LOW_TTL);
        expect(got.t, `${server} followed within the low TTL`).toBeLessThanOrEqual(expiryBound(cached[i]!, seen[i]!));
        expect(got.t - t1).toBeLessThanOrEqual((LOW_TTL + 1) * 1000 + POLL_MS + cached[i]!.ms + Math.max(...seen[i]!.map((s) => s.ms)));
      });
      await until(`both clients on ${to}`, (LOW_TTL + 5) * 1000, () => (clients.every((c) => c.samples.at(-1)?.host === to) ? true : undefined));
      return { t0, ms: Math.max(...seen.map((s) => s[s.length - 1]!.t)) - t1 };
    };
    const cutover = await move('newvps');
    const rollback = await move('l001');
    await auth.setRecord(rec('headscale', ADDR.l001!, OLD_TTL)); // the original TTL back
    const results = await Promise.all(clients.map((c) => c.stop()));

    for (const [i, r] of results.entries()) {
      const samples: NameSample[] = r.samples;
      expect(r.failures, JSON.stringify(samples.filter((s) => !s.ok).slice(0, 3))).toBe(0);
      // a client lands on the host its answer names, and only there
      for (const s of samples) expect(s.host, JSON.stringify(s)).toBe(HOST_OF[s.answer!]);
      const sent = (s: NameSample) => s.t - s.ms;
      const phase = (from: number, to: number) => samples.filter((s) => sent(s) >= from && s.t <= to).map((s) => s.host);
      expect(new Set(phase(0, cutover.t0)), `client ${i} before the cutover`).toEqual(new Set(['l001']));
      // after the cutover: l001 while the resolver's copy lives, then newvps and only newvps
      const moved = phase(cutover.t0, rollback.t0);
      expect(moved, `client ${i} after the cutover`).toContain('newvps');
      expect(moved.slice(moved.indexOf('newvps')).filter((h) => h !== 'newvps')).toEqual([]);
      expect(samples.at(-1)!.host).toBe('l001');
    }
    console.log(`dns cutover: resolvers followed in ${cutover.ms} ms, rollback in ${rollback.ms} ms (low TTL ${LOW_TTL} s); whole test ${Date.now() - start} ms`);
  });

  test("unbound forwarding every name ('.') to the lab's AdGuard Home answers from it and caches its answers", async () => {
    const { lab } = ctx;
    const agh = `${ADDR.h003}:3000`;
    await lab.defineUnit('h003', 'adguardhome', { exec: ['/usr/bin/python3', APP_PY], env: { STATE_DIR: '/var/lib/private/AdGuardHome', LISTEN: agh, DNS_LISTEN: `${ADDR.h003}:53` }, ready: { http: `http://${agh}/healthz` } });
    const set = (a: string) => lab.exec('h003', `systemctl start adguardhome && curl -fsS -X POST --data ${a} http://${agh}/dns/nixos.org`);
    expect((await set('203.0.113.7')).code).toBe(0);
    await setupResolver(lab, 'r3', { forwardZone: '.', to: ADDR.h003!, mode: 'forward' });
    const first = await resolve(lab, 'l001', ADDR.r3!, 'nixos.org');
    expect([first.status, first.value]).toEqual(['NOERROR', '203.0.113.7']);
    expect((await set('203.0.113.8')).code).toBe(0);
    expect((await resolve(lab, 'l001', ADDR.h003!, 'nixos.org')).value).toBe('203.0.113.8');
    expect((await resolve(lab, 'l001', ADDR.r3!, 'nixos.org')).value).toBe('203.0.113.7'); // the responder's TTL is 60 s
  });
});
