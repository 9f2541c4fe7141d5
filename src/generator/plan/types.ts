import type { RecordType, Strategy, Status, SyncMode, VerifyCheck } from '../types.js';
import type { HostRef } from '../model/hosts.js';
import type { RouteChange, RouteStay, UpstreamMove } from '../model/routes.js';
import type { InnerVhost } from '../model/inner.js';
import type { SidePaths } from '../model/state.js';
import type { Script, Step } from '../../runbook/steps.js';

export type { Step, StepKind, Script, HostScript, PipeScript, Phase, Where } from '../../runbook/steps.js';
export { PHASES } from '../../runbook/steps.js';
export type { HostRef } from '../model/hosts.js';
export type { RouteChange, RouteStay, UpstreamMove } from '../model/routes.js';
export type { InnerLocation, InnerVhost } from '../model/inner.js';

/** A state directory: `old` on the old host, `new` on the new one (they differ where each host's stateVersion picks another default). */
export interface StateDir { readonly old: string; readonly new: string; readonly owner: string | null; readonly uid: number | null; readonly group: string | null; readonly gid: number | null }
export type { SidePaths } from '../model/state.js';

/** PostgreSQL settings the generated modules set and the runbook's headroom checks need: decided once, here. */
export interface PgSizes {
  readonly publisher: { readonly maxReplicationSlots: number; readonly maxWalSenders: number; readonly maxSlotWalKeepSize: string };
  readonly subscriber: { readonly maxReplicationSlots: number; readonly maxLogicalReplicationWorkers: number; readonly maxWorkerProcesses: number; readonly maxSyncWorkersPerSubscription: number };
  /** What a run needs free: one slot and sender per subscription plus table-sync workers. */
  readonly need: { readonly publisherFree: number; readonly subscriberWorkers: number };
}

export interface Database {
  readonly engine: 'postgresql';
  readonly databases: readonly string[];
  readonly passwordSecret: string;
  readonly role: string;
  readonly publication: string;
  readonly subscription: string;
  readonly ports: { readonly old: number; readonly new: number };
  readonly secretFiles: { readonly old: string; readonly new: string };
  /** PostgreSQL runs inside the migration's container on that side (else on the host). */
  readonly inContainer: { readonly old: boolean; readonly new: boolean };
  readonly sizes: PgSizes;
}

/**
 * What the hosts hold about the migration, under /var/lib/migen/<name>/, so that every activation,
 * reboot and dependency respects what a run did (systemd checks ConditionPathExists= at every start).
 */
export interface Fence {
  readonly dir: string;
  /** On the old host, from the stop until a rollback: its unit's `ConditionPathExists=!moved` keeps it stopped. */
  readonly moved: string;
  /** On the new host, from the start on: its unit's `ConditionPathExists=ready` lets it start. */
  readonly ready: string;
  /** On the new host once the verification passed (what migen finalize requires). */
  readonly verified: string;
  /** On the new host once prepare deployed it. */
  readonly prepared: string;
  /** On the old host after a rollback: when and why. */
  readonly rolledBack: string;
  /** The runtime drop-in that fences the new host's unit while its deployed configuration might not (until a reboot). */
  readonly dropIn: string;
  /** The units fenced, and where (inside the container when the application runs in one and the container must run for its database). */
  readonly units: { readonly old: FencedUnit; readonly new: FencedUnit };
}
export interface FencedUnit { readonly unit: string; readonly container: string | null }

/** A moved location of the proxy: its backend read from a file that the runbook writes (an nginx upstream), so the route survives reboots and redeploys and composes with other migrations. */
export interface RouteFile {
  readonly domain: string;
  readonly location: string;
  /** How the route reaches the file: the location's proxyPass or a proxy_pass in extraConfig names migen's upstream, or the user's upstream (via upstream) includes the file instead of its servers. */
  readonly via: 'proxyPass' | 'extraConfig' | 'vhostExtraConfig' | 'upstream';
  readonly upstream: string;
  readonly file: string;
  /** The proxy_pass target while the migration is planned (scheme, migen's upstream, the original path); null when the user's upstream includes the file. */
  readonly proxyPass: string | null;
  /** The file's content for the old backend and for the new one. */
  readonly old: string;
  readonly new: string;
}

/** An extraConfig (of a location, or of the vhost when `location` is null) whose proxy_pass moves: its text while planned and once done. */
export interface RouteEdit { readonly domain: string; readonly location: string | null; readonly planned: string; readonly done: string }
export interface DnsRecordPlan { readonly name: string; readonly type: RecordType; readonly old: string; readonly new: string; readonly ttl: number }

/** The DNS records that move with the service (manifest dns:), resolved. */
export interface DnsPlan {
  readonly records: readonly DnsRecordPlan[];
  readonly resolvers: readonly string[];
  /** Asked without recursion to verify each change. */
  readonly authority: string;
  readonly lowerTo: number;
  readonly aheadSeconds: number;
  /** The host that runs the provider's command and the checks. */
  readonly on: string;
  readonly provider: { readonly kind: 'nsupdate'; readonly server: string; readonly keyFile: string; readonly zone: string | null } | { readonly kind: 'command'; readonly command: string } | { readonly kind: 'person' };
  readonly deadlineSeconds: number;
  /** On `on`: when the TTL was lowered (epoch seconds). */
  readonly loweredStamp: string;
}

/** The service is a DNS server (manifest dnsServer:), resolved. */
export interface DnsServerPlan { readonly query: string; readonly type: RecordType; readonly address: string; readonly secondary: readonly string[]; readonly from: string }

/** What a person or another system does (manifest handoffs:), resolved: its step in the phase `when` names. */
export interface HandoffPlan {
  readonly id: string;
  readonly instruction: string;
  readonly when: 'prepare' | 'before-stop' | 'after-start' | 'after-verify';
  readonly run: Script | null;
  readonly check: Script;
  readonly intervalSeconds: number;
  readonly deadlineSeconds: number;
}

export interface FollowBackup { readonly host: string; readonly name: string; readonly paths: readonly string[]; readonly repository: string | null; readonly passwordFile: string | null; readonly newHasJob: boolean }

export interface MigrationPlan {
  readonly name: string;
  readonly description: string | null;
  readonly service: string;
  readonly serviceTitle: string;
  readonly nixosService: string | null;
  readonly strategy: Strategy;
  readonly status: Status;
  /** Migrations declared to finish before this one (manifest after:). */
  readonly after: readonly string[];
  readonly from: HostRef;
  readonly to: HostRef;
  readonly proxy: HostRef | null;
  readonly container: string | null;
  readonly unit: string;
  readonly state: readonly StateDir[];
  /** SQLite databases, as each host names them. */
  readonly sqlite: readonly SidePaths[];
  readonly criticalFiles: readonly SidePaths[];
  /** `kind` as the old host declares it; `file`: where the new host has it at run time. */
  readonly secrets: readonly { readonly name: string; readonly kind: 'agenix' | 'sops'; readonly file: string }[];
  readonly numericIds: boolean;
  readonly sync: { readonly mode: SyncMode; readonly thresholdBytes: number; readonly maxPasses: number; readonly bandwidthBytesPerSecond: number };
  readonly database: Database | null;
  readonly dns: DnsPlan | null;
  readonly dnsServer: DnsServerPlan | null;
  readonly handoffs: readonly HandoffPlan[];
  readonly routes: {
    readonly moved: readonly RouteChange[];
    readonly staying: readonly RouteStay[];
    readonly upstreams: readonly UpstreamMove[];
    /** After the switch no route on the proxy may name the old host (these names) at these ports. */
    readonly stale: { readonly names: readonly string[]; readonly ports: readonly number[] };
    /** Moved domains that the proxy sends to the old host's own nginx (two layers of proxying): the new host's virtual host for each. */
    readonly inner: readonly InnerVhost[];
  };
  readonly fence: Fence;
  readonly routeFiles: readonly RouteFile[];
  readonly routeEdits: readonly RouteEdit[];
  /** The proxy's activation script that creates the route files (with the old backend) where they are missing. */
  readonly routeDefaults: string;
  /** Set when the old host served the proxy on loopback: the new host must listen on its mesh address. */
  readonly listen: { readonly option: readonly string[] | null; readonly address: string; readonly ports: readonly number[] } | null;
  readonly follow: { readonly backups: readonly FollowBackup[]; readonly scrapeTargets: readonly { readonly host: string; readonly job: string; readonly from: string; readonly to: string }[] };
  /** The estimate for a state of no files; each 1,000 files add perThousandFilesSeconds (the final pass and the dry run walk every file). */
  readonly window: { readonly estimateSeconds: number | null; readonly perThousandFilesSeconds: number; readonly basis: string };
  readonly flake: string;
  readonly backup: ResticBackupPlan | { readonly kind: 'job'; readonly host: string; readonly job: string } | { readonly kind: 'none' };
  /** The copy between the hosts: this migration's keys and what the other host accepts them for (null: relay, or nothing to copy). */
  readonly copyAccess: CopyAccess | null;
  readonly graceDays: number;
  readonly maintenance: { readonly on: string; readonly off: string } | null;
  readonly verify: readonly VerifyCheck[];
  readonly verifyDeadlineSeconds: number;
  readonly warnings: readonly string[];
  readonly steps: readonly Step[];
  /** Per host, the commands its steps run that a stock NixOS host may lack, and their nixpkgs packages. */
  readonly tools: readonly HostTools[];
}

/** A restic snapshot made from consistent copies (plan/backup.ts), and how to restore it. */
export interface ResticBackupPlan {
  readonly kind: 'restic';
  readonly repository: string;
  readonly tag: string;
  readonly tags: readonly string[];
  readonly passwordFile: string | null;
  /** Where the password comes from, for the plan. */
  readonly passwordFrom: string;
  /** On the old host, made before and removed after restic runs: the copies below. */
  readonly snapshotDir: string;
  readonly sqlite: readonly { readonly database: string; readonly snapshot: string }[];
  readonly pgDump: { readonly file: string; readonly dataDirs: readonly string[]; readonly container: string | null; readonly port: number } | null;
  /** Live files restic skips (their copies stand in). */
  readonly exclude: readonly string[];
  /** Commands on the old host that restore it. */
  readonly restore: readonly string[];
}

/** What the phases build steps from: the migration without its steps, window and tools. */
export type Ctx = Omit<MigrationPlan, 'steps' | 'window' | 'tools'>;

export interface Plan {
  readonly formatVersion: 1;
  readonly manifest: string;
  readonly migrations: readonly MigrationPlan[];
}

export interface CopyKey {
  /** The state directory on the client (the host rsync runs on): received into, or sent from. */
  readonly local: string;
  /** The state directory on the server that the key's forced command confines it to. */
  readonly remote: string;
  /** The private key on the client (its public half beside it, `.pub`). */
  readonly key: string;
  /** The forced command of its authorized-keys line on the server. */
  readonly command: string;
  /** The rsync daemon's configuration that command reads (a pulled key), written beside the keys' file. */
  readonly config: { readonly file: string; readonly text: string } | null;
  /** The server's end as rsync names it: its state directory's root (`user@host::state/`, or `user@host:./` through rrsync). */
  readonly far: string;
  /** rsync's `-e`: only this key, no ssh_config (no other identity can stand in), no agent. */
  readonly ssh: string;
}

export interface CopyAccess {
  /** Runs rsync and holds the keys. */
  readonly client: string;
  /** Accepts the keys, for rsync only (its daemon mode, or rrsync). */
  readonly server: string;
  /** The server's ssh user and address, as rsync reaches it. */
  readonly user: string;
  readonly address: string;
  readonly mode: 'ro' | 'wo';
  readonly keyDir: string;
  /** The server's sshd reads this (AuthorizedKeysFile, %u its user): only `file` exists. */
  readonly authorizedKeysFiles: string;
  readonly file: string;
  readonly keys: readonly CopyKey[];
}

export interface HostTools { readonly host: string; readonly commands: readonly string[]; readonly packages: readonly string[] }
