import type { Strategy, Status, SyncMode, VerifyCheck } from '../types.js';
import type { HostRef } from '../model/hosts.js';
import type { RouteChange, RouteStay } from '../model/routes.js';
import type { Step } from '../../runbook/steps.js';

export type { Step, StepKind, Script, HostScript, PipeScript, Phase, Where } from '../../runbook/steps.js';
export { PHASES } from '../../runbook/steps.js';
export type { HostRef } from '../model/hosts.js';
export type { RouteChange, RouteStay } from '../model/routes.js';

export interface StateDir { readonly path: string; readonly owner: string | null; readonly uid: number | null; readonly group: string | null; readonly gid: number | null }

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
  readonly upstream: string;
  readonly file: string;
  /** The location's proxyPass while the migration is planned (scheme, the upstream, the original path). */
  readonly proxyPass: string;
  /** The file's content for the old backend and for the new one. */
  readonly old: string;
  readonly new: string;
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
  readonly from: HostRef;
  readonly to: HostRef;
  readonly proxy: HostRef | null;
  readonly container: string | null;
  readonly unit: string;
  readonly state: readonly StateDir[];
  readonly sqlite: readonly string[];
  readonly criticalFiles: readonly string[];
  readonly secrets: readonly { readonly name: string; readonly kind: 'agenix' | 'sops' }[];
  readonly numericIds: boolean;
  readonly sync: { readonly mode: SyncMode; readonly thresholdBytes: number; readonly maxPasses: number; readonly bandwidthBytesPerSecond: number };
  readonly database: Database | null;
  readonly routes: { readonly moved: readonly RouteChange[]; readonly staying: readonly RouteStay[] };
  readonly fence: Fence;
  readonly routeFiles: readonly RouteFile[];
  /** The proxy's activation script that creates the route files (with the old backend) where they are missing. */
  readonly routeDefaults: string;
  /** Set when the old host served the proxy on loopback: the new host must listen on its mesh address. */
  readonly listen: { readonly option: readonly string[] | null; readonly address: string; readonly ports: readonly number[] } | null;
  readonly follow: { readonly backups: readonly FollowBackup[]; readonly scrapeTargets: readonly { readonly host: string; readonly job: string; readonly from: string; readonly to: string }[] };
  readonly window: { readonly estimateSeconds: number | null; readonly basis: string };
  readonly flake: string;
  readonly backup: { readonly kind: 'restic'; readonly repository: string; readonly tag: string; readonly passwordFile: string | null } | { readonly kind: 'job'; readonly host: string; readonly job: string } | { readonly kind: 'none' };
  readonly graceDays: number;
  readonly maintenance: { readonly on: string; readonly off: string } | null;
  readonly verify: readonly VerifyCheck[];
  readonly verifyDeadlineSeconds: number;
  readonly warnings: readonly string[];
  readonly steps: readonly Step[];
}

/** What the phases build steps from: the migration without its steps and window. */
export type Ctx = Omit<MigrationPlan, 'steps' | 'window'>;

export interface Plan {
  readonly formatVersion: 1;
  readonly manifest: string;
  readonly migrations: readonly MigrationPlan[];
}
