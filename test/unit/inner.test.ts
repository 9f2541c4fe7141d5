// Two proxies (model/inner.ts), table-driven: a moved route of the edge that reaches the old host's
// own nginx gives the new host that virtual host (or uses the one it declares), keeping the edge's
// port; what cannot be copied is refused; a moved backend nothing listens on is a warning.
import { describe, expect, it } from 'vitest';
import { preset } from '../../src/generator/model/catalog.js';
import { resolveRoutes } from '../../src/generator/model/routes.js';
import type { Inventory, InventoryHost, MigrationSpec } from '../../src/generator/types.js';
import { container, fleet, listener, loc, vhost } from '../fixtures/inventory.js';

const NGINX = [listener('nginx', 80, ['0.0.0.0', '[::0]']), listener('nginx', 443, ['0.0.0.0', '[::0]'])];
const forgejoCt = (addr = '0.0.0.0') => container(['forgejo', 'postgresql'], { listen: [listener('forgejo', 3000, [addr]), listener('postgresql', 5433, ['localhost'])] });
type Vhosts = InventoryHost['nginx']['virtualHosts'];

/** The example's shape: h001 runs nginx routing git (and sso) by Host to loopback; forgejo's container listens on 3000. */
function twoLayers(inner: Vhosts = { 'git.joshuabell.xyz': vhost({ '/': loc('http://127.0.0.1:3000', { proxyWebsockets: true }) }, 'client_max_body_size 512m;'), 'sso.joshuabell.xyz': vhost({ '/': loc('http://127.0.0.1:8080') }) }, edit: (i: Inventory) => void = () => {}): Inventory {
  const f = fleet();
  const h001 = { ...f.hosts.h001!, listen: NGINX, nginx: { enable: true, upstreams: {}, virtualHosts: inner }, containers: { ...f.hosts.h001!.containers, forgejo: forgejoCt() } };
  const h002 = { ...f.hosts.h002!, containers: { ...f.hosts.h002!.containers, forgejo: forgejoCt() } };
  const inv = { ...f, hosts: { ...f.hosts, h001, h002 } };
  edit(inv);
  return inv;
}
const forgejo: MigrationSpec = { service: 'forgejo', from: 'h001', to: 'h002', strategy: 'warm', domains: ['git.joshuabell.xyz'] };
const resolve = (inv: Inventory, m: MigrationSpec = forgejo) => resolveRoutes({ version: 1, migrations: { demo: m } }, inv, 'demo', m, preset(m.service));

type Want = { mode?: 'copy' | 'declared' | null; locations?: [string, string | null][]; extra?: string; findings?: RegExp[]; warnings?: RegExp[]; noWarnings?: boolean };
const CASES: [string, { inventory: Inventory; m?: MigrationSpec; want: Want }][] = [
  ['the example: o001 -> h001:80, h001\'s nginx -> 127.0.0.1:3000; h002 gets the vhost as h001 declares it', {
    inventory: twoLayers(),
    want: { mode: 'copy', locations: [['/', 'http://127.0.0.1:3000']], extra: 'client_max_body_size 512m;', noWarnings: true },
  }],
  ['an inner backend by the old host\'s own address is rewritten to the new host\'s', {
    inventory: twoLayers({ 'git.joshuabell.xyz': vhost({ '/': loc('http://100.64.0.13:3000') }) }),
    want: { mode: 'copy', locations: [['/', 'http://100.64.0.20:3000']] },
  }],
  ['the new host declares the vhost itself: nothing copied', {
    inventory: twoLayers(undefined, (i) => { (i.hosts as Record<string, InventoryHost>).h002 = { ...i.hosts.h002!, nginx: { enable: true, upstreams: {}, virtualHosts: { 'git.joshuabell.xyz': vhost({ '/': loc('http://[::1]:3000') }) } } }; }),
    want: { mode: 'declared', locations: [['/', 'http://[::1]:3000']] },
  }],
  ['a vhost with settings migen does not copy (TLS, a root) is refused: declare it on the new host', {
    inventory: twoLayers({ 'git.joshuabell.xyz': { ...vhost({ '/': loc('http://127.0.0.1:3000', { others: ['root'] }) }), others: ['forceSSL'] } }),
    want: { mode: null, findings: [/h001's virtual host git\.joshuabell\.xyz sets forceSSL, locations\."\/"\.root, which migen does not copy: declare git\.joshuabell\.xyz in h002's nginx yourself/] },
  }],
  ['an inner route to a port the service does not listen on: that backend stays on the old host', {
    inventory: twoLayers({ 'git.joshuabell.xyz': vhost({ '/': loc('http://127.0.0.1:8081') }) }),
    want: { mode: null, findings: [/h001's nginx sends git\.joshuabell\.xyz \/ to http:\/\/127\.0\.0\.1:8081, where forgejo does not listen \(its ports on h001: 3000, 5433\)/] },
  }],
  ['an inner route that goes on to another host: not forgejo\'s domain', {
    inventory: twoLayers({ 'git.joshuabell.xyz': vhost({ '/': loc('http://100.64.0.9:3000') }) }),
    want: { mode: null, findings: [/sends git\.joshuabell\.xyz \/ to http:\/\/100\.64\.0\.9:3000, which is not on h001/] },
  }],
  ['an inner route through an upstream is not copied', {
    inventory: twoLayers({ 'git.joshuabell.xyz': vhost({ '/': loc('http://fj') }) }, (i) => { (i.hosts.h001!.nginx as { upstreams: unknown }).upstreams = { fj: { extraConfig: '', servers: { '127.0.0.1:3000': {} } } }; }),
    want: { mode: null, findings: [/\(upstream fj\): migen copies a virtual host to h002 only with plain proxy_pass targets/] },
  }],
  ['the old host\'s nginx has no vhost for the domain: its default server would answer', {
    inventory: twoLayers({ 'chat.joshuabell.xyz': vhost({ '/': loc('http://127.0.0.1:8081') }) }),
    want: { mode: null, findings: [/o001 sends git\.joshuabell\.xyz to h001's nginx \(port 80\), which has no virtual host for it: its default server answers, not forgejo/] },
  }],
  ['something else on the new host\'s port 80 would keep the copy\'s nginx from starting', {
    inventory: twoLayers(undefined, (i) => { (i.hosts as Record<string, InventoryHost>).h002 = { ...i.hosts.h002!, listen: [listener('adguardhome', 80)] }; }),
    want: { mode: null, findings: [/the copy of git\.joshuabell\.xyz runs nginx on h002's ports 80 and 443, where adguardhome \(80\) already listens/] },
  }],
  ['straight to the container\'s port: no inner layer, the new host serves that port', {
    inventory: twoLayers(undefined, (i) => { (i.hosts.o001!.nginx.virtualHosts as Vhosts)['git.joshuabell.xyz'] = vhost({ '/': loc('http://100.64.0.13:3000') }); }),
    want: { mode: undefined, noWarnings: true },
  }],
  ['nothing listens on the old host\'s port 80 (no nginx there): a warning naming the route', {
    inventory: fleet(),
    want: { mode: undefined, warnings: [/^o001 routes git\.joshuabell\.xyz \/ to http:\/\/100\.64\.0\.13, but nothing on h001 listens on port 80/] },
  }],
  ['a loopback-only listener does not serve another host\'s proxy', {
    inventory: twoLayers(undefined, (i) => {
      (i.hosts.o001!.nginx.virtualHosts as Vhosts)['git.joshuabell.xyz'] = vhost({ '/': loc('http://100.64.0.13:3000') });
      Object.assign(i.hosts.h001!.containers, { forgejo: forgejoCt('127.0.0.1') });
    }),
    want: { warnings: [/but nothing on h001 listens on port 3000 as far as its configuration says \(h001's listeners: nginx 80, nginx 443, forgejo 3000 in container forgejo, postgresql 5433 in container forgejo\)/] },
  }],
];

describe('two proxies: the edge moves, the new host gets the inner vhost', () => {
  it.each(CASES)('%s', (_name, { inventory, m, want }) => {
    const r = resolve(inventory, m);
    const v = r.inner.find((x) => x.domain === 'git.joshuabell.xyz');
    if (want.mode !== undefined) expect(v?.mode ?? null).toBe(want.mode);
    if (want.mode === undefined) expect(r.inner).toEqual([]);
    if (want.locations) expect(v!.locations.map((l) => [l.location, l.proxyPass])).toEqual(want.locations);
    if (want.extra !== undefined) expect(v!.extraConfig).toBe(want.extra);
    for (const re of want.findings ?? []) expect(r.findings.map((f) => f.message)).toContainEqual(expect.stringMatching(re));
    if (!want.findings) expect(r.findings).toEqual([]);
    for (const re of want.warnings ?? []) expect(r.warnings).toContainEqual(expect.stringMatching(re));
    if (want.noWarnings) expect(r.warnings).toEqual([]);
    // the edge's own route moves either way, port kept
    if (!want.findings) expect(r.moved.map((x) => x.to)).toEqual([r.moved[0]!.from.replace('100.64.0.13', '100.64.0.20')]);
  });

  it('the plan says which and why: the edge keeps its port and the vhost\'s settings', () => {
    const v = resolve(twoLayers()).inner[0]!;
    expect(v).toMatchObject({ domain: 'git.joshuabell.xyz', port: 80, mode: 'copy', backends: ['/ -> http://127.0.0.1:3000'] });
    expect(v.reason).toMatch(/^o001 reaches forgejo through h001's own nginx, which routes git\.joshuabell\.xyz by Host \(\/ -> http:\/\/127\.0\.0\.1:3000\)\. h002 gets that virtual host as h001 declares it .* so o001's route keeps port 80 and the vhost's own settings; routing o001 straight to the container's port instead would skip those settings/);
    expect(v.locations[0]).toEqual({ location: '/', proxyPass: 'http://127.0.0.1:3000', proxyWebsockets: true, recommendedProxySettings: true, extraConfig: '' });
  });

  it('the edge is found among the hosts serving the domain: the old host\'s own nginx is the inner one', () => {
    const { domains: _d, ...m } = forgejo;
    const r = resolve(twoLayers(), m);
    expect([r.proxy, r.findings, r.moved.map((x) => x.domain)]).toEqual(['o001', [], ['git.joshuabell.xyz']]);
  });
});
