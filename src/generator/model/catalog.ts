import type { ServiceName } from '../types.js';

/** What migen knows about a service before the manifest says anything. */
export interface Preset {
  readonly service: Exclude<ServiceName, 'custom'>;
  readonly title: string;
  /** NixOS module option set that enables it: services.<nixosService>.enable */
  readonly nixosService: string;
  /** The service usually runs in a nixos-container of this name (null: on the host). */
  readonly container: string | null;
  readonly unit: string;
  /** Directories to copy, for a host whose system.stateVersion is >= the key (first match wins). */
  readonly state: (stateVersion: string | null) => readonly string[];
  readonly sqlite: readonly string[];
  /** Files beside the database whose loss breaks clients; checked present after the final pass. */
  readonly criticalFiles: readonly string[];
  readonly subdomain: string | null;
  readonly maintenance: { readonly on: string; readonly off: string } | null;
  readonly secretPrefix: string;
  readonly dynamicUser: boolean;
  readonly warnings: readonly string[];
  /** The option (attribute path) that sets the address the service listens on, when it has one. */
  readonly listenOption: readonly string[] | null;
  /** Default checks when the manifest gives none; DOMAIN is replaced by each moved domain. */
  readonly verifyPaths: readonly string[];
  /** Other services log in through it: `migen run --all` moves it after every other one. */
  readonly sso: boolean;
}

const atLeast = (v: string | null, min: string): boolean => v !== null && compareVersions(v, min) >= 0;

export function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map((x) => Number.parseInt(x, 10) || 0);
  const pb = b.split('.').map((x) => Number.parseInt(x, 10) || 0);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d < 0 ? -1 : 1;
  }
  return 0;
}

export const CATALOG: Readonly<Record<Preset['service'], Preset>> = {
  forgejo: {
    service: 'forgejo',
    title: 'Forgejo (git server)',
    nixosService: 'forgejo',
    container: 'forgejo',
    unit: 'container@forgejo',
    state: () => ['/var/lib/forgejo/data', '/var/lib/forgejo/postgres'],
    sqlite: [],
    criticalFiles: [],
    subdomain: 'git',
    // Forgejo has no maintenance mode (no file or app.ini setting turns one on; Gitea's proposal,
    // go-gitea/gitea#9618, was never built): the seed's `touch .../maintenance` does nothing. Nor
    // does the proxy answer with a page of its own: that would be one more nginx reload in the
    // window, and git clients show the HTTP status whichever it is.
    maintenance: null,
    secretPrefix: 'forgejo',
    dynamicUser: false,
    warnings: ['Forgejo has no maintenance mode: during the window the proxy answers its domains with 502 Bad Gateway (the backend is stopped), so git pushes, fetches and the web UI fail until the new host serves; clients retry, and a push they were told succeeded is not lost. Announce the window to users with CI pipelines.'],
    listenOption: ['services', 'forgejo', 'settings', 'server', 'HTTP_ADDR'],
    verifyPaths: ['/'],
    sso: false,
  },
  zitadel: {
    service: 'zitadel',
    title: 'Zitadel (SSO)',
    nixosService: 'zitadel',
    container: 'zitadel',
    unit: 'container@zitadel',
    state: () => ['/var/lib/zitadel/postgres'],
    sqlite: [],
    criticalFiles: [],
    subdomain: 'sso',
    maintenance: null,
    secretPrefix: 'zitadel',
    dynamicUser: false,
    warnings: [
      'Zitadel is the SSO for other services: logins everywhere fail during the window; coordinate the downtime with their users.',
      'Test an authentication flow end to end after the move; OIDC clients may cache discovery documents and need a restart.',
    ],
    listenOption: null,
    verifyPaths: ['/debug/healthz'],
    sso: true,
  },
  vaultwarden: {
    service: 'vaultwarden',
    title: 'Vaultwarden (password manager)',
    nixosService: 'vaultwarden',
    container: null,
    unit: 'vaultwarden',
    // nixpkgs moved the data directory from bitwarden_rs to vaultwarden with stateVersion 24.11.
    state: (sv) => [atLeast(sv, '24.11') ? '/var/lib/vaultwarden' : '/var/lib/bitwarden_rs'],
    sqlite: ['db.sqlite3'],
    criticalFiles: ['rsa_key.pem'],
    subdomain: 'vault',
    maintenance: null,
    secretPrefix: 'vaultwarden',
    dynamicUser: false,
    warnings: [
      'Most critical service: users depend on it constantly. Schedule the window at low usage and tell users; clients keep an offline copy but cannot sync.',
      'Losing rsa_key.* logs every user out: the plan checks it arrived unchanged.',
      'After the move, verify with the mobile app and the browser extension, and that emergency access still works.',
    ],
    listenOption: ['services', 'vaultwarden', 'config', 'ROCKET_ADDRESS'],
    verifyPaths: ['/alive'],
    sso: false,
  },
  headscale: {
    service: 'headscale',
    title: 'Headscale (mesh coordination)',
    nixosService: 'headscale',
    container: null,
    unit: 'headscale',
    state: () => ['/var/lib/headscale'],
    sqlite: ['db.sqlite'],
    criticalFiles: ['noise_private.key'],
    subdomain: 'headscale',
    maintenance: null,
    secretPrefix: 'headscale',
    dynamicUser: false,
    warnings: [
      'All mesh connectivity depends on headscale: existing connections continue, but new devices and key renewals fail during the window.',
      'Test that a new device can join after the move.',
    ],
    listenOption: ['services', 'headscale', 'address'],
    verifyPaths: ['/health'],
    sso: false,
  },
  adguardhome: {
    service: 'adguardhome',
    title: 'AdGuard Home (DNS)',
    nixosService: 'adguardhome',
    container: null,
    unit: 'adguardhome',
    // DynamicUser=true: the state lives in /var/lib/private; /var/lib/AdGuardHome is a symlink.
    state: () => ['/var/lib/private/AdGuardHome'],
    sqlite: [],
    criticalFiles: [],
    subdomain: null,
    maintenance: null,
    secretPrefix: 'adguardhome',
    dynamicUser: true,
    warnings: [],
    listenOption: null,
    verifyPaths: [],
    sso: false,
  },
};

export function preset(service: ServiceName): Preset | null {
  return service === 'custom' ? null : CATALOG[service];
}

/** Is the service the SSO others log in through (a plan's `service`, as the runtime reads it)? */
export const isSso = (service: string): boolean => Object.prototype.hasOwnProperty.call(CATALOG, service) && CATALOG[service as Preset['service']].sso;
