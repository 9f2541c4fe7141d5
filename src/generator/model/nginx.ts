// nginx configuration read the way nginx reads it: a location's backend is its proxyPass, or a
// proxy_pass written in its extraConfig (or in a location block of the vhost's extraConfig); a
// proxy_pass to http://NAME goes to services.nginx.upstreams.NAME's servers when that upstream
// exists (nginx resolves a proxy_pass host against the upstream blocks first).
import type { InventoryHost } from '../types.js';

/** Parsed proxyPass: scheme://host[:port][path]; `unix` for http://unix:/path.sock:/uri. */
export interface Backend { readonly scheme: string; readonly host: string; readonly port: string; readonly path: string; readonly unix?: string }
export function parseBackend(proxyPass: string): Backend | null {
  const u = /^(https?):\/\/unix:([^:]+)(?::(.*))?$/.exec(proxyPass);
  if (u) return { scheme: u[1]!, host: 'unix', port: '', path: u[3] ?? '', unix: u[2]! };
  const m = /^(https?):\/\/(\[[^\]]+\]|[^/:$]+)(:\d+)?(\/.*)?$/.exec(proxyPass);
  if (!m) return null;
  return { scheme: m[1]!, host: m[2]!, port: m[3] ?? '', path: m[4] ?? '' };
}
export function withHost(b: Backend, host: string): string {
  return `${b.scheme}://${host}${b.port}${b.path}`;
}
/** The port a backend is reached on: its own, else the scheme's. */
export const portOf = (b: { scheme: string; port: string }): number => (b.port ? Number(b.port.slice(1)) : b.scheme === 'https' ? 443 : 80);

/** An upstream server address (host:port, or unix:PATH) as a backend of the location's scheme. */
export function serverBackend(address: string, scheme: string): Backend {
  if (address.startsWith('unix:')) return { scheme, host: 'unix', port: '', path: '', unix: address.slice(5) };
  const m = /^(\[[^\]]+\]|[^:]+)(:\d+)?$/.exec(address);
  return { scheme, host: m?.[1] ?? address, port: m?.[2] ?? ':80', path: '' };
}

/** Where a location's backend is written. */
export type Source = 'proxyPass' | 'extraConfig' | 'vhostExtraConfig';

/** One proxy_pass of a vhost: its location, where it is written, and its target as written. */
export interface ProxyPass {
  readonly location: string;
  readonly source: Source;
  readonly target: string;
  /** For extraConfig: the target's offsets in that text. */
  readonly span?: readonly [number, number];
}

const TOKENS = /(#[^\n]*)|\blocation\s+([^{;]+?)\s*\{|(\{)|(\})|\bproxy_pass\s+([^;\s]+)\s*;/g;

/** proxy_pass directives in an extraConfig text, each with its innermost location (null: the block itself). */
export function proxyPassesIn(text: string): { location: string | null; target: string; span: [number, number] }[] {
  const out: { location: string | null; target: string; span: [number, number] }[] = [];
  const stack: (string | null)[] = [];
  for (const m of text.matchAll(TOKENS)) {
    if (m[1]) continue;
    if (m[2] !== undefined) stack.push(m[2].replace(/\s+/g, ' '));
    else if (m[3]) stack.push(null);
    else if (m[4]) stack.pop();
    else if (m[5]) {
      const start = m.index! + m[0].indexOf(m[5], 'proxy_pass'.length);
      out.push({ location: [...stack].reverse().find((x) => x !== null) ?? null, target: m[5], span: [start, start + m[5].length] });
    }
  }
  return out;
}

/** Every proxy_pass of a vhost of `h`, sorted by location then source. */
export function proxyPassesOf(h: InventoryHost, domain: string): ProxyPass[] {
  const vh = h.nginx.virtualHosts[domain]!;
  const out: ProxyPass[] = [];
  for (const loc of Object.keys(vh.locations).sort()) {
    const l = vh.locations[loc]!;
    if (l.proxyPass) out.push({ location: loc, source: 'proxyPass', target: l.proxyPass });
    for (const p of proxyPassesIn(l.extraConfig)) out.push({ location: p.location ? `${loc} > ${p.location}` : loc, source: 'extraConfig', target: p.target, span: p.span });
  }
  for (const p of proxyPassesIn(vh.extraConfig)) out.push({ location: p.location ?? '(server block)', source: 'vhostExtraConfig', target: p.target, span: p.span });
  return out;
}

/** The text of an extraConfig with the comments blanked (same length: offsets stay valid). */
export const withoutComments = (text: string): string => text.replace(/#[^\n]*/g, (c) => ' '.repeat(c.length));

/** An upstream server's parameters as nginx's server line writes them (nixpkgs: `true` is a bare flag, `false` left out). */
export function serverParams(params: Readonly<Record<string, boolean | number | string>>): string {
  return Object.keys(params).sort().flatMap((k) => {
    const v = params[k]!;
    return v === true ? [k] : v === false ? [] : [`${k}=${v}`];
  }).join(' ');
}
