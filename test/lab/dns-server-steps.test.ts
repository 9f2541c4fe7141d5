/**
 * The generated steps of a DNS server's move (plan/handoffs.ts: manifest dnsServer:), run by
 * migen's runtime over ssh on lab hosts: the secondary server clients fall back to is asked before
 * the stop (from h003, the clients' side), and the verification asks h002 at the address clients
 * use, from h003. AdGuard Home is the lab's app with its DNS responder (a stand-in, see
 * test/lab/service/app.py); the secondary is another one on `sec`.
 * The whole generated runbook runs in test/e2e/w14.test.ts once the lab has the coordinator's stand-in.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, test } from 'vitest';
import { prepare } from '../../src/generator/pipeline.js';
import type { MigrationPlan } from '../../src/generator/plan/types.js';
import type { RunbookDef } from '../../src/runbook/def.js';
import type { Step } from '../../src/runbook/steps.js';
import { APP_PY, useLab, type Lab } from './lab.js';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const ADDR = { h003: '100.64.0.3', h002: '100.64.0.20', sec: '100.64.0.53' };
const ctx = useLab({ hosts: Object.entries(ADDR).map(([name, address]) => ({ name, address })) });

async function must(lab: Lab, host: string, script: string): Promise<void> {
  const r = await lab.exec(host, script);
  if (r.code !== 0) throw new Error(`${host}: ${script}: ${r.stderr}`);
}

let plan: MigrationPlan;
beforeAll(async () => {
  const { lab } = ctx;
  for (const host of ['h003', 'h002', 'sec'] as const) {
    await lab.defineUnit(host, 'adguardhome', {
      exec: ['/usr/bin/python3', APP_PY],
      env: { STATE_DIR: '/var/lib/private/AdGuardHome', LISTEN: `${ADDR[host]}:3000`, DNS_LISTEN: '0.0.0.0:53' },
      ready: { http: `http://${ADDR[host]}:3000/alive` },
    });
    await must(lab, host, 'install -d -m 0700 /var/lib/private && systemctl start adguardhome');
    await must(lab, host, `curl -fsS -o /dev/null -X POST --data 203.0.113.7 http://${ADDR[host]}:3000/dns/nixos.org`);
  }
  await must(lab, 'h002', 'systemctl stop adguardhome');
  // the example's manifest, with the lab's secondary in place of 1.1.1.1 (no network here)
  const text = fs.readFileSync(path.join(REPO, 'examples/homelab/migrations/adguardhome.yaml'), 'utf8').replace('secondary: [1.1.1.1]', `secondary: [${ADDR.sec}]`).replace('inventory: ../inventory.json\n', '');
  const f = path.join(lab.dir, 'adguardhome.yaml');
  fs.writeFileSync(f, text);
  plan = (await prepare([f], { inventory: path.join(REPO, 'examples/homelab/inventory.json') })).plans[0]!.migrations[0]!;
}, 60_000);

const gen = (id: string): Step => {
  const { fleet: _f, heartbeat: _h, ...s } = plan.steps.find((x) => x.id === id)! as Step & { fleet?: boolean; heartbeat?: unknown };
  return s as Step;
};
const stop: Step = { id: 'stop-old', phase: 'cutover', kind: 'command', title: 'stop on h003', window: true, stopsService: true, run: { on: 'h003', script: 'systemctl stop adguardhome' }, undo: { on: 'h003', script: 'systemctl start adguardhome' } };
const start: Step = { id: 'start-new', phase: 'cutover', kind: 'command', title: 'start on h002', window: true, undoOnFailure: true, run: { on: 'h002', script: 'systemctl start adguardhome' }, undo: { on: 'h002', script: 'systemctl stop adguardhome' } };

async function run(lab: Lab, name: string, steps: Step[]): Promise<{ code: number; out: string; report: { result: string; steps: { id: string; status: string }[]; window: { ms: number | null } } }> {
  const def: RunbookDef = {
    formatVersion: 1, name, service: 'adguardhome', strategy: 'cold', from: 'h003', to: 'h002', inputs: [],
    hosts: { h003: { name: 'h003', ssh: 'root@h003', address: ADDR.h003 }, h002: { name: 'h002', ssh: 'root@h002', address: ADDR.h002 } },
    lock: { path: '/var/lib/migen/lock' }, steps,
  };
  const file = path.join(lab.dir, `${name}.mjs`);
  fs.writeFileSync(file, `import { main } from ${JSON.stringify(path.join(REPO, 'dist/runtime/index.js'))};\nprocess.exitCode = await main(${JSON.stringify(def)}, process.argv.slice(2));\n`);
  const r = await lab.operator([process.execPath, file, '--yes', '--ssh-config', lab.sshConfig, '--root', lab.dir], { env: { NO_COLOR: '1' } });
  return { code: r.code, out: r.stdout + r.stderr, report: JSON.parse(fs.readFileSync(path.join(lab.dir, '.migen', name, 'report.json'), 'utf8')) };
}

describe('the generated steps of a DNS server\'s move (AdGuard Home)', () => {
  test('the secondary does not answer: the run stops before the primary is stopped', async () => {
    const { lab } = ctx;
    await must(lab, 'sec', 'systemctl stop adguardhome');
    // (the generated step retries for 30 s: a server that is only slow to answer is not refused)
    const r = await run(lab, 'agh-no-secondary', [{ ...gen('secondary-dns'), deadlineSeconds: 2 } as Step, stop, start, gen('verify-clients')]);
    expect(r.code, r.out).toBe(1);
    expect(r.report.steps.map((s) => `${s.id}:${s.status}`)).toEqual(['secondary-dns:failed']);
    expect(r.out).toMatch(new RegExp(`${ADDR.sec.replace(/\./g, '\\.')} does not answer nixos\\.org A`));
    expect((await lab.exec('h003', 'systemctl is-active --quiet adguardhome')).code).toBe(0);
  }, 60_000);

  test('with the secondary answering: stopped, started, and the window ends when h002 answers at the clients\' address, asked from h003', async () => {
    const { lab } = ctx;
    await must(lab, 'sec', 'systemctl start adguardhome');
    const r = await run(lab, 'agh-ok', [gen('secondary-dns'), stop, start, gen('verify-clients')]);
    expect(r.code, r.out).toBe(0);
    expect(r.report.result).toBe('done');
    expect(r.report.window.ms).not.toBeNull();
    const asked = gen('verify-clients');
    expect('on' in (asked as { run: { on: string } }).run && (asked as { run: { on: string } }).run.on).toBe('h003');
    expect((await lab.exec('h003', `dig +short +time=1 +tries=1 @${ADDR.h002} nixos.org`)).stdout.trim()).toBe('203.0.113.7');
  }, 60_000);

  test('the new host stopped answering: the client-side check fails the run and the rollback restarts h003', async () => {
    const { lab } = ctx;
    await must(lab, 'h002', 'systemctl stop adguardhome');
    await must(lab, 'h003', 'systemctl start adguardhome');
    const silent = { ...start, run: { on: 'h002', script: 'true' } } as Step; // "started", but it never answers
    const v = { ...gen('verify-clients'), deadlineSeconds: 1 } as Step;
    const r = await run(lab, 'agh-silent', [gen('secondary-dns'), stop, silent, v]);
    expect(r.code, r.out).toBe(3);
    expect(r.report.steps.filter((s) => s.status === 'undone').map((s) => s.id)).toEqual(['start-new', 'stop-old']);
    expect((await lab.exec('h003', 'systemctl is-active --quiet adguardhome')).code).toBe(0);
  }, 60_000);
});
