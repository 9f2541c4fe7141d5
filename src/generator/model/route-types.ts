// The shapes of resolved routes, shared by routes.ts and inner.ts.
import type { Source } from './nginx.js';

/** A located finding about the inputs: the path is into the manifest document. */
export interface Finding { readonly path: readonly (string | number)[]; readonly message: string; readonly key?: boolean }

export interface RouteChange {
  readonly domain: string;
  readonly location: string;
  readonly from: string;
  readonly to: string;
  /** The URL at which the proxy reaches the new backend (what the cutover probes from the proxy host). */
  readonly backend: string;
  /** Where the backend is written: the location's proxyPass, a proxy_pass in its (or the vhost's) extraConfig, or the servers of the upstream it names. */
  readonly via: Source | 'upstream';
  readonly upstream: string | null;
  /** For a proxy_pass in extraConfig: the target's offsets in that text. */
  readonly span: readonly [number, number] | null;
}
export interface RouteStay { readonly domain: string; readonly location: string; readonly proxyPass: string }
/** An upstream whose servers all are the old host's: the plan points its servers at the new host. */
export interface UpstreamMove { readonly name: string; readonly servers: readonly { readonly old: string; readonly new: string; readonly params: Readonly<Record<string, boolean | number | string>> }[] }
