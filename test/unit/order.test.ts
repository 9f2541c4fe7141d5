// The order of `migen run --all` (generator/plan/order.ts), table-driven, plus properties over
// random fleets: declared edges respected, the SSO service last unless declared otherwise, no
// group with two migrations on one host, every migration as early as that allows.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { runOrder, SSO_REASON, type OrderItem } from '../../src/generator/plan/order.js';

const m = (name: string, hosts: string[], after: string[] = [], sso = false): OrderItem => ({ name, hosts, after, sso });
// The example fleet's migrations (hosts: old, new, proxy).
const forgejo = m('forgejo', ['h001', 'h002', 'o001']);
const zitadel = m('zitadel', ['h001', 'h002', 'o001'], [], true);
const vaultwarden = m('vaultwarden', ['o001', 'h002']);
const headscale = m('headscale', ['l001', 'newvps']);
const adguardhome = m('adguardhome', ['h003', 'h002']);

const CASES: [string, { given: OrderItem[]; groups: string[][]; waits?: Record<string, string>; missing?: { name: string; needs: string }[] }][] = [
  ['one migration', { given: [forgejo], groups: [['forgejo']], waits: {} }],
  ['no shared host: at once', { given: [headscale, adguardhome], groups: [['adguardhome', 'headscale']], waits: {} }],
  ['a shared host: one after the other, by name', { given: [adguardhome, vaultwarden], groups: [['adguardhome'], ['vaultwarden']], waits: { vaultwarden: 'shares h002 with adguardhome' } }],
  ['declared after: waits though no host is shared', { given: [m('b', ['h2'], ['a']), m('a', ['h1'])], groups: [['a'], ['b']], waits: { b: 'after a (declared)' } }],
  ['evacuating h001: Forgejo first, Zitadel (SSO) last', { given: [zitadel, forgejo], groups: [['forgejo'], ['zitadel']], waits: { zitadel: `after forgejo: ${SSO_REASON}` } }],
  ['the SSO service after every other, also one on other hosts', {
    given: [zitadel, headscale, m('x', ['h9'])], groups: [['headscale', 'x'], ['zitadel']], waits: { zitadel: `after headscale, x: ${SSO_REASON}` },
  }],
  ['declared otherwise: a migration after the SSO service runs after it, the rest before it', {
    given: [m('app', ['h5'], ['zitadel']), zitadel, m('other', ['h6'])], groups: [['other'], ['zitadel'], ['app']],
    waits: { zitadel: `after other: ${SSO_REASON}`, app: 'after zitadel (declared)' },
  }],
  ['declared otherwise, transitively: what runs after a migration after the SSO service is not moved before it', {
    given: [m('late', ['h7'], ['app']), m('app', ['h5'], ['zitadel']), zitadel], groups: [['zitadel'], ['app'], ['late']],
    waits: { app: 'after zitadel (declared)', late: 'after app (declared)' },
  }],
  ['two SSO services: both last, not ordered between themselves (here they share hosts)', {
    given: [m('sso-b', ['h1'], [], true), m('sso-a', ['h1'], [], true), m('app', ['h2'])], groups: [['app'], ['sso-a'], ['sso-b']],
    waits: { 'sso-a': `after app: ${SSO_REASON}`, 'sso-b': 'shares h1 with sso-a' },
  }],
  ['greedy by name: a group takes every ready migration whose hosts are still free', {
    given: [m('c', ['h3', 'h4']), m('b', ['h2', 'h3']), m('a', ['h1', 'h2'])], groups: [['a', 'c'], ['b']], waits: { b: 'shares h2 with a' },
  }],
  ['a declared and an SSO predecessor in the group before', {
    given: [m('s', ['h1'], ['a'], true), m('a', ['h2']), m('b', ['h3'])], groups: [['a', 'b'], ['s']], waits: { s: `after a (declared); after b: ${SSO_REASON}` },
  }],
  ['a predecessor that is not among the migrations (finished, or not in this run) is reported, not waited for', {
    given: [m('b', ['h2'], ['gone'])], groups: [['b']], waits: {}, missing: [{ name: 'b', needs: 'gone' }],
  }],
  ['the example fleet', {
    given: [forgejo, zitadel, vaultwarden, headscale, adguardhome],
    groups: [['adguardhome', 'headscale'], ['forgejo'], ['vaultwarden'], ['zitadel']],
    waits: { forgejo: 'shares h002 with adguardhome', vaultwarden: 'shares o001 with forgejo', zitadel: `after adguardhome, forgejo, headscale, vaultwarden: ${SSO_REASON}` },
  }],
];

describe('run order', () => {
  it.each(CASES)('%s', (_name, c) => {
    const r = runOrder(c.given);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.order.groups).toEqual(c.groups);
    if (c.waits) expect(r.order.waits).toEqual(c.waits);
    expect(r.order.missing).toEqual(c.missing ?? []);
    // the same, whatever order the migrations come in
    expect(runOrder([...c.given].reverse())).toEqual(r);
  });

  it.each([
    ['two migrations after each other', [m('a', ['h1'], ['b']), m('b', ['h2'], ['a'])], ['a', 'b', 'a']],
    ['a cycle of three', [m('a', ['h1'], ['c']), m('b', ['h2'], ['a']), m('c', ['h3'], ['b'])], ['a', 'b', 'c', 'a']],
  ] as const)('refuses %s, naming the cycle in order', (_name, given, cycle) => {
    expect(runOrder(given as unknown as OrderItem[])).toEqual({ ok: false, cycle });
  });

  it('two SSO services and migrations declared after each: no SSO edge closes a cycle', () => {
    const r = runOrder([m('s1', ['h1'], [], true), m('s2', ['h2'], [], true), m('a', ['h3'], ['s1']), m('b', ['h4'], ['s2'])]);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    const at = new Map(r.order.groups.flatMap((g, i) => g.map((n) => [n, i] as const)));
    for (const e of r.order.edges) expect(at.get(e.before)!).toBeLessThan(at.get(e.after)!);
    // s1 first takes b before it; s2 then already precedes a (through b and s1), so a stays after s2
    expect(r.order.groups).toEqual([['s2'], ['b'], ['s1'], ['a']]);
  });

  it('edges say why: declared, or the SSO service last', () => {
    const r = runOrder([m('app', ['h5'], ['zitadel']), zitadel, forgejo]);
    expect(r.ok && r.order.edges).toEqual([
      { before: 'zitadel', after: 'app', why: 'declared' },
      { before: 'forgejo', after: 'zitadel', why: 'sso' },
    ]);
  });
});

// Random fleets: up to 8 migrations over 6 hosts, declared edges only from earlier to later names (no cycle), some SSO.
const fleetArb = fc.integer({ min: 1, max: 8 }).chain((n) => fc.tuple(
  ...Array.from({ length: n }, (_, i) => fc.record({
    hosts: fc.uniqueArray(fc.constantFrom('h1', 'h2', 'h3', 'h4', 'h5', 'h6'), { minLength: 1, maxLength: 3 }),
    after: fc.uniqueArray(fc.integer({ min: 0, max: Math.max(0, i - 1) }), { maxLength: i === 0 ? 0 : 2 }),
    sso: fc.boolean().map((b) => b && i % 3 === 2),
  }).map((x) => m(`m${i}`, x.hosts, x.after.filter((k) => k < i).map((k) => `m${k}`), x.sso))),
));

describe('run order: properties', () => {
  it('every migration once; declared and SSO edges respected; no host twice in a group; each as early as allowed', () => {
    fc.assert(fc.property(fleetArb, (items) => {
      const r = runOrder(items);
      if (!r.ok) return false;
      const { groups, edges, waits } = r.order;
      const at = new Map(groups.flatMap((g, i) => g.map((n) => [n, i] as const)));
      expect([...at.keys()].sort()).toEqual(items.map((i) => i.name).sort());
      for (const g of groups) expect(g.length).toBeGreaterThan(0);
      for (const i of items) for (const p of i.after) expect(at.get(p)!).toBeLessThan(at.get(i.name)!);
      for (const e of edges) expect(at.get(e.before)!).toBeLessThan(at.get(e.after)!);
      // an SSO service comes after every other migration that does not run after it (by the order's edges)
      const runsAfter = (x: string, y: string): boolean => edges.some((e) => e.after === x && (e.before === y || runsAfter(e.before, y)));
      for (const s of items.filter((i) => i.sso)) {
        for (const x of items.filter((i) => !i.sso && !runsAfter(i.name, s.name))) expect(at.get(x.name)!).toBeLessThan(at.get(s.name)!);
      }
      for (const g of groups) {
        const hosts = g.flatMap((n) => items.find((i) => i.name === n)!.hosts);
        expect(new Set(hosts).size).toBe(hosts.length);
      }
      // as early as allowed: in group g > 0 because of a predecessor in g - 1, or a host shared with a migration of g - 1
      for (const i of items) {
        const g = at.get(i.name)!;
        if (g === 0) continue;
        expect(waits[i.name]).toBeTruthy();
        const preds = edges.filter((e) => e.after === i.name).map((e) => e.before);
        const clash = groups[g - 1]!.some((o) => items.find((x) => x.name === o)!.hosts.some((h) => i.hosts.includes(h)));
        expect(preds.some((p) => at.get(p) === g - 1) || clash).toBe(true);
      }
      return true;
    }), { numRuns: 300 });
  });
});
