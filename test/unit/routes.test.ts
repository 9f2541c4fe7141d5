// Route resolution (model/routes.ts), table-driven: which proxy serves the moved domains, which
// locations move (ports and paths kept), which stay on the old address, and what is refused.
import { describe, expect, it } from 'vitest';
import { preset } from '../../src/generator/model/catalog.js';
import { resolveRoutes } from '../../src/generator/model/routes.js';
import type { Inventory, Manifest, MigrationSpec } from '../../src/generator/types.js';
import { container, fleet, host, listener, loc, vhost } from '../fixtures/inventory.js';

const vh = (locations: Record<string, string | null>, extraConfig = '') => vhost(Object.fromEntries(Object.entries(locations).map(([k, v]) => [k, loc(v)])), extraConfig);
type Vhosts = Inventory['hosts'][string]['nginx']['virtualHosts'];
type Upstreams = Inventory['hosts'][string]['nginx']['upstreams'];
const withProxy = (virtualHosts: Vhosts, extra: Inventory['hosts'] = {}, upstreams: Upstreams = {}): Inventory => {
  const f = fleet();
  return { ...f, hosts: { ...f.hosts, o001: { ...f.hosts.o001!, nginx: { enable: true, virtualHosts, upstreams } }, ...extra } };
};
/** h001 as the inventory has it once Forgejo's container listens on 3000 (its PostgreSQL on 5433). */
const listening = (inv: Inventory, over: Partial<Inventory['hosts'][string]> = {}): Inventory => ({
  ...inv,
  hosts: { ...inv.hosts, h001: { ...inv.hosts.h001!, ...over, containers: { ...inv.hosts.h001!.containers, forgejo: container(['forgejo', 'postgresql'], { listen: [listener('forgejo', 3000), listener('postgresql', 5433, ['localhost'])] }) } } },
});
const server = (params: Record<string, boolean | number | string> = {}) => ({ backup: false, ...params });

type Case = [string, { inventory: Inventory; m: Partial<MigrationSpec>; proxy?: string; want: { proxy: string | null; moved?: [string, string, string, string][]; via?: string[]; backend?: string[]; staying?: [string, string, string][]; findings?: RegExp[]; stale?: [string[], number[]] } }];

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
    inventory: withProxy({ 'git.joshuabell.xyz': vh({ '/': 'http://100.64.0.13' }) }, { l001: host('l001', { address: '100.64.0.2', services: ['nginx'], nginx: { enable: true, upstreams: {}, virtualHosts: { 'git.joshuabell.xyz': vh({ '/': 'http://100.64.0.13' }) } } }) }),
    m: { ...forgejo, domains: ['git.joshuabell.xyz'] },
    want: { proxy: null, findings: [/served by several hosts \(l001, o001\); name the proxy with the top-level "proxy:" field/] },
  }],
  ['with the proxy named, the same fleet resolves', {
    inventory: withProxy({ 'git.joshuabell.xyz': vh({ '/': 'http://100.64.0.13' }) }, { l001: host('l001', { address: '100.64.0.2', services: ['nginx'], nginx: { enable: true, upstreams: {}, virtualHosts: { 'git.joshuabell.xyz': vh({ '/': 'http://100.64.0.13' }) } } }) }),
    m: { ...forgejo, domains: ['git.joshuabell.xyz'] }, proxy: 'l001',
    want: { proxy: 'l001', moved: [['git.joshuabell.xyz', '/', 'http://100.64.0.13', 'http://100.64.0.20']], staying: [] },
  }],
  ['a domain that points elsewhere than the old host is refused ("is from right?")', {
    inventory: withProxy({ 'git.example.org': vh({ '/': 'http://100.64.0.9:3000' }) }), m: { ...forgejo, domains: ['git.example.org'] },
    want: { proxy: 'o001', findings: [/points at http:\/\/100\.64\.0\.9:3000, not at the old host h001 \(100\.64\.0\.13\); is "from" right\?/] },
  }],
  // nginx reads a proxy_pass host as an upstream's name first
  ['a location naming an upstream whose servers are the old host\'s: the upstream moves, keeping its server parameters', {
    inventory: withProxy({ 'vault.joshuabell.xyz': vh({ '/': 'http://vaultwarden' }) }, {}, { vaultwarden: { extraConfig: 'keepalive 8;', servers: { '127.0.0.1:8222': server({ max_fails: 3 }) } } }),
    m: { service: 'vaultwarden', from: 'o001', to: 'h002', strategy: 'warm' },
    want: { proxy: 'o001', moved: [['vault.joshuabell.xyz', '/', 'upstream vaultwarden: 127.0.0.1:8222', 'upstream vaultwarden: 100.64.0.20:8222']], via: ['upstream'], backend: ['http://100.64.0.20:8222'], staying: [] },
  }],
  ['an upstream shared with a vhost that does not move is refused, naming it', {
    inventory: withProxy({ 'vault.joshuabell.xyz': vh({ '/': 'http://vaultwarden' }), 'pw.example.org': vh({ '/': 'http://vaultwarden/' }) }, {}, { vaultwarden: { extraConfig: '', servers: { '127.0.0.1:8222': server() } } }),
    m: { service: 'vaultwarden', from: 'o001', to: 'h002', strategy: 'warm' },
    want: { proxy: 'o001', findings: [/^vault\.joshuabell\.xyz location \/ on o001 proxies to upstream vaultwarden, which pw\.example\.org location \/ also uses: moving the upstream would move it too; add pw\.example\.org to domains, or give vault\.joshuabell\.xyz an upstream of its own$/] },
  }],
  ['an upstream with servers elsewhere too is refused', {
    inventory: withProxy({ 'vault.joshuabell.xyz': vh({ '/': 'http://vaultwarden' }) }, {}, { vaultwarden: { extraConfig: '', servers: { '127.0.0.1:8222': server(), '100.64.0.9:8222': server({ backup: true }) } } }),
    m: { service: 'vaultwarden', from: 'o001', to: 'h002', strategy: 'warm' },
    want: { proxy: 'o001', findings: [/proxies to upstream vaultwarden, whose servers are 100\.64\.0\.9:8222, 127\.0\.0\.1:8222: only some are o001's, and migen moves a single backend/] },
  }],
  ['a proxy_pass in a location\'s extraConfig (a websocket path) moves with the proxyPass of /', {
    inventory: withProxy({ 'vault.joshuabell.xyz': vhost({ '/': loc('http://127.0.0.1:8222'), '/notifications/hub': loc(null, { extraConfig: 'proxy_http_version 1.1;\nproxy_pass http://127.0.0.1:3012;\n' }) }) }),
    m: { service: 'vaultwarden', from: 'o001', to: 'h002', strategy: 'warm' },
    want: { proxy: 'o001', moved: [['vault.joshuabell.xyz', '/', 'http://127.0.0.1:8222', 'http://100.64.0.20:8222'], ['vault.joshuabell.xyz', '/notifications/hub', 'http://127.0.0.1:3012', 'http://100.64.0.20:3012']], via: ['proxyPass', 'extraConfig'], staying: [] },
  }],
  ['a proxy_pass in a nested location of the vhost\'s extraConfig moves, named by that location', {
    inventory: withProxy({ 'vault.joshuabell.xyz': vh({ '/': 'http://127.0.0.1:8222' }, 'location /ws {\n  # proxy_pass http://127.0.0.1:9;\n  proxy_pass http://127.0.0.1:3012;\n}\n') }),
    m: { service: 'vaultwarden', from: 'o001', to: 'h002', strategy: 'warm' },
    want: { proxy: 'o001', moved: [['vault.joshuabell.xyz', '/', 'http://127.0.0.1:8222', 'http://100.64.0.20:8222'], ['vault.joshuabell.xyz', '/ws', 'http://127.0.0.1:3012', 'http://100.64.0.20:3012']], via: ['proxyPass', 'vhostExtraConfig'], staying: [] },
  }],
  ['the old host by its FQDN and its MagicDNS name is the old host', {
    inventory: withProxy({ 'git.example.org': vh({ '/': 'http://h001.lan.example:3000', '/api': 'http://H001.tailnet.joshuabell.xyz:3000/api' }) }, { h001: { ...fleet().hosts.h001!, fqdn: 'h001.lan.example', domain: 'lan.example' }, l001: { ...fleet().hosts.l001!, magicDnsDomain: 'tailnet.joshuabell.xyz' } }),
    m: { ...forgejo, domains: ['git.example.org'] },
    want: { proxy: 'o001', moved: [['git.example.org', '/', 'http://h001.lan.example:3000', 'http://100.64.0.20:3000'], ['git.example.org', '/api', 'http://H001.tailnet.joshuabell.xyz:3000/api', 'http://100.64.0.20:3000/api']], staying: [] },
  }],
  ['a unix socket on the old host (the proxy is the old host) is refused with the fix', {
    inventory: withProxy({ 'vault.joshuabell.xyz': vh({ '/': 'http://unix:/run/vaultwarden/vw.sock:/' }) }),
    m: { service: 'vaultwarden', from: 'o001', to: 'h002', strategy: 'warm', domains: ['vault.joshuabell.xyz'] },
    want: { proxy: 'o001', findings: [/^vault\.joshuabell\.xyz location \/ on o001 proxies to the unix socket \/run\/vaultwarden\/vw\.sock on o001: a socket cannot be reached from the new host; make vaultwarden listen on TCP on o001/] },
  }],
  ['a vhost that does not move but reaches the service\'s own port is an error naming it; other ports stay', {
    inventory: listening(withProxy({ 'git.example.org': vh({ '/': 'http://100.64.0.13:3000' }), 'mirror.example.org': vh({ '/': 'http://h001:3000' }), 'chat.example.org': vh({ '/': 'http://100.64.0.13' }) })),
    m: { ...forgejo, domains: ['git.example.org'] },
    want: { proxy: 'o001', findings: [/^mirror\.example\.org location \/ on o001 reaches forgejo on h001 \(http:\/\/h001:3000\) and does not move with it: after the cutover it would point at a stopped backend; add mirror\.example\.org to domains$/] },
  }],
  ['another proxy of the fleet reaching the service is an error naming host, vhost and location', {
    inventory: listening(withProxy({ 'git.example.org': vh({ '/': 'http://100.64.0.13:3000' }) }, { l001: host('l001', { address: '100.64.0.2', services: ['nginx'], nginx: { enable: true, upstreams: {}, virtualHosts: { 'git.lan': vh({ '/': 'http://100.64.0.13:3000' }) } } }) })),
    m: { ...forgejo, domains: ['git.example.org'] },
    want: { proxy: 'o001', findings: [/^git\.lan location \/ on l001 reaches forgejo on h001 \(http:\/\/100\.64\.0\.13:3000\) and migen moves only o001's routes/] },
  }],
  ['a mention of the old backend in extraConfig outside a proxy_pass is an error naming vhost and location', {
    inventory: withProxy({ 'vault.joshuabell.xyz': vhost({ '/': loc('http://127.0.0.1:8222', { extraConfig: 'proxy_redirect http://127.0.0.1:8222/ /;\n' }) }) }),
    m: { service: 'vaultwarden', from: 'o001', to: 'h002', strategy: 'warm' },
    want: { proxy: 'o001', findings: [/^vault\.joshuabell\.xyz location \/ on o001 names 127\.0\.0\.1:8222 \(vaultwarden on o001\) in its extraConfig outside a proxy_pass migen can move/] },
  }],
  ['what the cutover checks is gone: the old names at the service\'s ports, not a port other routes keep', {
    inventory: listening(fleet()), m: forgejo,
    want: { proxy: 'o001', moved: [['git.joshuabell.xyz', '/', 'http://100.64.0.13', 'http://100.64.0.20']], stale: [['100.64.0.13', 'h001'], [3000, 5433]] },
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
    if (want.via) expect(r.moved.map((x) => x.via)).toEqual(want.via);
    // the URL the cutover probes from the proxy (for an upstream: its first new server, with the location's scheme)
    if (want.backend) expect(r.moved.map((x) => x.backend)).toEqual(want.backend);
    if (want.staying) expect(r.staying.map((x) => [x.domain, x.location, x.proxyPass])).toEqual(want.staying);
    if (want.stale) expect([r.stale.names, r.stale.ports]).toEqual(want.stale);
  });
});
