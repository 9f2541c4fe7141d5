/**
 * The DNS steps the planner generates (plan/dns.ts), run for real: their scripts as printed in the
 * plan, executed by migen's runtime over ssh on lab hosts, against BIND 9 (the zone's authority,
 * TSIG-signed nsupdate) and two unbound resolvers (test/lab/dns.ts), while a client resolves
 * headscale.joshuabell.xyz through them and connects to the answer (the Headscale stand-in on l001
 * and newvps, test/lab/service/headscale.sh: /healthz answers the host's name).
 *
 * A runbook here holds the generated DNS steps (preflight check, the TTL lowered, the wait, the
 * switch with its undo) verbatim, but for their `fleet` flag (no coordinator: the lab has no
 * systemd-run), around a stop and a start of the stand-ins; the whole generated runbook runs in
 * test/e2e/w14.test.ts once the lab has the coordinator's stand-in.
 * Times are derived from the TTLs (old 6 s, lowered 2 s) and waited on as conditions.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, test } from 'vitest';
import { prepare } from '../../src/generator/pipeline.js';
import type { MigrationPlan } from '../../src/generator/plan/types.js';
import type { RunbookDef } from '../../src/runbook/def.js';
import type { HandoffStep, Step } from '../../src/runbook/steps.js';
import { useLab, type Lab } from './lab.js';
import { resolve, setupDnsAuthority, setupResolver, waitForAnswer, type DnsAuthority } from './dns.js';
import { startNameClient, type NameClient } from './clients.js';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const HEADSCALE_SH = path.join(REPO, 'test/lab/service/headscale.sh');
const ZONE = 'joshuabell.xyz';
const NAME = `headscale.${ZONE}`;
const OLD_TTL = 6;
const LOW_TTL = 2;
const ADDR = { ns1: '100.64.0.53', r1: '100.64.0.61', r2: '100.64.0.62', l001: '100.64.0.2', newvps: '100.64.0.30' };
const RESOLVERS = [ADDR.r1, ADDR.r2];
const KEY = '/run/agenix/dns-update-key';
/** the longest a resolver keeps an answer of TTL t (whole seconds, see dns.ts), plus a poll */
const expiry = (ttl: number): number => (ttl + 1) * 1000 + 1000;

const ctx = useLab({ hosts: Object.entries(ADDR).map(([name, address]) => ({ name, address })) });
let auth: DnsAuthority;

function manifest(dns: string): string {
  return `version: 1\nmigrations:\n  headscale:\n    service: headscale\n    from: l001\n    to: newvps\n    strategy: warm\n    backup: { none: true }\n    dns:\n` +
    `      records: [{ name: ${NAME}, old: ${ADDR.l001}, new: ${ADDR.newvps}, ttl: ${OLD_TTL} }]\n      resolvers: [${RESOLVERS.join(', ')}]\n      lowerTtl: { to: ${LOW_TTL} }\n${dns}`;
}

async function planOf(lab: Lab, file: string, text: string): Promise<MigrationPlan> {
  const f = path.join(lab.dir, file);
  fs.writeFileSync(f, text);
  return (await prepare([f], { inventory: path.join(REPO, 'examples/homelab/inventory.json') })).plans[0]!.migrations[0]!;
}

/** The generated step, without its fleet flags (the runtime runs it from the operator here). */
function gen(p: MigrationPlan, id: string): Step {
  const s = p.steps.find((x) => x.id === id);
  if (!s) throw new Error(`no step ${id}`);
  const { fleet: _f, heartbeat: _h, ...rest } = s as Step & { fleet?: boolean; heartbeat?: unknown };
  return rest as Step;
}

const stop: Step = { id: 'stop-old', phase: 'cutover', kind: 'command', title: 'stop the stand-in on l001', window: true, stopsService: true, run: { on: 'l001', script: 'systemctl stop headscale' }, undo: { on: 'l001', script: 'systemctl start headscale' } };
const start: Step = { id: 'start-new', phase: 'cutover', kind: 'command', title: 'start the stand-in on newvps', window: true, concurrent: 'start-and-route', undoOnFailure: true, run: { on: 'newvps', script: 'systemctl start headscale' }, undo: { on: 'newvps', script: 'systemctl stop headscale' } };
/** what the clients see: the name, through each resolver, reaches `host` */
const served = (host: string): Step => ({
  id: 'verify', phase: 'verify', kind: 'probe', title: `clients reach ${host}`, window: true, endsWindow: true, intervalSeconds: 0.2, deadlineSeconds: 10,
  run: { on: 'operator', script: RESOLVERS.map((r) => `a=$(dig +short +time=1 +tries=1 @${r} ${NAME} A) && test "$(curl -sS --max-time 2 "http://$a:8080/healthz")" = ${host}`).join('\n') },
});

function runbook(lab: Lab, name: string, steps: Step[]): string {
  const def: RunbookDef = {
    formatVersion: 1, name, service: 'headscale', strategy: 'warm', from: 'l001', to: 'newvps', inputs: [],
    hosts: { l001: { name: 'l001', ssh: 'root@l001', address: ADDR.l001 }, newvps: { name: 'newvps', ssh: 'root@newvps', address: ADDR.newvps } },
    lock: { path: '/var/lib/migen/lock' }, steps,
  };
  const file = path.join(lab.dir, `${name}.mjs`);
  fs.writeFileSync(file, `import { main } from ${JSON.stringify(path.join(REPO, 'dist/runtime/index.js'))};\nconst runbook = ${JSON.stringify(def)};\nprocess.exitCode = await main(runbook, process.argv.slice(2));\n`);
  return file;
}

/** Runs a runbook as the operator; `on(line)` sees each output line as it comes. */
function run(lab: Lab, file: string, on: (line: string) => void = () => {}): Promise<{ code: number; out: string }> {
  const child = lab.operatorSpawn([process.execPath, file, '--yes', '--ssh-config', lab.sshConfig, '--root', lab.dir], { env: { NO_COLOR: '1' } });
  let out = '';
  const feed = (d: Buffer): void => { const s = d.toString(); out += s; for (const l of s.split('\n')) if (l) on(l); };
  child.stdout!.on('data', feed);
  child.stderr!.on('data', feed);
  return new Promise((res, rej) => { child.on('error', rej); child.on('close', (code) => res({ code: code ?? 1, out })); });
}

const report = (lab: Lab, name: string) => JSON.parse(fs.readFileSync(path.join(lab.dir, '.migen', name, 'report.json'), 'utf8')) as { result: string; steps: { id: string; status: string; ms: number }[]; window: { ms: number | null } };
const atAuthority = async (lab: Lab) => { const r = await resolve(lab, 'operator', ADDR.ns1, NAME); return `${r.value}/${r.ttl}`; };

beforeAll(async () => {
  const { lab } = ctx;
  auth = await setupDnsAuthority(lab, 'ns1', { zone: ZONE, records: [{ name: NAME, value: ADDR.l001, ttl: OLD_TTL }] });
  await setupResolver(lab, 'r1', { forwardZone: ZONE, to: auth.address });
  await setupResolver(lab, 'r2', { forwardZone: ZONE, to: auth.address, mode: 'forward' });
  // the TSIG key on l001, where dns.on (default old) runs the updates
  const key = fs.readFileSync(auth.operatorKeyFile, 'utf8');
  expect((await lab.exec('l001', `install -d -m 0700 /run/agenix && cat > ${KEY} && chmod 0400 ${KEY}`, { input: key })).code).toBe(0);
  for (const host of ['l001', 'newvps'] as const) {
    const listen = `${ADDR[host]}:8080`;
    await lab.defineUnit(host, 'headscale', { exec: ['/bin/bash', HEADSCALE_SH], env: { STATE_DIR: '/var/lib/headscale', LISTEN: listen }, ready: { http: `http://${listen}/healthz` } });
  }
  expect((await lab.exec('l001', 'systemctl start headscale')).code).toBe(0);
  // the stand-in made Headscale's noise key at its first start, as headscale does
  expect((await lab.exec('l001', 'grep -Eqx "privkey:[0-9a-f]{64}" /var/lib/headscale/noise_private.key')).code).toBe(0);
}, 60_000);

describe('the generated DNS steps against BIND and unbound', () => {
  let client: NameClient;

  test('lowered, waited out, switched while newvps starts: the run ends when both resolvers answer newvps, and every client asking them after it reaches newvps', async () => {
    const { lab } = ctx;
    const p = await planOf(lab, 'nsupdate.yaml', manifest(`      provider: { nsupdate: { server: ${ADDR.ns1}, keyFile: ${KEY}, zone: ${ZONE} } }\n`));
    // the resolvers hold the old record with its long TTL, as they would in production
    for (const r of RESOLVERS) expect((await resolve(lab, 'operator', r, NAME)).ttl).toBeGreaterThan(LOW_TTL);
    client = startNameClient(lab, { servers: RESOLVERS, name: NAME, port: 8080, intervalMs: 100, maxMs: 120_000 });
    const file = runbook(lab, 'dns-ok', [gen(p, 'dns-points-old'), gen(p, 'dns-lower-ttl'), gen(p, 'dns-ttl-waited'), stop, start, gen(p, 'dns-switch'), served('newvps')]);
    const r = await run(lab, file);
    const ended = Date.now();
    expect(r.code, r.out).toBe(0);
    const rep = report(lab, 'dns-ok');
    expect(rep.result).toBe('done');
    // the wait lasted at least one old TTL from the lowering (the step's own condition; the stamp is on l001)
    const lowered = Number((await lab.exec('l001', 'cat /var/lib/migen/headscale/dns-lowered')).stdout.trim());
    expect(Math.floor(ended / 1000) - lowered).toBeGreaterThanOrEqual(OLD_TTL);
    expect(await atAuthority(lab)).toBe(`${ADDR.newvps}/${LOW_TTL}`);
    for (const s of RESOLVERS) {
      const a = await resolve(lab, 'operator', s, NAME);
      expect([a.value, a.ttl! <= LOW_TTL]).toEqual([ADDR.newvps, true]);
    }
    // a client going by the name reached l001 before, newvps after, and never l001 once the run ended
    await new Promise((res) => setTimeout(res, 500));
    const samples = client.samples.filter((x) => x.ok);
    expect(samples[0]!.host).toBe('l001');
    expect(samples.filter((x) => x.t > ended).map((x) => x.host).filter((h) => h !== 'newvps')).toEqual([]);
    expect(samples.some((x) => x.t > ended && x.host === 'newvps')).toBe(true);
  }, 90_000);

  test('the switch\'s undo, as printed, points the record back; the resolvers follow within the lowered TTL', async () => {
    const { lab } = ctx;
    const p = await planOf(lab, 'nsupdate.yaml', manifest(`      provider: { nsupdate: { server: ${ADDR.ns1}, keyFile: ${KEY}, zone: ${ZONE} } }\n`));
    const undo = gen(p, 'dns-switch').undo!;
    expect('on' in undo && undo.on).toBe('l001');
    const r = await lab.exec('l001', `set -euo pipefail\n${'on' in undo ? undo.script : ''}`);
    expect(r.code, r.stderr).toBe(0);
    expect(await atAuthority(lab)).toBe(`${ADDR.l001}/${LOW_TTL}`);
    for (const s of RESOLVERS) await waitForAnswer(lab, 'operator', s, NAME, ADDR.l001, { timeoutMs: expiry(LOW_TTL) + 5000 });
  }, 60_000);

  test('a failure after the switch: the runtime rolls back, the record points at l001 again and l001 serves', async () => {
    const { lab } = ctx;
    const p = await planOf(lab, 'nsupdate.yaml', manifest(`      provider: { nsupdate: { server: ${ADDR.ns1}, keyFile: ${KEY}, zone: ${ZONE} } }\n`));
    await lab.exec('newvps', 'systemctl stop headscale');
    await lab.exec('l001', 'systemctl start headscale');
    // the TTL is already low and was lowered more than one old TTL ago: the wait passes at once
    const broken = { ...served('newvps'), id: 'verify', deadlineSeconds: 1, run: { on: 'operator', script: 'false' } } as Step;
    const file = runbook(lab, 'dns-fail', [gen(p, 'dns-points-old'), gen(p, 'dns-lower-ttl'), gen(p, 'dns-ttl-waited'), stop, start, gen(p, 'dns-switch'), broken]);
    const r = await run(lab, file);
    expect(r.code, r.out).toBe(3);
    const rep = report(lab, 'dns-fail');
    expect(rep.result).toBe('rolled-back');
    expect(rep.steps.filter((s) => s.status === 'undone').map((s) => s.id)).toEqual(['dns-switch', 'start-new', 'stop-old']);
    expect(await atAuthority(lab)).toBe(`${ADDR.l001}/${LOW_TTL}`);
    for (const s of RESOLVERS) await waitForAnswer(lab, 'operator', s, NAME, ADDR.l001, { timeoutMs: expiry(LOW_TTL) + 5000 });
    const back = Date.now();
    expect((await lab.exec('l001', 'systemctl is-active --quiet headscale')).code).toBe(0);
    expect((await lab.exec('newvps', 'systemctl is-active --quiet headscale')).code).not.toBe(0);
    await new Promise((res) => setTimeout(res, 500));
    expect(client.samples.filter((x) => x.ok && x.t > back).map((x) => x.host).filter((h) => h !== 'l001')).toEqual([]);
  }, 90_000);

  test('no provider: a person switches the record when the runbook asks; the check waits for it and for both resolvers; a rollback asks to switch back', async () => {
    const { lab } = ctx;
    const p = await planOf(lab, 'person.yaml', manifest(`      authority: ${ADDR.ns1}\n`));
    const sw = gen(p, 'dns-switch') as HandoffStep;
    expect(sw.run).toBeUndefined();
    await lab.exec('newvps', 'systemctl stop headscale');
    const broken = { ...served('newvps'), id: 'verify', deadlineSeconds: 1, run: { on: 'operator', script: 'false' } } as Step;
    const file = runbook(lab, 'dns-person', [stop, start, sw, served('newvps'), { ...broken, id: 'later', phase: 'verify', endsWindow: false } as Step]);
    const seen: { asked?: string; asksBack?: string } = {};
    const acted: Promise<void>[] = [];
    const r = await run(lab, file, (line) => {
      // the person acts on what the runbook prints, at their DNS provider (here: nsupdate with the zone's key)
      if (line.includes(`ACTION NEEDED: ${sw.instruction}`) && !seen.asked) {
        acted.push(atAuthority(lab).then(async (before) => { seen.asked = before; await auth.setRecord({ name: NAME, value: ADDR.newvps, ttl: LOW_TTL }); }));
      }
      if (line.includes(`ACTION NEEDED (rollback): ${sw.undoInstruction}`) && !seen.asksBack) {
        acted.push(atAuthority(lab).then(async (before) => { seen.asksBack = before; await auth.setRecord({ name: NAME, value: ADDR.l001, ttl: LOW_TTL }); }));
      }
    });
    await Promise.all(acted);
    expect(r.code, r.out).toBe(3);
    // when the runbook asked, nothing had switched yet; the switch step passed only after the person acted
    expect(seen).toEqual({ asked: `${ADDR.l001}/${LOW_TTL}`, asksBack: `${ADDR.newvps}/${LOW_TTL}` });
    const rep = report(lab, 'dns-person');
    expect(rep.steps.find((s) => s.id === 'verify')?.status).toBe('done'); // clients reached newvps through both resolvers
    expect(rep.steps.filter((s) => s.status === 'undone').map((s) => s.id)).toEqual(['dns-switch', 'start-new', 'stop-old']);
    expect(await atAuthority(lab)).toBe(`${ADDR.l001}/${LOW_TTL}`);
    await client.stop();
  }, 90_000);
});
