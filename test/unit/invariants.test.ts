// What every plan must hold, whatever its strategy, copy mode and proxy: checked over the
// example's migrations and variants of them (table-driven: [name, manifest]).
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { prepare } from '../../src/generator/pipeline.js';
import type { MigrationPlan } from '../../src/generator/plan/types.js';
import { hostsOfScript, scriptsOf, type Step } from '../../src/runbook/steps.js';
import { fleet } from '../fixtures/inventory.js';

const dir = mkdtempSync(path.join(tmpdir(), 'migen-inv-'));
const inventory = path.join(dir, 'inventory.json');
writeFileSync(inventory, JSON.stringify(fleet(), null, 2));

const m = (body: string): string => `version: 1\nmigrations:\n  demo:\n${body.trim().split('\n').map((l) => `    ${l}`).join('\n')}\n`;
const CASES: [string, string][] = [
  ['warm behind the proxy (forgejo, container)', m('service: forgejo\nfrom: h001\nto: h002\nstrategy: warm\nbackup: { none: true }')],
  ['warm, the old host is the proxy (vaultwarden)', m('service: vaultwarden\nfrom: o001\nto: h002\nstrategy: warm\nbackup: { restic: { repository: /backup/o001 } }')],
  ['warm, pushed by the old host', m('service: forgejo\nfrom: h001\nto: h002\nstrategy: warm\nbackup: { none: true }\nsync: { mode: push }')],
  ['cold, relayed through the operator', m('service: forgejo\nfrom: h001\nto: h002\nstrategy: cold\nbackup: { none: true }\nsync: { mode: relay }')],
  ['cold without a proxy (adguardhome)', m('service: adguardhome\nfrom: h003\nto: h002\nstrategy: cold\nbackup: { none: true }')],
  ['hot (zitadel, PostgreSQL in the container)', m('service: zitadel\nfrom: h001\nto: h002\nstrategy: hot\nbackup: { none: true }\ndatabase: { engine: postgresql, databases: [zitadel, other] }')],
  ['headscale by DNS (nsupdate; the switch with the start, no proxy)', m('service: headscale\nfrom: l001\nto: newvps\nstrategy: warm\nbackup: { none: true }\ndns:\n  records: [{ name: headscale.joshuabell.xyz, old: 203.0.113.2, new: 203.0.113.30, ttl: 600 }]\n  resolvers: [1.1.1.1, 9.9.9.9]\n  provider: { nsupdate: { server: 203.0.113.53, keyFile: /run/agenix/dns-key } }')],
  ['adguardhome with its clients\' side and a DHCP handoff', m('service: adguardhome\nfrom: h003\nto: h002\nstrategy: cold\nbackup: { none: true }\ndnsServer: { query: nixos.org, secondary: [1.1.1.1] }\nhandoffs:\n  - { do: DHCP, check: { command: "true", on: old } }')],
  ['custom unit with maintenance commands', m('service: custom\nunit: foo\nstate: [/var/lib/foo]\nfrom: h003\nto: h002\nstrategy: warm\nbackup: { none: true }\nmaintenance: { on: "touch /var/lib/foo/.maint", off: "rm -f /var/lib/foo/.maint" }')],
];

async function planOf(text: string, name: string): Promise<MigrationPlan> {
  const f = path.join(dir, `${name.replace(/\W+/g, '-')}.yaml`);
  writeFileSync(f, text);
  return (await prepare([f], { inventory })).plans[0]!.migrations[0]!;
}

const ids = (steps: readonly Step[]): string[] => steps.map((s) => s.id);

describe('plan invariants', () => {
  it.each(CASES)('%s', async (name, text) => {
    const p = await planOf(text, name);
    const steps = p.steps;
    // ids are unique and the phases come in order
    expect(new Set(ids(steps)).size).toBe(steps.length);
    const order = ['preflight', 'prepare', 'sync', 'cutover', 'verify', 'finalize'];
    const phases = steps.map((s) => order.indexOf(s.phase));
    expect(phases).toEqual([...phases].sort((a, b) => a - b));
    // the window: it starts at the one step that stops the service, every step after it up to
    // the last verification is inside it, and nothing before it is
    const stops = steps.filter((s) => s.stopsService);
    expect(ids(stops)).toEqual(['stop-old']);
    const first = steps.findIndex((s) => s.window);
    expect(steps[first]!.id).toBe('stop-old');
    const last = steps.map((s) => s.window === true).lastIndexOf(true);
    expect(steps.slice(first, last + 1).filter((s) => !s.window).map((s) => s.id)).toEqual([]);
    expect(steps.slice(first).every((s) => s.phase === 'cutover' || s.phase === 'verify' || s.phase === 'finalize')).toBe(true);
    // what ends the window is a retried check inside it
    const enders = steps.filter((s) => (s.kind === 'probe' || s.kind === 'handoff') && s.endsWindow);
    for (const e of enders) expect(e.window).toBe(true);
    expect(enders.length).toBe(1);
    expect(enders[0]).toBe(steps.filter((s) => s.window).pop());
    // the stop, the start and the route switch can each be undone; the start and the switch also
    // when they fail half-way
    expect(steps.find((s) => s.id === 'stop-old')!.undo).toBeTruthy();
    const start = steps.find((s) => s.id === 'start-new')!;
    expect([Boolean(start.undo), start.undoOnFailure]).toEqual([true, true]);
    const route = steps.find((s) => s.id === 'route-new');
    expect(Boolean(route)).toBe(p.proxy !== null && p.routes.moved.length > 0);
    if (route) expect([Boolean(route.undo), route.undoOnFailure, route.concurrent]).toEqual([true, true, start.concurrent]);
    // every undo runs on the host its step changed
    for (const s of steps.filter((x) => x.undo)) {
      const hosts = new Set(scriptsOf(s).flatMap(hostsOfScript));
      for (const h of hostsOfScript(s.undo!)) expect(hosts.has(h) || h === p.to.name, `${s.id} undone on ${h}`).toBe(true);
    }
    // the service never runs on both hosts: the start comes after the stop and after every check of the copy
    const at = (id: string): number => steps.findIndex((s) => s.id === id);
    expect(at('start-new')).toBeGreaterThan(at('stop-old'));
    for (const s of steps.filter((x) => x.phase === 'cutover' && (x.kind === 'check' || x.kind === 'compare'))) expect(at(s.id), s.id).toBeLessThan(at('start-new'));
    // a group runs at once: its steps are adjacent, in one phase, all inside or all outside the window
    const groups = new Map<string, Step[]>();
    for (const s of steps) if (s.concurrent) groups.set(s.concurrent, [...(groups.get(s.concurrent) ?? []), s]);
    for (const [g, members] of groups) {
      const idx = members.map((s) => at(s.id));
      expect(idx, g).toEqual(idx.map((_, k) => idx[0]! + k));
      expect(new Set(members.map((s) => `${s.phase}/${s.window ?? false}`)).size, g).toBe(1);
    }
    // nothing outside the operator's machine deploys, and only prepare deploys
    for (const s of steps.filter((x) => x.id.startsWith('deploy-'))) expect([s.phase, hostsOfScript((s as Extract<Step, { kind: 'command' }>).run)]).toEqual(['prepare', ['operator']]);
  });
});
