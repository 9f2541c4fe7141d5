// The planner for what lies outside the hosts (plan/dns.ts, plan/handoffs.ts): DNS records that
// move, a DNS server's clients, handoffs to people and other systems. Table-driven over manifests
// on the fixture fleet: where each step goes, what runs where, what is undone and what ends the
// window; then the scripts of the DNS steps read as a reviewer reads them.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { prepare } from '../../src/generator/pipeline.js';
import type { MigrationPlan } from '../../src/generator/plan/types.js';
import { hostsOfScript, scriptsOf, type HandoffStep, type Step } from '../../src/runbook/steps.js';
import { fleet } from '../fixtures/inventory.js';

const dir = mkdtempSync(path.join(tmpdir(), 'migen-outside-'));
const inventory = path.join(dir, 'inventory.json');
writeFileSync(inventory, JSON.stringify(fleet()));
let n = 0;
async function planOf(body: string): Promise<MigrationPlan> {
  const f = path.join(dir, `m${n++}.yaml`);
  writeFileSync(f, `version: 1\nmigrations:\n  demo:\n${body.trim().split('\n').map((l) => `    ${l}`).join('\n')}\n`);
  return (await prepare([f], { inventory })).plans[0]!.migrations[0]!;
}

const HS = 'service: headscale\nfrom: l001\nto: newvps\nstrategy: warm\nbackup: { none: true }';
const DNS = (extra = '') => `dns:\n  records:\n    - { name: headscale.joshuabell.xyz, old: 203.0.113.2, new: 203.0.113.30, ttl: 3600 }\n  resolvers: [1.1.1.1, 9.9.9.9]\n${extra}`;
const NSUPDATE = '  provider:\n    nsupdate: { server: 203.0.113.53, keyFile: /run/agenix/dns-key, zone: joshuabell.xyz }\n';
const AGH = 'service: adguardhome\nfrom: h003\nto: h002\nstrategy: cold\nbackup: { none: true }';

const ids = (p: MigrationPlan, where: (s: Step) => boolean = () => true) => p.steps.filter(where).map((s) => s.id);
const step = (p: MigrationPlan, id: string): Step => { const s = p.steps.find((x) => x.id === id); if (!s) throw new Error(`no step ${id} in ${ids(p).join(' ')}`); return s; };
const hosts = (s: Step) => scriptsOf(s).flatMap(hostsOfScript);
const text = (s: Step) => scriptsOf(s).map((x) => ('on' in x ? x.script : x.pipe.map((p) => p.script).join('\n'))).join('\n');

interface Want {
  /** step id -> [phase, window, fleet, concurrent group or null] */
  readonly at?: Record<string, [Step['phase'], boolean, boolean, string | null]>;
  /** these step ids, in this order, somewhere in the plan */
  readonly order?: readonly string[];
  readonly absent?: readonly string[];
  /** the step whose first success ends the window */
  readonly endsWindow?: string;
  readonly runsOn?: Record<string, string[]>;
  readonly check?: (p: MigrationPlan) => void;
}

const CASES: [string, { body: string; want: Want }][] = [
  ['headscale by DNS with nsupdate: no proxy route; TTL lowered first, waited out before the stop, switched with the start', {
    body: `${HS}\n${DNS(NSUPDATE)}`,
    want: {
      at: {
        'dns-points-old': ['preflight', false, false, null],
        'dns-lower-ttl': ['prepare', false, false, null],
        'dns-ttl-waited': ['sync', false, false, null],
        'start-new': ['cutover', true, true, 'start-and-route'],
        'dns-switch': ['cutover', true, true, 'start-and-route'],
      },
      order: ['dns-points-old', 'dns-lower-ttl', 'fence-new', 'sync-live', 'dns-ttl-waited', 'stop-old', 'start-new', 'dns-switch', 'unit-active', 'verify-1'],
      absent: ['route-new', 'backend-healthy', 'confirm-route', 'routes-l001'],
      endsWindow: 'verify-1',
      runsOn: { 'dns-lower-ttl': ['l001', 'l001'], 'dns-switch': ['l001', 'l001'], 'dns-ttl-waited': ['l001'] },
      check: (p) => {
        expect(p.proxy).toBeNull();
        expect(p.routes.moved).toEqual([]);
        expect(p.listen).toBeNull(); // no mesh listener: nothing proxies to newvps
        // the preset's default check asks the name at its new address, as clients will
        expect(text(step(p, 'verify-1'))).toContain("--resolve headscale.joshuabell.xyz:443:203.0.113.30 https://headscale.joshuabell.xyz/health");
        expect(p.window.basis).toMatch(/plus up to 60 s \(the lowered TTL\) until every resolver answers the new DNS record$/);
        expect(ids(p, (s) => s.phase === 'finalize')).toEqual(['finalize', 'dns-ttl', 'grace']);
      },
    },
  }],
  ['the old host\'s guard switches the record back too (the provider runs there)', {
    body: `${HS}\n${DNS(NSUPDATE)}`,
    want: {
      check: (p) => {
        const arm = text(step(p, 'guard-old'));
        const guard = arm.slice(arm.indexOf("<<'MIGEN_GUARD'"), arm.indexOf('\nMIGEN_GUARD\n'));
        expect(guard).toContain('update add headscale.joshuabell.xyz. 60 A 203.0.113.2');
        expect(guard.indexOf('update add headscale.joshuabell.xyz. 60 A 203.0.113.2')).toBeLessThan(guard.indexOf('systemctl start headscale'));
        // the revert must not exit before the restart
        const undo = step(p, 'dns-switch').undo!;
        expect('on' in undo && undo.script).not.toMatch(/\bexit 0\b/);
      },
    },
  }],
  ['dns.on: new: the provider and the checks run on the new host, and the plan says the guard cannot revert DNS', {
    body: `${HS}\n${DNS(`${NSUPDATE}  on: new\n`)}`,
    want: {
      runsOn: { 'dns-switch': ['newvps', 'newvps'], 'dns-points-old': ['newvps'] },
      check: (p) => {
        expect(text(step(p, 'guard-old'))).not.toContain('nsupdate');
        expect(p.warnings).toContainEqual(expect.stringMatching(/^The DNS changes run on newvps \(dns.on: new\): if newvps goes down in the window/));
      },
    },
  }],
  ['a person changes the records: the runbook prints each change and waits for its check', {
    body: `${HS}\n${DNS('  authority: 203.0.113.53\n')}`,
    want: {
      check: (p) => {
        for (const id of ['dns-lower-ttl', 'dns-switch']) {
          const s = step(p, id) as HandoffStep;
          expect(s.kind).toBe('handoff');
          expect(s.run).toBeUndefined();
        }
        const sw = step(p, 'dns-switch') as HandoffStep;
        expect(sw.instruction).toBe('Point headscale.joshuabell.xyz A at 203.0.113.30 (TTL 60 s)');
        expect(sw.undoInstruction).toBe('Point headscale.joshuabell.xyz A at 203.0.113.2 again');
        // its undo waits for the person (the switch's deadline), then fails
        expect('on' in sw.undo! && sw.undo.script).toMatch(/for i in \$\(seq 1 180\); do/);
        expect((step(p, 'dns-lower-ttl') as HandoffStep).deadlineSeconds).toBe(1800);
        expect(p.warnings).toContainEqual(expect.stringMatching(/^No DNS provider \(dns.provider\): a person lowers the TTL/));
      },
    },
  }],
  ['a provider command: called once per record with name, type, value and TTL', {
    body: `${HS}\n${DNS('  authority: 203.0.113.53\n  provider: { command: /usr/local/bin/set-record }\n  lowerTtl: { to: 30, aheadSeconds: 7200 }\n  deadlineSeconds: 300\n')}`,
    want: {
      check: (p) => {
        const sw = step(p, 'dns-switch') as HandoffStep;
        expect('on' in sw.run! && sw.run.script).toBe('/usr/local/bin/set-record headscale.joshuabell.xyz A 203.0.113.30 30');
        expect(sw.deadlineSeconds).toBe(300);
        expect('on' in sw.undo! && sw.undo.script.split('\n')[0]).toBe('/usr/local/bin/set-record headscale.joshuabell.xyz A 203.0.113.2 30');
        const wait = step(p, 'dns-ttl-waited');
        expect(text(wait)).toContain('left=$(( lowered + 7200 - $(date +%s) ))');
        expect(wait.kind === 'probe' && wait.deadlineSeconds).toBe(7200 + 30 + 60);
      },
    },
  }],
  ['without dns: headscale goes through the proxy, and the plan says why that is circular', {
    body: HS,
    want: {
      at: { 'route-new': ['cutover', true, true, 'start-and-route'] },
      absent: ['dns-switch', 'dns-lower-ttl'],
      check: (p) => expect(p.warnings).toContainEqual(expect.stringMatching(/^l001 would proxy headscale to newvps over the tailnet headscale itself coordinates/)),
    },
  }],
  ['AdGuard Home: the secondary proven before the stop, the clients\' side verified in the window, DHCP a handoff after it', {
    body: `${AGH}\ndnsServer: { query: nixos.org, secondary: [192.0.2.53, 1.1.1.1] }\nhandoffs:\n  - { id: dhcp, do: Point DHCP at h002, check: { command: "grep -q 100.64.0.20 /srv/dhcp.conf", on: old }, deadlineSeconds: 600 }`,
    want: {
      at: {
        'secondary-dns': ['sync', false, false, null],
        'verify-clients': ['verify', true, true, null],
        'handoff-dhcp': ['finalize', false, false, null],
      },
      order: ['secondary-dns', 'stop-old', 'start-new', 'unit-active', 'verify-clients', 'verified', 'confirm-old', 'handoff-dhcp', 'finalize'],
      endsWindow: 'verify-clients',
      runsOn: { 'secondary-dns': ['h003'], 'verify-clients': ['h003'], 'handoff-dhcp': ['h003'] },
      check: (p) => {
        expect(text(step(p, 'secondary-dns'))).toBe([
          "out=$(dig +short +time=2 +tries=1 @192.0.2.53 nixos.org A) && printf '%s\\n' \"$out\" | grep -q '^[^;]' || { echo '192.0.2.53 does not answer nixos.org A' >&2; exit 1; }",
          "out=$(dig +short +time=2 +tries=1 @1.1.1.1 nixos.org A) && printf '%s\\n' \"$out\" | grep -q '^[^;]' || { echo '1.1.1.1 does not answer nixos.org A' >&2; exit 1; }",
        ].join('\n'));
        expect(text(step(p, 'verify-clients'))).toContain('@100.64.0.20 nixos.org A');
        const d = step(p, 'handoff-dhcp') as HandoffStep;
        expect([d.instruction, d.deadlineSeconds, d.intervalSeconds, d.run]).toEqual(['Point DHCP at h002', 600, 5, undefined]);
        expect(p.warnings.filter((w) => /DHCP|secondary|clients' side/.test(w))).toEqual([]);
      },
    },
  }],
  ['AdGuard Home without them: the plan asks for each', {
    body: AGH,
    want: {
      absent: ['secondary-dns', 'verify-clients'],
      check: (p) => {
        for (const re of [/^LAN DNS fails during the window: give clients a secondary DNS server/, /^The verification does not ask from the clients' side/, /^DHCP must hand out h002's address after the move: declare the change as a handoff/]) {
          expect(p.warnings).toContainEqual(expect.stringMatching(re));
        }
      },
    },
  }],
  ['handoffs at each point: prepare, before the stop, in the window after the start (ending it without a fleet check), after the verification', {
    body: `service: custom\nunit: foo\nstate: [/var/lib/foo]\nfrom: h003\nto: h002\nstrategy: warm\nbackup: { none: true }\nhandoffs:\n  - { id: tell, do: Tell users, when: prepare, check: { command: "true" } }\n  - { id: fw, do: Open the firewall, when: before-stop, run: { command: "fw open", on: new }, check: { tcp: "100.64.0.20:22", on: old } }\n  - { id: lb, do: Point the load balancer at h002, when: after-start, check: { http: "http://100.64.0.20/", status: 204, on: old } }\n  - { do: Close the ticket, check: { dns: { name: foo.example.org, value: 100.64.0.20, resolvers: [192.0.2.1] } } }`,
    want: {
      at: { 'handoff-tell': ['prepare', false, false, null], 'handoff-fw': ['sync', false, false, null], 'handoff-lb': ['cutover', true, true, null], 'handoff-4': ['finalize', false, false, null] },
      order: ['handoff-tell', 'handoff-fw', 'stop-old', 'start-new', 'unit-active', 'handoff-lb', 'verified', 'handoff-4'],
      endsWindow: 'handoff-lb',
      runsOn: { 'handoff-fw': ['h002', 'h003'], 'handoff-lb': ['h003'], 'handoff-4': ['operator'] },
      check: (p) => {
        expect(text(step(p, 'handoff-fw'))).toBe("fw open\ntimeout 5 bash -c 'exec 3<>/dev/tcp/100.64.0.20/22'");
        expect(text(step(p, 'handoff-lb'))).toBe("test \"$(curl -sS -o /dev/null -w '%{http_code}' --max-time 5 http://100.64.0.20/)\" = 204");
        expect(text(step(p, 'handoff-4'))).toContain('[ "$got" = 100.64.0.20 ]');
        expect(step(p, 'handoff-fw').title).toBe('Open the firewall');
        expect(step(p, 'handoff-tell').title).toBe('a person: Tell users');
      },
    },
  }],
];

describe('plan: DNS records, DNS servers and handoffs', () => {
  it.each(CASES)('%s', async (_name, { body, want }) => {
    const p = await planOf(body);
    for (const [id, [phase, window, fleet, group]] of Object.entries(want.at ?? {})) {
      const s = step(p, id);
      expect([s.phase, s.window ?? false, s.fleet ?? false, s.concurrent ?? null], id).toEqual([phase, window, fleet, group]);
    }
    if (want.order) {
      const all = ids(p);
      const at = want.order.map((id) => all.indexOf(id));
      expect(at.every((i) => i >= 0), `${want.order.join(' ')} in ${all.join(' ')}`).toBe(true);
      expect(at).toEqual([...at].sort((a, b) => a - b));
    }
    for (const id of want.absent ?? []) expect(ids(p)).not.toContain(id);
    if (want.endsWindow) expect(ids(p, (s) => (s.kind === 'probe' || s.kind === 'handoff') && s.endsWindow === true)).toEqual([want.endsWindow]);
    for (const [id, on] of Object.entries(want.runsOn ?? {})) expect(hosts(step(p, id)), id).toEqual(on);
    want.check?.(p);
  });
});

describe('the DNS steps\' scripts', () => {
  it('compare exactly one value per record at every server, the authority without recursion, the TTL where it matters', async () => {
    const p = await planOf(`${HS}\n${DNS(NSUPDATE)}`);
    const lower = step(p, 'dns-lower-ttl') as HandoffStep;
    expect('on' in lower.run! && lower.run.script).toBe([
      'nsupdate -t 10 -k /run/agenix/dns-key <<\'MIGEN_DNS\'',
      'server 203.0.113.53',
      'zone joshuabell.xyz.',
      'update delete headscale.joshuabell.xyz. A',
      'update add headscale.joshuabell.xyz. 60 A 203.0.113.2',
      'send',
      'MIGEN_DNS',
    ].join('\n'));
    const check = 'on' in lower.check ? lower.check.script : '';
    expect(check).toContain('for r in 203.0.113.53; do');
    expect(check).toContain('dig +noall +answer +time=2 +tries=1 +norecurse @"$r" headscale.joshuabell.xyz A');
    expect(check).toContain('[ "$ttl" -le 60 ]');
    expect(check.trim().split('\n').pop()).toBe('mkdir -p /var/lib/migen/demo && { test -s /var/lib/migen/demo/dns-lowered || date +%s > /var/lib/migen/demo/dns-lowered; }');
    const sw = step(p, 'dns-switch') as HandoffStep;
    const swCheck = 'on' in sw.check ? sw.check.script : '';
    expect(swCheck).toContain('for r in 203.0.113.53; do');
    expect(swCheck).toContain('for r in 1.1.1.1 9.9.9.9; do');
    expect(swCheck).toContain('[ "$got" = 203.0.113.30 ]');
    expect(swCheck).not.toContain('ttl=');
    expect(step(p, 'dns-points-old').kind === 'check' && text(step(p, 'dns-points-old'))).toMatch(/^test -r \/run\/agenix\/dns-key \|\| /);
  });

  it('a CNAME is set with a trailing dot and compared without one', async () => {
    const p = await planOf(`${HS}\ndns:\n  records:\n    - { name: headscale.joshuabell.xyz, type: CNAME, old: l001.example.org, new: vps.example.org., ttl: 300 }\n  resolvers: [1.1.1.1]\n${NSUPDATE}`);
    const sw = step(p, 'dns-switch') as HandoffStep;
    expect('on' in sw.run! && sw.run.script).toContain('update add headscale.joshuabell.xyz. 60 CNAME vps.example.org.\n');
    expect('on' in sw.check && sw.check.script).toContain('[ "$got" = vps.example.org ]');
    // no default check at a CNAME's new value (curl's --resolve takes an address)
    expect(p.verify).toEqual([]);
  });
});
