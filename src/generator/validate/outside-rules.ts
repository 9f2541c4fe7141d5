// Rules for what a migration asks of the world outside the hosts: DNS records (dns:), a DNS
// server's clients (dnsServer:) and handoffs to people or other systems (handoffs:).
import type { Manifest, MigrationSpec, RecordType, Where } from '../types.js';
import type { Finding } from '../model/routes.js';

interface Ctx { readonly manifest: Manifest; readonly name: string; readonly m: MigrationSpec; readonly proxy: string | null }
type Rule = (c: Ctx) => Finding[];

const at = (c: Ctx, ...rest: (string | number)[]): (string | number)[] => ['migrations', c.name, ...rest];
const IPV4 = /^\d{1,3}(\.\d{1,3}){3}$/;
const fits = (type: RecordType, v: string): boolean => (type === 'A' ? IPV4.test(v) : type === 'AAAA' ? v.includes(':') : !IPV4.test(v) && !v.includes(':'));

const records: Rule = (c) => {
  const d = c.m.dns;
  if (!d) return [];
  const out: Finding[] = [];
  const seen = new Set<string>();
  d.records.forEach((r, i) => {
    const type = r.type ?? 'A';
    for (const f of ['old', 'new'] as const) {
      if (!fits(type, r[f])) out.push({ path: at(c, 'dns', 'records', i, f), message: `dns.records.${i}.${f}: ${JSON.stringify(r[f])} is not a value for ${type === 'CNAME' ? 'a' : 'an'} ${type} record; expected ${type === 'A' ? 'an IPv4 address' : type === 'AAAA' ? 'an IPv6 address' : 'a DNS name'}` });
    }
    if (r.old === r.new) out.push({ path: at(c, 'dns', 'records', i, 'new'), message: `dns.records.${i}.new: ${r.new} is also the old value; the record would not move` });
    const key = `${r.name} ${type}`;
    if (seen.has(key)) out.push({ path: at(c, 'dns', 'records', i, 'name'), message: `dns.records.${i}: ${key} is listed twice` });
    seen.add(key);
  });
  return out;
};

const authority: Rule = (c) => {
  const d = c.m.dns;
  return d && !d.authority && !d.provider?.nsupdate
    ? [{ path: at(c, 'dns'), message: 'dns: needs "authority" (an authoritative server of the zone, to verify each change without a cache in between), or provider.nsupdate whose server is one' }]
    : [];
};

const ahead: Rule = (c) => {
  const d = c.m.dns;
  const a = d?.lowerTtl?.aheadSeconds;
  if (!d || a === undefined) return [];
  const ttl = Math.max(...d.records.map((r) => r.ttl));
  return a < ttl ? [{ path: at(c, 'dns', 'lowerTtl', 'aheadSeconds'), message: `dns.lowerTtl.aheadSeconds: ${a} is less than the old TTL ${ttl}: resolvers may still hold the old value with its long TTL at the switch; use at least ${ttl}` }] : [];
};

const notProxied: Rule = (c) => {
  const names = new Set((c.m.dns?.records ?? []).map((r) => r.name));
  return (c.m.domains ?? []).flatMap((d, i) => (names.has(d)
    ? [{ path: at(c, 'domains', i), message: `domains.${i}: ${d} moves by its DNS record (dns.records); a proxy route for it too would keep clients on the old path: remove it from domains` }]
    : []));
};

const proxyNamed: Rule = (c) => {
  if (c.proxy) return [];
  const out: Finding[] = [];
  const need = (w: Where | undefined, path: (string | number)[]): void => {
    if (w === 'proxy') out.push({ path, message: `${path.slice(2).join('.')}: "proxy" names no host: this migration moves no proxy route; use new, old or operator` });
  };
  (c.m.handoffs ?? []).forEach((h, i) => { need(h.check.on, at(c, 'handoffs', i, 'check', 'on')); need(h.run?.on, at(c, 'handoffs', i, 'run', 'on')); });
  if (c.m.dnsServer?.from === 'proxy') need('proxy', at(c, 'dnsServer', 'from'));
  return out;
};

const uniqueHandoffs: Rule = (c) => {
  const seen = new Set<string>();
  return (c.m.handoffs ?? []).flatMap((h, i) => {
    const id = h.id ?? String(i + 1);
    if (seen.has(id)) return [{ path: at(c, 'handoffs', i, 'id'), message: `handoffs.${i}.id: ${id} is used twice; each handoff needs its own id` }];
    seen.add(id);
    return [];
  });
};

export const OUTSIDE_RULES: readonly Rule[] = [records, authority, ahead, notProxied, proxyNamed, uniqueHandoffs];

export function outsideFindings(manifest: Manifest, name: string, m: MigrationSpec, proxy: string | null): Finding[] {
  const c: Ctx = { manifest, name, m, proxy };
  return OUTSIDE_RULES.flatMap((r) => r(c));
}
