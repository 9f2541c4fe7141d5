// The pre-migration backup, restorable by construction: restic never reads a live database. Each
// SQLite database is copied first with VACUUM INTO (one read transaction: a consistent snapshot
// while the service writes, checked with integrity_check) and a PostgreSQL data directory is
// replaced by pg_dumpall (inside the container when the database runs in one); restic backs up the
// state without the live files plus those copies, and the plan prints how to restore it.
import type { InventoryHost, MigrationSpec, Strategy } from '../types.js';
import { isDatabaseDir } from './pg/index.js';
import { cmd } from './shell.js';
import { literal } from './sql.js';
import type { MigrationPlan, ResticBackupPlan, StateDir } from './types.js';

export type Backup = MigrationPlan['backup'];
type ResticBackup = ResticBackupPlan;

export interface BackupInput {
  readonly name: string;
  readonly m: MigrationSpec;
  readonly oldInv: InventoryHost;
  readonly state: readonly StateDir[];
  readonly sqlite: readonly string[];
  readonly container: string | null;
  readonly strategy: Strategy;
}

export const restoreRoot = (name: string): string => `/var/tmp/migen-restore-${name}`;

/** The job of the old host that backs up to this repository, or covers the state. */
function jobOf(inv: InventoryHost, pick: (j: InventoryHost['backups']['restic'][string]) => boolean): string | null {
  const jobs = inv.backups.restic;
  return Object.keys(jobs).sort().find((j) => pick(jobs[j]!)) ?? null;
}

export function backupOf(b: BackupInput): Backup {
  const { m, oldInv, state } = b;
  const restic = m.backup?.restic;
  if (m.backup?.none) return { kind: 'none' };
  const host = oldInv.hostName;
  if (restic) {
    // Without a password file in the manifest: the one of the host's own job on this repository.
    const job = restic.passwordFile ? null : jobOf(oldInv, (j) => j.repository === restic.repository && j.passwordFile !== null);
    const passwordFile = restic.passwordFile ?? (job ? oldInv.backups.restic[job]!.passwordFile : null);
    const from = restic.passwordFile ? 'the manifest (backup.restic.passwordFile)' : job ? `services.restic.backups.${job}.passwordFile on ${host}` : `RESTIC_PASSWORD_FILE or RESTIC_PASSWORD in root's environment on ${host} (no backup.restic.passwordFile, and no restic job of ${host} on ${restic.repository})`;
    return resticBackup(b, restic.repository, restic.tag ?? 'pre-migration', passwordFile, from);
  }
  const job = jobOf(oldInv, (j) => j.paths.some((bp) => state.some((s) => s.old === bp || s.old.startsWith(`${bp}/`))));
  if (!job) return { kind: 'none' };
  const j = oldInv.backups.restic[job]!;
  // The job's own run would read the live files: with a repository migen can reach (a local
  // path), the backup goes there with the job's password, from consistent copies.
  if (j.repository?.startsWith('/')) return resticBackup(b, j.repository, 'pre-migration', j.passwordFile, j.passwordFile ? `services.restic.backups.${job}.passwordFile on ${host}` : `root's environment on ${host}`);
  return { kind: 'job', host, job };
}

function resticBackup(b: BackupInput, repository: string, tag: string, passwordFile: string | null, passwordFrom: string): ResticBackup {
  const snapshotDir = `/var/lib/migen/backup/${b.name}`;
  const sqlite = b.sqlite.map((database) => ({ database, snapshot: `${snapshotDir}${database}` }));
  // every strategy: a hot migration's live data directory is no consistent copy either (its own
  // pg_dumpall step, kept on the old host, comes after and is not in the repository)
  const dataDirs = b.state.map((s) => s.old).filter(isDatabaseDir);
  const inContainer = b.container !== null && (b.oldInv.containers[b.container]?.services.includes('postgresql') ?? false);
  const pgRuns = inContainer || (b.container === null && b.oldInv.postgresql.enable);
  // The server's own port: a container's PostgreSQL on another port (the example's Forgejo has 5433,
  // Zitadel's 5432 on the same network) has no socket at the default one, and NixOS sets no PGPORT.
  const port = inContainer ? b.oldInv.containers[b.container!]!.postgresql.port : b.oldInv.postgresql.port;
  const pgDump = dataDirs.length && pgRuns ? { file: `${snapshotDir}/pg_dumpall.sql`, dataDirs, container: inContainer ? b.container : null, port } : null;
  const exclude = [...sqlite.flatMap((s) => ['', '-wal', '-shm', '-journal'].map((x) => `${s.database}${x}`)), ...(pgDump?.dataDirs ?? [])];
  const base = { kind: 'restic' as const, repository, tag, passwordFile, passwordFrom, tags: [tag, `migen-${b.name}`], snapshotDir, sqlite, pgDump, exclude };
  return { ...base, restore: restoreCommands(b.name, base) };
}

const restic = (x: Pick<ResticBackup, 'repository' | 'passwordFile'>): string => `${cmd`restic -r ${x.repository}`}${x.passwordFile ? cmd` --password-file ${x.passwordFile}` : ''}`;

function restoreCommands(name: string, x: Omit<ResticBackup, 'restore'>): string[] {
  const root = restoreRoot(name);
  return [
    `${restic(x)} ${cmd`restore latest --tag ${`migen-${name}`} --target ${root}`}`,
    ...x.sqlite.map((s) => cmd`cp -p ${`${root}${s.snapshot}`} ${`${root}${s.database}`}`),
    ...(x.pgDump ? [`${cmd`runuser -u postgres -- psql -X -q -v ON_ERROR_STOP=1 -p ${x.pgDump.port} -f ${`${root}${x.pgDump.file}`} postgres`}  # into an empty PostgreSQL of the same major${x.pgDump.container ? `, inside the container ${x.pgDump.container}` : ''}`] : []),
  ];
}

/** The backup step's script on the old host: the copies, then restic over `paths` (the state) and them. */
export function backupScript(x: ResticBackup, paths: readonly string[]): string {
  const lines = [cmd`rm -rf ${x.snapshotDir} && install -d -m 0700 ${x.snapshotDir}`];
  for (const s of x.sqlite) {
    lines.push(
      cmd`test -f ${s.database} || { echo ${`${s.database} is missing`} >&2; exit 1; }`,
      cmd`install -d -m 0700 ${s.snapshot.slice(0, s.snapshot.lastIndexOf('/'))}`,
      `${cmd`sqlite3 -bail ${s.database}`} <<'SQL'\n.timeout 10000\nVACUUM INTO ${literal(s.snapshot)};\nSQL`,
      cmd`test "$(sqlite3 -readonly ${s.snapshot} 'PRAGMA integrity_check;')" = ok`,
      cmd`chown --reference=${s.database} ${s.snapshot} && chmod --reference=${s.database} ${s.snapshot}`,
    );
  }
  if (x.pgDump) {
    const dump = cmd`runuser -u postgres -- pg_dumpall -p ${x.pgDump.port}`;
    lines.push(
      `${x.pgDump.container ? `${cmd`nixos-container run ${x.pgDump.container} -- `}${dump}` : dump} > ${cmd`${x.pgDump.file}`}`,
      cmd`tail -n 5 ${x.pgDump.file} | grep -q 'PostgreSQL database cluster dump complete'`,
    );
  }
  const words = [...x.tags.flatMap((t) => ['--tag', t]), ...x.exclude.flatMap((e) => ['--exclude', e]), ...paths, x.snapshotDir];
  // restic exits 3 when it could not read some source data (restic's docs, "Exit codes"). The
  // service runs during the backup, so files that vanish between restic's scan and its read (a git
  // push's temporary objects and lock files) are what live state does, as rsync's exit 24 in a live
  // pass: the snapshot then holds every file that stayed. Any other read error fails the step.
  lines.push(
    `rc=0; out=$(${restic(x)} ${cmd`backup ${words}`} 2>&1) || rc=$?`,
    `printf '%s\n' "$out"`,
    `if [ "$rc" = 3 ]; then errs=$(printf '%s\n' "$out" | grep '^error: ' || true)`,
    `  if [ -n "$errs" ] && ! printf '%s\n' "$errs" | grep -qv ': no such file or directory$'; then echo 'restic: files vanished while it read the running service (exit 3); the snapshot holds every file that stayed'; else exit 3; fi`,
    `elif [ "$rc" != 0 ]; then exit "$rc"; fi`,
  );
  lines.push(cmd`rm -rf ${x.snapshotDir}`);
  return lines.join('\n');
}
