/**
 * e2e [14]: whole generated runbooks for what the seed does by hand.
 * - Headscale moved the seed's way: BIND 9 holds headscale.joshuabell.xyz (TSIG nsupdate from
 *   l001), two unbound resolvers cache it; the runbook lowers the TTL, waits it out, switches the
 *   record while newvps starts, waits until both resolvers answer newvps, and a client that
 *   resolves by name reaches newvps; a failed verification rolls back and the record points at
 *   l001 again.
 * - AdGuard Home: the runbook waits for the secondary DNS to answer before it stops h003; a client
 *   with the secondary as fallback sees an outage shorter than the window; the verification asks
 *   h002 from h003; the DHCP change is a handoff the test performs when asked.
 * - Evacuating h001 (Forgejo warm, Zitadel hot; compose-fleet.ts's lab) with `migen run --all ...
 *   --from h001`: Forgejo first, Zitadel last, both routes on o001 switched, every acknowledged
 *   push and write on h002; a failure in Forgejo leaves Zitadel untouched.
 *
 * Hosts get the system profiles a deploy brings (test/lab/system.ts): the example fleet's, from
 * the generated modules evaluated with nix (test/e2e/deployed.ts), packages and copy access
 * included; the lab's headscale manifest must fence as the example's does (checked at setup).
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, test } from 'vitest';
import {
  checks, resolve, setupDnsAuthority, setupResolver, startDnsProber, startNameClient, startWriter, useLab, waitForAnswer,
  type Lab, type LabOptions,
} from '../lab/index.js';
import { defineForgejo, forgejoChecks as fc, gitOperatorEnv, startPusher, type ForgejoSetup } from '../lab/forgejo/index.js';
import { replicationObjects, DOMAIN as SSO } from '../lab/pg/zitadel.js';
import { composeLabOptions, itemIds, setupCompose } from './compose-fleet.js';
import { deployHost, evaluateFleet } from './deployed.js';
import { setupAdguard } from './fleet.js';
import { viaProxy } from './forgejo-fleet.js';
import { fleet, migenAs, REPO, sleep, whenJournal, type MigenRun } from './helpers.js';

const HEADSCALE_SH = path.join(REPO, 'test/lab/service/headscale.sh');
const APP_PY = path.join(REPO, 'test/lab/service/app.py');
const ZONE = 'joshuabell.xyz';
const HS = `headscale.${ZONE}`;
const OLD_TTL = 6;
const LOW_TTL = 2;
/** the longest a resolver keeps an answer of TTL t (whole seconds, see test/lab/dns.ts), and a poll */
const expiry = (ttl: number): number => (ttl + 1) * 1000 + 1000;

interface PlanFile { migrations: { name: string; fence: { ready: string; moved: string }; routeFiles: { domain: string; location: string; upstream: string; file: string; proxyPass: string; old: string; new: string }[] }[] }
const planIn = (dir: string, name: string) => (JSON.parse(fs.readFileSync(path.join(dir, 'plans', `${name}.json`), 'utf8')) as PlanFile).migrations[0]!;

async function must(lab: Lab, host: string, script: string, input?: string): Promise<string> {
  const r = await lab.exec(host, script, { input });
  if (r.code !== 0) throw new Error(`${host}: exit ${r.code}: ${r.stderr}${r.stdout}\n--- ${script}`);
  return r.stdout;
}

/** `node bin/migen.js ARGS` as the operator, in `cwd`; output collected. */
const migen = (lab: Lab, args: string[], cwd: string, env: NodeJS.ProcessEnv = {}): MigenRun => migenAs(lab, args, { cwd, env });

/** A repository root in the lab: the manifest (lab values), the example's inventory, generated/ from them. */
async function generatedRoot(lab: Lab, name: string, manifest: string): Promise<string> {
  const root = path.join(lab.dir, `repo-${name}`);
  fs.mkdirSync(path.join(root, 'migrations'), { recursive: true });
  fs.copyFileSync(path.join(REPO, 'examples/homelab/inventory.json'), path.join(root, 'inventory.json'));
  fs.writeFileSync(path.join(root, 'migrations', `${name}.yaml`), manifest);
  const g = await migen(lab, ['generate', `migrations/${name}.yaml`, '--inventory', 'inventory.json'], root).done;
  if (g.code !== 0) throw new Error(`migen generate: ${g.stdout}${g.stderr}`);
  return root;
}
const runIn = (lab: Lab, root: string, name: string, env: NodeJS.ProcessEnv = {}): MigenRun =>
  migen(lab, ['run', name, '--yes', '--root', '.', '--out', 'generated', '--ssh-config', lab.sshConfig], root, env);
const reportIn = (root: string, name: string) => JSON.parse(fs.readFileSync(path.join(root, '.migen', name, 'report.json'), 'utf8')) as { result: string; startedAt: string; endedAt: string; steps: { id: string; status: string }[]; window: { ms: number | null; startedAt: string | null; endedAt: string | null } };

// ------------------------------------------------------------------------------------ Headscale

const HS_ADDR = { ns1: '100.64.0.53', r1: '100.64.0.61', r2: '100.64.0.62', l001: '100.64.0.2', newvps: '100.64.0.30' };
const HS_LAB: LabOptions = { hosts: Object.entries(HS_ADDR).map(([name, address]) => ({ name, address })) };
const KEY = '/run/agenix/dns-update-key';
const hsManifest = (): string => `version: 1
hosts:
  newvps: { deploy: nixos-rebuild }   # the lab's deploy stand-in
migrations:
  headscale:
    service: headscale
    from: l001
    to: newvps
    strategy: warm
    backup: { none: true }
    sqlite: [/var/lib/headscale/db.sqlite3]   # the stand-in's database
    dns:
      records: [{ name: ${HS}, old: ${HS_ADDR.l001}, new: ${HS_ADDR.newvps}, ttl: ${OLD_TTL} }]
      resolvers: [${HS_ADDR.r1}, ${HS_ADDR.r2}]
      lowerTtl: { to: ${LOW_TTL} }
      provider: { nsupdate: { server: ${HS_ADDR.ns1}, keyFile: ${KEY}, zone: ${ZONE} } }
    verify:
      - http: http://${HS}:8080/healthz
`;

function headscaleScenario(h002Env: Record<string, string> = {}) {
  const ctx = useLab(HS_LAB);
  const s = { root: '', auth: undefined as unknown as Awaited<ReturnType<typeof setupDnsAuthority>> };
  return {
    get lab() { return ctx.lab; },
    s,
    async setup() {
      const { lab } = ctx;
      s.auth = await setupDnsAuthority(lab, 'ns1', { zone: ZONE, records: [{ name: HS, value: HS_ADDR.l001, ttl: OLD_TTL }] });
      await setupResolver(lab, 'r1', { forwardZone: ZONE, to: s.auth.address });
      await setupResolver(lab, 'r2', { forwardZone: ZONE, to: s.auth.address, mode: 'forward' });
      await must(lab, 'l001', `install -d -m 0700 /run/agenix && cat > ${KEY} && chmod 0400 ${KEY}`, fs.readFileSync(s.auth.operatorKeyFile, 'utf8'));
      s.root = await generatedRoot(lab, 'headscale', hsManifest());
      // the profiles are the example fleet's (its headscale.yaml): the lab's manifest must fence alike
      const fence = planIn(path.join(s.root, 'generated'), 'headscale').fence;
      const ev = await evaluateFleet();
      expect([ev.l001!.units.headscale!.conditions, ev.newvps!.units.headscale!.conditions]).toEqual([[`!${fence.moved}`], [fence.ready]]);
      for (const [host, role] of [['l001', 'old'], ['newvps', 'new']] as const) {
        const listen = `${HS_ADDR[host]}:8080`;
        await lab.defineUnit(host, 'headscale', { exec: ['/bin/bash', HEADSCALE_SH], env: { STATE_DIR: '/var/lib/headscale', LISTEN: listen, ...(host === 'newvps' ? h002Env : {}) }, ready: { http: `http://${listen}/healthz` } });
        // no nginx: clients reach the lab's headscale at the record's address directly
        await deployHost(lab, host, ['headscale'], role);
      }
      await must(lab, 'l001', 'systemctl is-active -q headscale');
      await must(lab, 'l001', `for i in $(seq 1 30); do curl -fsS -o /dev/null -X POST --data "node $i" http://${HS_ADDR.l001}:8080/items; done`);
    },
  };
}

describe('[14] headscale moved by its DNS record (generated runbook)', () => {
  const sc = headscaleScenario();

  test('TTL lowered and waited out, the record switched while newvps starts, both resolvers answer newvps, a client by name reaches it; nothing lost', async () => {
    await sc.setup();
    const { lab, s } = sc;
    for (const r of [HS_ADDR.r1, HS_ADDR.r2]) expect((await resolve(lab, 'operator', r, HS)).value).toBe(HS_ADDR.l001);
    const client = startNameClient(lab, { servers: [HS_ADDR.r1, HS_ADDR.r2], name: HS, port: 8080, intervalMs: 100, maxMs: 240_000 });
    const writer = startWriter(lab, { address: HS_ADDR.l001, port: 8080, host: HS, maxMs: 240_000 });
    const run = runIn(lab, s.root, 'headscale');
    await whenJournal(s.root, 'headscale', run, (j) => j.steps['stop-old'] !== undefined, 180_000);
    const r = await run.done;
    const ended = Date.now();
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const acked = await writer.stop(); // l001 refuses writes after the stop: the acked ones are the state that moved
    await sleep(500);
    const probe = await client.stop();
    const rep = reportIn(s.root, 'headscale');
    expect(rep.result).toBe('done');
    // the record: switched at the authority, with the lowered TTL; both resolvers answer newvps
    const a = await resolve(lab, 'operator', HS_ADDR.ns1, HS);
    expect([a.value, a.ttl]).toEqual([HS_ADDR.newvps, LOW_TTL]);
    for (const x of [HS_ADDR.r1, HS_ADDR.r2]) expect((await resolve(lab, 'operator', x, HS)).value).toBe(HS_ADDR.newvps);
    // the lowering preceded the stop by one old TTL (the wait's own condition)
    const lowered = Number((await must(lab, 'l001', 'cat /var/lib/migen/headscale/dns-lowered')).trim());
    expect(Date.parse(rep.window.startedAt!) / 1000 - lowered).toBeGreaterThanOrEqual(OLD_TTL);
    // the client by name: l001 first, newvps at the end, never l001 after the run
    const ok = probe.samples.filter((x) => x.ok);
    expect(ok[0]!.host).toBe('l001');
    expect(ok[ok.length - 1]!.host).toBe('newvps');
    expect(ok.filter((x) => x.t > ended && x.host !== 'newvps')).toEqual([]);
    // its outage is inside the window, up to its own timeout and interval (1 s + 100 ms)
    expect(probe.longestOutageMs).toBeLessThanOrEqual(rep.window.ms! + 1100);
    // the state: every acknowledged write, the database intact, Headscale's noise key unchanged
    const ids = new Set(await checks.rowIds(lab, 'newvps', '/var/lib/headscale/db.sqlite3'));
    expect(acked.length).toBeGreaterThan(5);
    expect(acked.filter((w) => !ids.has(w.id))).toEqual([]);
    expect(await checks.sqliteIntegrity(lab, 'newvps', '/var/lib/headscale/db.sqlite3')).toBe('ok');
    expect(await must(lab, 'newvps', 'sha256sum < /var/lib/headscale/noise_private.key')).toBe(await must(lab, 'l001', 'sha256sum < /var/lib/headscale/noise_private.key'));
    console.log(`e2e [14] headscale by DNS: runbook ${(r.ms / 1000).toFixed(1)} s; window ${rep.window.ms} ms; name client's longest outage ${probe.longestOutageMs} ms; ${acked.length} acknowledged writes on newvps`);
    // nothing proxies headscale: no route file was made, l001 runs no nginx for it
    expect(fs.existsSync(lab.hostFile('l001', '/var/lib/migen/nginx/headscale'))).toBe(false);
  }, 300_000);
});

describe('[14] headscale by DNS: a failed verification rolls the record back (generated runbook)', () => {
  const sc = headscaleScenario({ FAIL_START: '1' }); // newvps's start fails: the window rolls back

  test('rollback points the record at l001 again; the resolvers follow within the lowered TTL; l001 serves', async () => {
    await sc.setup();
    const { lab, s } = sc;
    const client = startNameClient(lab, { servers: [HS_ADDR.r1, HS_ADDR.r2], name: HS, port: 8080, intervalMs: 100, maxMs: 240_000 });
    const r = await runIn(lab, s.root, 'headscale').done;
    expect(r.code, r.stdout + r.stderr).toBe(3);
    const rep = reportIn(s.root, 'headscale');
    expect(rep.result).toBe('rolled-back');
    // the record had switched with the failed start (one group), and was switched back
    expect(rep.steps.filter((x) => x.status === 'undone').map((x) => x.id)).toContain('dns-switch');
    const a = await resolve(lab, 'operator', HS_ADDR.ns1, HS);
    expect([a.value, a.ttl]).toEqual([HS_ADDR.l001, LOW_TTL]);
    for (const x of [HS_ADDR.r1, HS_ADDR.r2]) await waitForAnswer(lab, 'operator', x, HS, HS_ADDR.l001, { timeoutMs: expiry(LOW_TTL) + 5000 });
    const back = Date.now();
    expect((await lab.exec('l001', 'systemctl is-active --quiet headscale')).code).toBe(0);
    expect((await lab.exec('newvps', 'systemctl is-active --quiet headscale')).code).not.toBe(0);
    await sleep(800);
    const probe = await client.stop();
    expect(probe.samples.filter((x) => x.ok && x.t > back).map((x) => x.host).filter((h) => h !== 'l001')).toEqual([]);
  }, 300_000);
});

// ------------------------------------------------------------------------------------ AdGuard Home

const SEC = '100.64.0.53';
/** The DHCP server is not part of the lab: the handoff's check reads its configuration, which the test changes when the runbook asks (as the person would on the router). */
const DHCP_CONF = '/var/lib/router/dhcp-dns';
/** The example's manifest with the lab's secondary (sec) in place of 1.1.1.1, and the DHCP check on that file. */
const aghManifest = (): string => fs.readFileSync(path.join(REPO, 'examples/homelab/migrations/adguardhome.yaml'), 'utf8')
  .replace('inventory: ../inventory.json\n', '')
  .replace('secondary: [1.1.1.1]', `secondary: [${SEC}]`)
  .replace(/command: "out=\$\(dhcpcd.*"\n/, `command: "grep -qx '100.64.0.20 ${SEC}' ${DHCP_CONF}"\n`)
  .replace('deadlineSeconds: 3600', 'deadlineSeconds: 120');

describe('[14] adguardhome: the secondary proven first, clients served within the window (generated runbook)', () => {
  const ctx = useLab({ hosts: [...fleet(['h003', 'h002']), { name: 'sec', address: SEC }] });

  test('waits for the secondary before the stop; a client with it as fallback sees less outage than the window; DHCP is a verified handoff', async () => {
    const { lab } = ctx;
    // h003 and h002 as the example's deploys make them (generated modules: the fences are this migration's)
    await setupAdguard(lab, { 'nixos.org': '203.0.113.7' });
    const root = await generatedRoot(lab, 'adguardhome', aghManifest());
    await lab.defineUnit('sec', 'adguardhome', { exec: ['/usr/bin/python3', APP_PY], env: { STATE_DIR: '/var/lib/private/AdGuardHome', LISTEN: `${SEC}:3000`, DNS_LISTEN: '0.0.0.0:53' }, ready: { http: `http://${SEC}:3000/alive` } });
    await must(lab, 'sec', `install -d -m 0700 /var/lib/private && systemctl start adguardhome && curl -fsS -o /dev/null -X POST --data 203.0.113.7 http://${SEC}:3000/dns/nixos.org && systemctl stop adguardhome`);
    await must(lab, 'h003', `mkdir -p ${path.dirname(DHCP_CONF)} && echo '100.64.0.3 ${SEC}' > ${DHCP_CONF}`);
    // the secondary is down when the run starts
    const client = startDnsProber(lab, { servers: ['100.64.0.3', SEC], name: 'nixos.org', intervalMs: 50, maxMs: 240_000 });
    const run = runIn(lab, root, 'adguardhome');
    await whenJournal(root, 'adguardhome', run, (j) => j.steps['secondary-dns']?.status === 'running');
    await sleep(1500); // it keeps asking; nothing stops meanwhile
    expect((await lab.exec('h003', 'systemctl is-active --quiet adguardhome')).code).toBe(0);
    const secUp = Date.now();
    await must(lab, 'sec', 'systemctl start adguardhome');
    await whenJournal(root, 'adguardhome', run, (j) => j.steps['handoff-dhcp']?.status === 'running', 180_000);
    while (!run.output().includes('ACTION NEEDED: On the router, make DHCP option 6')) await sleep(20); // printed right after the journal says it started
    expect((await lab.exec('h002', 'systemctl is-active --quiet adguardhome')).code).toBe(0); // the move was verified first
    await must(lab, 'h003', `echo '100.64.0.20 ${SEC}' > ${DHCP_CONF}`); // the person changes DHCP
    const r = await run.done;
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const probe = await client.stop();
    const rep = reportIn(root, 'adguardhome');
    expect(rep.result).toBe('done');
    expect(Date.parse(rep.window.startedAt!)).toBeGreaterThan(secUp); // the stop came only after the secondary answered
    expect(rep.steps.map((x) => x.id).indexOf('secondary-dns')).toBeLessThan(rep.steps.map((x) => x.id).indexOf('stop-old'));
    // the client, falling back to the secondary, is never without an answer for as long as the
    // window: while h003 was stopped the secondary answered it
    expect(probe.longestOutageMs).toBeLessThan(rep.window.ms!);
    const [w0, w1] = [Date.parse(rep.window.startedAt!), Date.parse(rep.window.endedAt!)];
    expect(probe.samples.some((x) => x.ok && x.host === SEC && x.t >= w0 && x.t <= w1)).toBe(true);
    expect((await must(lab, 'h003', 'dig +short +time=1 +tries=1 @100.64.0.20 nixos.org')).trim()).toBe('203.0.113.7');
    console.log(`e2e [14] adguardhome: window ${rep.window.ms} ms; a client falling back to the secondary: longest outage ${probe.longestOutageMs} ms (${probe.failures} failed queries of ${probe.samples.length})`);
  }, 300_000);
});

// ------------------------------------------------------------------------------------ evacuating h001

const routeOf = async (lab: Lab, file: string): Promise<string> => (await must(lab, 'o001', `cat ${file}`)).trim();

/** h001 running Forgejo and Zitadel, one configuration per host with both (compose-fleet.ts); `forgejoOnH002`: the Forgejo unit's environment on h002 */
function evacuation(opts: { forgejoOnH002?: Record<string, string> } = {}) {
  const ctx = useLab(composeLabOptions());
  const s = { root: '', git: undefined as unknown as ForgejoSetup };
  return {
    get lab() { return ctx.lab; },
    s,
    async setup() {
      ({ fj: s.git, root: s.root } = await setupCompose(ctx.lab));
      if (opts.forgejoOnH002) await defineForgejo(ctx.lab, 'h002', opts.forgejoOnH002);
    },
    runAll: () => migen(ctx.lab, ['run', '--all', 'examples/homelab/migrations/forgejo.yaml', 'examples/homelab/migrations/zitadel.yaml', '--from', 'h001', '--yes', '--root', s.root, '--ssh-config', ctx.lab.sshConfig], REPO, gitOperatorEnv(ctx.lab)),
  };
}

/** Evacuating h001 (Forgejo's container PostgreSQL listens on 5433, Zitadel's on 5432, as in the example). */
describe('[14] evacuating h001 with one command (committed runbooks, migen run --all)', () => {
  const ev = evacuation();

  test('Forgejo first, Zitadel last; both routes on o001 switched; every acknowledged push and write on h002', async () => {
    await ev.setup();
    const { lab, s } = ev;
    const files = Object.fromEntries(['forgejo', 'zitadel'].map((n) => [n, planIn(path.join(REPO, 'generated'), n).routeFiles[0]!]));
    expect(await viaProxy(lab, SSO)).toBe('h001');
    expect(await fc.servedBy(lab)).toBe('h001');
    const pusher = startPusher(lab, s.git, { intervalMs: 300 });
    const writer = startWriter(lab, { address: '100.64.0.1', host: SSO, intervalMs: 20, maxMs: 600_000, timeoutMs: 3000 });
    const r = await ev.runAll().done;
    await sleep(1500);
    const { acked: pushes } = await pusher.stop();
    const writes = await writer.stop();
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toContain('  1. forgejo\n  2. zitadel\n');
    const fj = reportIn(s.root, 'forgejo');
    const zi = reportIn(s.root, 'zitadel');
    expect([fj.result, zi.result]).toEqual(['done', 'done']);
    expect(Date.parse(fj.endedAt)).toBeLessThanOrEqual(Date.parse(zi.startedAt));
    // both routes on o001 point at h002; the other vhosts still at h001
    expect(await routeOf(lab, files.forgejo!.file)).toBe(files.forgejo!.new);
    expect(await routeOf(lab, files.zitadel!.file)).toBe(files.zitadel!.new);
    expect(await viaProxy(lab, SSO)).toBe('h002');
    expect(await fc.servedBy(lab)).toBe('h002');
    expect(await viaProxy(lab, 'chat.joshuabell.xyz')).toBe('h001 chat');
    // nothing acknowledged lost: every push's commit is in h002's history, every write's row in its database
    const history = new Set(await fc.history(lab, 'h002'));
    expect(pushes.length).toBeGreaterThan(3);
    expect(pushes.filter((p) => !history.has(p.new))).toEqual([]);
    const ids = await itemIds(lab, 'h002');
    expect(writes.length).toBeGreaterThan(100);
    expect(writes.filter((w) => !ids.has(w.id))).toEqual([]);
  }, 900_000);
});

describe('[14] evacuating h001: a failure in Forgejo leaves Zitadel untouched (migen run --all)', () => {
  const ev = evacuation({ forgejoOnH002: { HTTP_PORT: '1' } }); // Forgejo cannot bind on h002: its start fails, the window rolls back

  test('Forgejo rolls back; Zitadel never starts: no journal, its replication never set up, its route and service on h001', async () => {
    await ev.setup();
    const { lab, s } = ev;
    const sso = planIn(path.join(REPO, 'generated'), 'zitadel').routeFiles[0]!;
    const r = await ev.runAll().done;
    expect(r.code, r.stdout + r.stderr).toBe(3);
    expect(r.stdout).toMatch(/\n {2}forgejo: failed \(exit 3\)\n {2}zitadel: not started\n$/);
    expect(reportIn(s.root, 'forgejo').result).toBe('rolled-back');
    expect(fs.existsSync(path.join(s.root, '.migen', 'zitadel'))).toBe(false);
    expect(await replicationObjects(lab)).toEqual({ publications: '', slots: '', subscriptions: '', readOnly: 'off' });
    expect(await routeOf(lab, sso.file)).toBe(sso.old); // o001 was deployed (Forgejo's prepare): the file holds the old backend
    expect(await viaProxy(lab, SSO)).toBe('h001');
    expect((await lab.exec('h001', 'systemctl is-active --quiet zitadel')).code).toBe(0);
    expect((await lab.exec('h002', 'systemctl is-active --quiet zitadel')).code).not.toBe(0);
    // Forgejo serves from h001 again
    expect(await fc.servedBy(lab)).toBe('h001');
  }, 900_000);
});
