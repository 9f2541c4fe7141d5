// Route resolution (model/routes.ts), table-driven: which proxy serves the moved domains, which
// locations move (ports and paths kept), which stay on the old address, and what is refused.
import { describe, expect, it } from 'vitest';
import { preset } from '../../src/generator/model/catalog.js';
import { resolveRoutes } from '../../src/generator/model/routes.js';
import type { Inventory, Manifest, MigrationSpec } from '../../src/generator/types.js';
import { fleet, host } from '../fixtures/inventory.js';

const vh = (locations: Record<string, string | null>) => ({ locations: Object.fromEntries(Object.entries(locations).map(([k, v]) => [k, { proxyPass: v, recommendedProxySettings: true }])) });
const withProxy = (virtualHosts: Inventory['hosts'][string]['nginx']['virtualHosts'], extra: Inventory['hosts'] = {}): Inventory => {
  const f = fleet();
  return { ...f, hosts: { ...f.hosts, o001: { ...f.hosts.o001!, nginx: { enable: true, virtualHosts } }, ...extra } };
};

type Case = [string, { inventory: Inventory; m: Partial<MigrationSpec>; proxy?: string; want: { proxy: string | null; moved?: [string, string, string, string][]; staying?: [string, string, string][]; findings?: RegExp[] } }];

const forgejo: Partial<MigrationSpec> = { service: 'forgejo', from: 'h001', to: 'h002', strategy: 'warm' };

const CASES: Case[] = [
  ['the preset subdomain finds git.* on the one proxy; every other vhost on the old address stays', {
    inventory: fleet(), m: forgejo,
    want: {
      proxy: 'o001',
      moved: [['git.joshuabell.xyz', '/', 'http://100.64.0.13', 'http://100.64.0.20']],
      staying: [['chat.joshuabell.xyz', '/', 'http://100.64.0.13'], ['llm.joshuabell.xyz', '/', 'http://100.64.0.13:8095'], ['notes.joshuabell.xyz', '/', 'http://100.64.0.13'], ['sec.joshuabell.xyz', '/', 'http://100.64.0.13'], ['sso.joshuabell.xyz', '/', 'http://100.64.0.13']],
    },
  }],
  ['ports and paths of the backend are kept', {
    inventory: withProxy({ 'git.example.org': vh({ '/': 'http://100.64.0.13:3000/forgejo/', '/static': null }) }), m: { ...forgejo, domains: ['git.example.org'] },
    want: { proxy: 'o001', moved: [['git.example.org', '/', 'http://100.64.0.13:3000/forgejo/', 'http://100.64.0.20:3000/forgejo/']], staying: [] },
  }],
  ['every location of a moved vhost that points at the old host moves; others stay as they are', {
    inventory: withProxy({ 'git.example.org': vh({ '/': 'http://100.64.0.13:3000', '/ci': 'http://100.64.0.9:8080', '/api': 'http://h001:3000' }) }), m: { ...forgejo, domains: ['git.example.org'] },
    want: { proxy: 'o001', moved: [['git.example.org', '/', 'http://100.64.0.13:3000', 'http://100.64.0.20:3000'], ['git.example.org', '/api', 'http://h001:3000', 'http://100.64.0.20:3000']], staying: [] },
  }],
  ['loopback backends mean the old host only when the proxy is the old host', {
    inventory: fleet(), m: { service: 'vaultwarden', from: 'o001', to: 'h002', strategy: 'warm' },
    want: { proxy: 'o001', moved: [['vault.joshuabell.xyz', '/', 'http://127.0.0.1:8222', 'http://100.64.0.20:8222']], staying: [] },
  }],
  ['no vhost of the preset subdomain points at the old host: nothing moves, no error', {
    inventory: fleet(), m: { ...forgejo, from: 'h003', to: 'h002' },
    want: { proxy: null, moved: [], staying: [] },
  }],
  ['an explicit domain that no nginx serves is refused, naming the valid ones', {
    inventory: fleet(), m: { ...forgejo, domains: ['nope.example.org'] },
    want: { proxy: null, findings: [/domain nope\.example\.org is not a virtual host of any nginx in the inventory; valid: chat\.joshuabell\.xyz, /] },
  }],
  ['a domain served by two proxies needs the proxy named', {
    inventory: withProxy({ 'git.joshuabell.xyz': vh({ '/': 'http://100.64.0.13' }) }, { l001: host('l001', { address: '100.64.0.2', services: ['nginx'], nginx: { enable: true, virtualHosts: { 'git.joshuabell.xyz': vh({ '/': 'http://100.64.0.13' }) } } }) }),
    m: { ...forgejo, domains: ['git.joshuabell.xyz'] },
    want: { proxy: null, findings: [/served by several hosts \(l001, o001\); name the proxy with the top-level "proxy:" field/] },
  }],
  ['with the proxy named, the same fleet resolves', {
    inventory: withProxy({ 'git.joshuabell.xyz': vh({ '/': 'http://100.64.0.13' }) }, { l001: host('l001', { address: '100.64.0.2', services: ['nginx'], nginx: { enable: true, virtualHosts: { 'git.joshuabell.xyz': vh({ '/': 'http://100.64.0.13' }) } } }) }),
    m: { ...forgejo, domains: ['git.joshuabell.xyz'] }, proxy: 'l001',
    want: { proxy: 'l001', moved: [['git.joshuabell.xyz', '/', 'http://100.64.0.13', 'http://100.64.0.20']], staying: [] },
  }],
  ['a domain that points elsewhere than the old host is refused ("is from right?")', {
    inventory: withProxy({ 'git.example.org': vh({ '/': 'http://100.64.0.9:3000' }) }), m: { ...forgejo, domains: ['git.example.org'] },
    want: { proxy: 'o001', findings: [/points at http:\/\/100\.64\.0\.9:3000, not at the old host h001 \(100\.64\.0\.13\); is "from" right\?/] },
  }],
];

describe('route resolution', () => {
  it.each(CASES)('%s', (_name, { inventory, m, proxy, want }) => {
    const manifest: Manifest = { version: 1, ...(proxy ? { proxy } : {}), migrations: { x: m as MigrationSpec } };
    const r = resolveRoutes(manifest, inventory, 'x', m as MigrationSpec, preset(m.service!));
    expect(r.findings.map((f) => f.message)).toEqual((want.findings ?? []).map((re) => expect.stringMatching(re)));
    if (want.findings) return;
    expect(r.proxy).toBe(want.proxy);
    expect(r.moved.map((x) => [x.domain, x.location, x.from, x.to])).toEqual(want.moved);
    expect(r.staying.map((x) => [x.domain, x.location, x.proxyPass])).toEqual(want.staying);
  });
});
