/**
 * e2e [10]: between cutover and finalize migrations compose. With the committed runbooks, h001
 * running Forgejo (its nixos-container) and Zitadel (hot, PostgreSQL) behind o001 and h001's own
 * nginx (test/e2e/compose-fleet.ts): `migen run forgejo` to completion, no finalize, with a git
 * pusher running; then `migen run zitadel`, whose prepare redeploys h001 and o001 from the
 * repository as it stands, with an SSO writer running. Then, and again after o001 and h001 are
 * redeployed and rebooted: o001 routes git. and sso. to h002 (its route files and real requests
 * through its nginx), only git. and sso. moved, Forgejo's container stays stopped on h001 (its
 * fence refused the starts the deploys and the boot asked for), Zitadel's app runs on h002 only,
 * h001's copies are frozen, every acknowledged push and write is on h002, and `migen status`
 * says both are cut over.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { createLab, findLeftovers, startProber, startWriter, type AckedWrite, type Lab } from '../lab/index.js';
import { FORGEJO, NEIGHBOURS, forgejoChecks as fc, gitOperatorEnv, startNeighbours, startPusher, type AckedPush, type ForgejoSetup } from '../lab/forgejo/index.js';
import { DOMAIN as SSO, sql } from '../lab/pg/zitadel.js';
import { MIGEN, migenRun, proxyRoutes, readReport, REPO } from './helpers.js';
import { activeOn, locked } from './fleet.js';
import { everythingOnH002, viaProxy, waitFor } from './forgejo-fleet.js';
import { composeLabOptions, itemIds, setupCompose } from './compose-fleet.js';

const H002 = 'http://100.64.0.20';
const OTHERS = Object.keys(NEIGHBOURS).filter((n) => n !== 'sso').map((n) => `${n}.joshuabell.xyz`);

describe('[10] forgejo cut over, then zitadel run (its prepare redeploys h001 and o001), no finalize between', () => {
  let lab: Lab;
  let root: string;
  let fj: ForgejoSetup;
  const summary: string[] = [];
  beforeAll(async () => {
    lab = await createLab(composeLabOptions());
    ({ fj, root } = await setupCompose(lab));
  }, 300_000);
  afterAll(async () => {
    if (summary.length) console.log(`e2e [10] compose (forgejo, then zitadel, h001 -> h002):\n  ${summary.join('\n  ')}`);
    await lab?.teardown();
  });

  /** `nixos-rebuild switch` of a host from the operator, as every deploy does (the stand-in activates its base profile) */
  const redeploy = (host: string) => lab.operator(['nixos-rebuild', 'switch', '--flake', `examples/homelab#${host}`, '--target-host', `root@${host}`]);
  const stateLine = async (name: string) => (await lab.operator([process.execPath, MIGEN, 'status', name, '--ssh-config', lab.sshConfig], { cwd: REPO })).stdout.split('\n')[0]!;
  const rebuilds = () => fs.readFileSync(path.join(lab.dir, 'operator', 'nixos-rebuild.log'), 'utf8').split('\n').filter(Boolean);
  const condition = async (host: string, unit: string) => (await lab.exec(host, `systemctl show -P ConditionResult ${unit}`)).stdout.trim();
  const h001Frozen = async () => ({
    main: (await fc.refs(lab, 'h001'))['refs/heads/main'],
    maxItem: await sql(lab, 'h001', 'zitadel', 'SELECT max(id) FROM items;'),
    readOnly: await sql(lab, 'h001', 'zitadel', 'SHOW default_transaction_read_only;'),
  });

  /** exactly one copy of each serves, on h002; o001 routes git. and sso. there and the rest as before */
  async function oneCopyEach(routesBefore: Record<string, string[]>, zitadelAskedToStart: boolean): Promise<void> {
    expect(await proxyRoutes(lab, 'o001')).toEqual({ ...routesBefore, [FORGEJO.domain]: ['/', H002], [SSO]: ['/', H002] });
    expect(await fc.servedBy(lab)).toBe('h002'); // a real request through o001's nginx: Forgejo's X-Lab-Host
    expect(await viaProxy(lab, SSO)).toBe('h002'); // Zitadel's /healthz names its host
    for (const d of OTHERS) expect(await viaProxy(lab, d)).toBe(`h001 ${d.split('.')[0]}`);
    expect(await activeOn(lab, FORGEJO.unit, ['h001', 'h002'])).toEqual(['h002']);
    expect(await fc.containerProcesses(lab, 'h001')).toEqual([]);
    expect(await activeOn(lab, 'zitadel', ['h001', 'h002'])).toEqual(['h002']);
    // the fences are there and refused the last start asked for: zitadel's prepare redeployed h001
    // after Forgejo's cutover; Zitadel's app is asked only by the deploys and the boot after its own
    for (const m of ['forgejo', 'zitadel']) expect((await lab.exec('h001', `test -e /var/lib/migen/${m}/moved`)).code, m).toBe(0);
    expect(await condition('h001', FORGEJO.unit)).toBe('no');
    if (zitadelAskedToStart) expect(await condition('h001', 'zitadel')).toBe('no');
    expect(await locked(lab)).toEqual([]);
  }

  /** every acknowledged push (commit and push_events row) and write (row) so far is on h002 */
  async function nothingLost(pushes: AckedPush[], writes: AckedWrite[]): Promise<void> {
    const hist = new Set(await fc.history(lab, 'h002'));
    expect(pushes.filter((p) => !hist.has(p.new))).toEqual([]);
    const rows = new Map((await fc.pushEvents(lab, 'h002')).map((r) => [r.id, r]));
    expect(pushes.filter((p) => rows.get(p.event)?.new !== p.new || rows.get(p.event)?.old !== p.old)).toEqual([]);
    const ids = await itemIds(lab, 'h002');
    expect(writes.filter((w) => !ids.has(w.id)).map((w) => w.id)).toEqual([]);
  }

  test('git. and sso. route to h002, Forgejo\'s container stays stopped on h001, one copy of each serves; again after redeploys and reboots', async () => {
    const routesBefore = await proxyRoutes(lab, 'o001');
    expect(routesBefore[FORGEJO.domain]).toEqual(['/', 'http://100.64.0.13']);
    expect(routesBefore[SSO]).toEqual(['/', 'http://100.64.0.13']);
    expect(await fc.servedBy(lab)).toBe('h001');
    expect(await viaProxy(lab, SSO)).toBe('h001');

    const pusher = startPusher(lab, fj, { intervalMs: 300, maxMs: 900_000 });
    await waitFor('pushes before forgejo\'s run', () => pusher.acked.length >= 3);
    const f = await migenRun(lab, 'forgejo', root, [], gitOperatorEnv(lab)).done;
    expect(f.code, f.stdout + f.stderr).toBe(0);
    const fr = readReport(root, 'forgejo');
    expect(fr.result).toBe('done');
    await waitFor('pushes after forgejo\'s window', () => pusher.acked.filter((a) => a.t - a.ms > Date.parse(fr.window.endedAt!)).length >= 2);
    expect(await stateLine('forgejo')).toMatch(/^forgejo: cut over — /);

    const writer = startWriter(lab, { address: '100.64.0.1', host: SSO, intervalMs: 20, maxMs: 900_000, timeoutMs: 3000 });
    const prober = startProber(lab, { address: '100.64.0.1', host: SSO, intervalMs: 100, maxMs: 900_000 });
    await waitFor('writes before zitadel\'s run', () => writer.acked.length >= 30);
    const before = rebuilds().length;
    const z = await migenRun(lab, 'zitadel', root).done;
    expect(z.code, z.stdout + z.stderr).toBe(0);
    const zr = readReport(root, 'zitadel');
    expect(zr.result).toBe('done');
    // its prepare did redeploy h001 and o001 (and h002), with Forgejo cut over and not finalized
    const deployed = rebuilds().slice(before);
    for (const t of ['root@100.64.0.13', 'root@o001', 'root@100.64.0.20']) expect(deployed.some((l) => l.startsWith('switch ') && l.endsWith(`--target-host ${t}`)), `${t} in ${deployed.join('; ')}`).toBe(true);
    const zEnd = Date.parse(zr.window.endedAt!);
    await waitFor('writes after zitadel\'s window', () => writer.acked.filter((a) => a.t - a.ms > zEnd).length >= 20);
    await waitFor('pushes after zitadel\'s run', () => pusher.acked.filter((a) => a.t - a.ms > zEnd).length >= 2);

    await oneCopyEach(routesBefore, false);
    await nothingLost([...pusher.acked], [...writer.acked]);
    const frozen = await h001Frozen();
    expect(frozen.readOnly).toBe('on');
    for (const n of ['forgejo', 'zitadel']) expect(await stateLine(n)).toMatch(new RegExp(`^${n}: cut over — `));
    const mid = { pushes: pusher.acked.length, writes: writer.acked.length };

    // both deployed again from the repository as it stands, then rebooted
    for (const h of ['o001', 'h001']) { const d = await redeploy(h); expect(d.code, `${h}: ${d.stderr}`).toBe(0); }
    await oneCopyEach(routesBefore, true);
    await lab.reboot('h001');
    // h001's other services are the lab's app, in none of its profiles (no wanted unit): started by hand again
    await startNeighbours(lab, 'h001', Object.keys(NEIGHBOURS).filter((n) => n !== 'sso'));
    await lab.reboot('o001');
    // after the boots o001's nginx serves again (a wanted unit), the clients go on against h002
    const tBoot = Date.now();
    await waitFor('git. and sso. through o001 after the reboots', async () => (await fc.servedBy(lab)) === 'h002' && (await viaProxy(lab, SSO)) === 'h002');
    await waitFor('pushes and writes after the reboots', () => pusher.acked.filter((a) => a.t - a.ms > tBoot).length >= 2 && writer.acked.filter((a) => a.t - a.ms > tBoot).length >= 20);

    const { acked: pushes, failed } = await pusher.stop();
    const writes = await writer.stop();
    const probe = await prober.stop();
    await oneCopyEach(routesBefore, true);
    await nothingLost(pushes, writes);
    const by = await everythingOnH002(lab, pushes, undefined);
    expect(failed.filter((x) => x.rejected)).toEqual([]);
    // h001's copies stayed as they were at their cutovers: no write reached them through the redeploys and the boot
    expect(await h001Frozen()).toEqual(frozen);
    // one writer at a time: once h002 recorded a push or answered sso., h001 never did again
    const events = await fc.pushEvents(lab, 'h002');
    const firstH002 = events.findIndex((e) => e.host === 'h002');
    expect(firstH002).toBeGreaterThan(0);
    expect(events.slice(firstH002).filter((e) => e.host !== 'h002')).toEqual([]);
    const hosts = probe.samples.filter((s) => s.ok).map((s) => s.host);
    expect(hosts.indexOf('h002')).toBeGreaterThan(0);
    expect(hosts.lastIndexOf('h001')).toBeLessThan(hosts.indexOf('h002'));
    for (const n of ['forgejo', 'zitadel']) expect(await stateLine(n)).toMatch(new RegExp(`^${n}: cut over — `));
    summary.push(`forgejo run ${(f.ms / 1000).toFixed(1)} s (window ${fr.window.ms} ms), zitadel run ${(z.ms / 1000).toFixed(1)} s (window ${zr.window.ms} ms; redeployed ${deployed.length} hosts); ` +
      `${pushes.length} acknowledged pushes (${by.h001} recorded by h001, ${by.h002} by h002; ${mid.pushes} before the redeploys and reboots) and ${writes.length} acknowledged writes (${mid.writes} before) all on h002; ` +
      `${failed.length} pushes and ${writer.failed.length} writes failed (o001's reboot among them), sso.'s longest outage ${probe.longestOutageMs} ms`);
  }, 900_000);

  test('teardown leaves nothing behind', async () => {
    await lab.teardown();
    expect(await findLeftovers(lab.id)).toEqual([]);
  });
});
