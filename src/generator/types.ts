// Types of the data that flows between stages. Field meanings and defaults are documented once,
// in schemas/*.schema.json; these types mirror them.

export type Strategy = 'cold' | 'warm' | 'hot';
export type Status = 'planned' | 'done';
export type ServiceName = 'forgejo' | 'zitadel' | 'vaultwarden' | 'headscale' | 'adguardhome' | 'custom';
export type DeployTool = 'nixos-rebuild' | 'colmena' | 'deploy-rs';
export type SyncMode = 'pull' | 'push' | 'relay';

export interface VerifyCheck {
  readonly http?: string;
  readonly status?: number;
  readonly command?: string;
  readonly on?: 'new' | 'old' | 'proxy' | 'operator';
}

export type Where = 'new' | 'old' | 'proxy' | 'operator';
export type RecordType = 'A' | 'AAAA' | 'CNAME';

/** What proves a handoff was done (schemas: definitions.check). */
export interface CheckSpec {
  readonly dns?: { readonly name: string; readonly type?: RecordType; readonly value: string; readonly resolvers: readonly string[] };
  readonly tcp?: string;
  readonly http?: string;
  readonly status?: number;
  readonly command?: string;
  readonly on?: Where;
}

export interface HandoffSpec {
  readonly id?: string;
  readonly do: string;
  readonly when?: 'prepare' | 'before-stop' | 'after-start' | 'after-verify';
  readonly run?: { readonly command: string; readonly on?: Where };
  readonly check: CheckSpec;
  readonly intervalSeconds?: number;
  readonly deadlineSeconds?: number;
}

export interface DnsSpec {
  readonly records: readonly { readonly name: string; readonly type?: RecordType; readonly old: string; readonly new: string; readonly ttl: number }[];
  readonly resolvers: readonly string[];
  readonly authority?: string;
  readonly lowerTtl?: { readonly to?: number; readonly aheadSeconds?: number };
  readonly on?: 'old' | 'new';
  readonly provider?: { readonly nsupdate?: { readonly server: string; readonly keyFile: string; readonly zone?: string }; readonly command?: string };
  readonly deadlineSeconds?: number;
}

export interface DnsServerSpec {
  readonly query: string;
  readonly type?: RecordType;
  readonly address?: string;
  readonly secondary?: readonly string[];
  readonly from?: 'old' | 'proxy' | 'new';
}

export interface MigrationSpec {
  readonly description?: string;
  readonly service: ServiceName;
  readonly from: string;
  readonly to: string;
  readonly strategy: Strategy;
  readonly status?: Status;
  readonly after?: readonly string[];
  readonly container?: string;
  readonly unit?: string;
  /** A path is the same on both hosts (a preset's directory is mapped to the new host's); { from, to } names each side. */
  readonly state?: readonly (string | { readonly from: string; readonly to: string })[];
  readonly domains?: readonly string[];
  readonly secrets?: readonly string[];
  readonly maintenance?: { readonly on: string; readonly off: string };
  readonly backup?: { readonly restic?: { readonly repository: string; readonly tag?: string; readonly passwordFile?: string }; readonly none?: true };
  readonly database?: { readonly engine: 'postgresql'; readonly databases: readonly string[]; readonly passwordSecret?: string };
  readonly sqlite?: readonly string[];
  readonly sync?: { readonly mode?: SyncMode; readonly thresholdBytes?: number; readonly maxPasses?: number; readonly bandwidthBytesPerSecond?: number };
  readonly verify?: readonly VerifyCheck[];
  readonly verifyDeadlineSeconds?: number;
  readonly graceDays?: number;
  readonly dns?: DnsSpec;
  readonly dnsServer?: DnsServerSpec;
  readonly handoffs?: readonly HandoffSpec[];
}

export interface Manifest {
  readonly version: 1;
  readonly flake?: string;
  readonly inventory?: string;
  readonly proxy?: string;
  readonly hosts?: Readonly<Record<string, { readonly address?: string; readonly ssh?: string; readonly deploy?: DeployTool }>>;
  readonly migrations: Readonly<Record<string, MigrationSpec>>;
}

/** `others`: options set besides those listed here (schemas/inventory.schema.json), absent in older exports: none. */
export interface InventoryLocation { readonly proxyPass: string | null; readonly proxyWebsockets?: boolean; readonly recommendedProxySettings: boolean; readonly extraConfig: string; readonly others?: readonly string[] }
export interface InventoryVhost { readonly extraConfig: string; readonly serverAliases?: readonly string[]; readonly others?: readonly string[]; readonly locations: Readonly<Record<string, InventoryLocation>> }
export interface InventoryUpstream { readonly servers: Readonly<Record<string, Readonly<Record<string, boolean | number | string>>>>; readonly extraConfig: string }
export interface Listener { readonly service: string; readonly protocol: 'tcp' | 'udp'; readonly port: number; readonly addresses: readonly string[] }
export interface InventoryPostgresql { readonly enable: boolean; readonly port: number; readonly version: string | null }
export interface InventoryContainer {
  readonly autoStart: boolean;
  readonly localAddress: string | null;
  readonly privateNetwork: boolean;
  readonly stateVersion: string | null;
  readonly services: readonly string[];
  readonly postgresql: InventoryPostgresql;
  readonly listen: readonly Listener[];
}
export interface InventoryHost {
  readonly hostName: string;
  readonly address: string | null;
  readonly sshTarget: string;
  readonly system: string;
  readonly stateVersion: string | null;
  readonly domain: string | null;
  readonly fqdn: string | null;
  readonly magicDnsDomain: string | null;
  readonly deploy: DeployTool;
  readonly services: readonly string[];
  readonly containers: Readonly<Record<string, InventoryContainer>>;
  readonly listen: readonly Listener[];
  readonly persistence: { readonly enable: boolean; readonly directories: readonly string[] };
  readonly users: Readonly<Record<string, { readonly uid: number | null; readonly group: string }>>;
  readonly groups: Readonly<Record<string, { readonly gid: number | null }>>;
  readonly postgresql: InventoryPostgresql;
  readonly secrets: { readonly agenix: readonly string[]; readonly sops: readonly string[] };
  readonly nginx: { readonly enable: boolean; readonly virtualHosts: Readonly<Record<string, InventoryVhost>>; readonly upstreams: Readonly<Record<string, InventoryUpstream>> };
  readonly backups: { readonly restic: Readonly<Record<string, { readonly repository: string | null; readonly paths: readonly string[]; readonly passwordFile: string | null }>> };
  readonly monitoring: { readonly scrapeTargets: readonly { readonly job: string; readonly target: string }[] };
}
export interface Inventory {
  readonly formatVersion: 1;
  readonly hosts: Readonly<Record<string, InventoryHost>>;
}

/** A generated file: its path relative to the output directory, and its content. */
export interface OutFile { readonly path: string; readonly content: string }
