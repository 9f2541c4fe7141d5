/**
 * The lab fleet of the hot (PostgreSQL logical replication) tests, shaped like the example's
 * zitadel migration (h001 -> h002 behind o001's nginx):
 * - Two real PostgreSQL 15 servers (Debian's binaries), data in /var/lib/zitadel/postgres on each
 *   host, socket in the host's private /run/postgresql. Their postgresql.conf settings and pg_hba
 *   lines come from the GENERATED NixOS modules, evaluated with real nix
 *   (containers.zitadel.config.services.postgresql.{settings,authentication} of h001 and h002),
 *   plus `local all all peer` (NixOS's default, for the runbook's `runuser -u postgres -- psql`)
 *   and `local zitadel zitadel trust` (stands in for the zitadel OS user's peer login).
 * - STAND-IN `nixos-container` at /usr/local/sbin on both hosts (test/lab/stand-ins/nixos-container,
 *   with the container declared as `lab-host-units`): `run zitadel -- CMD...` runs CMD on the host
 *   itself (the container's services are host units here, unlike test/lab/container.ts's containers).
 * - Units: `postgresql`; `zitadel` (app.mjs: Node + pg, HTTP on 127.0.0.1:8080, Zitadel's port in
 *   the example, behind each host's own nginx: h001's routes sso.joshuabell.xyz by Host to it, h002's
 *   gets that virtual host from the generated module); `nginx`;
 *   `container@zitadel` = start postgresql, then stay up (so the runbook's early start of the
 *   container on h002 brings up the subscriber and `nixos-container run zitadel -- systemctl stop
 *   zitadel` stops only the app).
 * - The replication password /run/agenix/migen-replication-zitadel (owner postgres) on both
 *   hosts; restic repository /backup/h001, its password where the plan's backup reads it.
 * - System profiles from the generated modules (test/e2e/deployed.ts): container@zitadel (wanted
 *   by machines.target, autoStart) and zitadel (the container's unit, a host unit here, with its
 *   generated ConditionPathExists fence); h001 and o001 start on their configuration from before
 *   the generated module, h002 on one without zitadel. A restart of container@zitadel (its
 *   restart trigger changes when the generated module changes the container) restarts only the
 *   unit's own process here, not PostgreSQL or the app (they are host units of their own).
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { containerSystem, installNixosContainer } from '../container.js';
import type { Lab, LabOptions } from '../lab.js';
import { deployHost } from '../../e2e/deployed.js';
import { fleet, migenRun, proxyProfiles, REPO, resticPasswordFile, type MigenRun } from '../../e2e/helpers.js';
import { nixEvalJson, repoRoot } from '../../helpers/nix.js';
import { overridesFor } from '../../helpers/repo.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
export const APP_MJS = path.join(HERE, 'app.mjs');
const PG_UNIT = path.join(HERE, 'postgres-unit.sh');
export const PGBIN = '/usr/lib/postgresql/15/bin';
export const PGDATA = '/var/lib/zitadel/postgres';
export const SECRET = '/run/agenix/migen-replication-zitadel';
export const NAME = 'zitadel';
export const DOMAIN = 'sso.joshuabell.xyz';
export const PUB = 'migen_pub_zitadel';
export const SUB = 'migen_sub_zitadel_zitadel';
export const ADDR: Record<string, string> = { o001: '100.64.0.1', h001: '100.64.0.13', h002: '100.64.0.20' };
/** containers.zitadel.config.services.zitadel.settings.Port in the example: the app on each host's loopback */
export const APP_PORT = 8080;
export const RESTIC_ENV = { h001: { RESTIC_PASSWORD_FILE: '/root/.config/restic/password' } };

export function zitadelLabOptions(extra: Partial<LabOptions> = {}): LabOptions {
  return { hosts: fleet(['o001', 'h001', 'h002']), hostEnv: RESTIC_ENV, ...extra };
}

type PgValue = string | number | boolean;
export interface PgConfig { settings: Record<string, PgValue>; authentication: string }
let evaluated: Promise<Record<'h001' | 'h002', PgConfig>> | undefined;

/** the generated modules' PostgreSQL settings and pg_hba lines of h001 and h002 (real nix eval) */
export function generatedPg(): Promise<Record<'h001' | 'h002', PgConfig>> {
  evaluated ??= nixEvalJson(path.join(repoRoot, 'examples/homelab'), 'nixosConfigurations', {
    overrides: overridesFor(repoRoot),
    apply: `cfgs: builtins.listToAttrs (map (h: let pg = cfgs.\${h}.config.containers.zitadel.config.services.postgresql; in {
      name = h; value = { settings = builtins.removeAttrs pg.settings [ "_module" ]; authentication = pg.authentication; }; }) [ "h001" "h002" ])`,
  }) as Promise<Record<'h001' | 'h002', PgConfig>>;
  return evaluated;
}

const pgLiteral = (v: PgValue): string => (typeof v === 'number' ? String(v) : typeof v === 'boolean' ? (v ? 'on' : 'off') : `'${String(v).replace(/'/g, "''")}'`);

export function renderConf(settings: Record<string, PgValue>): string {
  return [
    '# migen lab: settings from the generated NixOS module (nix eval of services.postgresql.settings)',
    ...Object.entries(settings).sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, v]) => `${k} = ${pgLiteral(v)}`),
    '',
  ].join('\n');
}

export function renderHba(authentication: string): string {
  return [
    '# migen lab pg_hba.conf',
    '# stands in for the zitadel OS user\'s peer login (the app runs as root in the lab)',
    'local zitadel zitadel trust',
    '# NixOS\'s default first line: the runbook\'s `runuser -u postgres -- psql`',
    'local all all peer',
    '# services.postgresql.authentication of the generated module:',
    authentication.trim(),
    '',
  ].join('\n');
}

export async function must(lab: Lab, host: string, script: string, input?: string): Promise<string> {
  const r = await lab.exec(host, script, { input });
  if (r.code !== 0) throw new Error(`${host}: exit ${r.code}: ${r.stderr}${r.stdout}\n--- script:\n${script}`);
  return r.stdout;
}

/** psql as postgres on a host, SQL on stdin; -At output */
export async function sql(lab: Lab, host: string, db: string, query: string): Promise<string> {
  return (await must(lab, host, `cd / && runuser -u postgres -- psql -X -q -v ON_ERROR_STOP=1 -At -d ${db}`, query)).trim();
}
export async function trySql(lab: Lab, host: string, db: string, query: string): Promise<{ code: number; out: string }> {
  const r = await lab.exec(host, `cd / && runuser -u postgres -- psql -X -q -v ON_ERROR_STOP=1 -At -d ${db}`, { input: query });
  return { code: r.code, out: (r.stdout + r.stderr).trim() };
}

export interface ZitadelSetup {
  /** the replication password (also the marker searched for in outputs and command lines) */
  password: string;
  marker: string;
}

export interface SetupOptions {
  /** start h001's PostgreSQL with wal_level=replica and apply the generated settings only by reload (as a deploy would): the runbook must restart it */
  walLevelPending?: boolean;
  seedRows?: number;
  /** environment of the zitadel unit on h002 (APP_BROKEN=1: the app cannot start there) */
  h002AppEnv?: Record<string, string>;
  /** false: no system profiles (a lab with more services on these hosts deploys them once for all) */
  deploy?: boolean;
}

/** everything the zitadel runbook expects: h001 serves (PostgreSQL + app), h002 has both installed, stopped, no database */
export async function setupZitadel(lab: Lab, opts: SetupOptions = {}): Promise<ZitadelSetup> {
  const pg = await generatedPg();
  const marker = randomBytes(12).toString('hex');
  // quote, backslash and space: the conninfo and SQL quoting of the runbook must hold
  const password = `mg pw'\\${marker}`;
  for (const h of ['h001', 'h002'] as const) {
    const dir = lab.hostDir(h);
    installNixosContainer(lab, h);
    fs.mkdirSync(lab.hostFile(h, containerSystem(NAME)), { recursive: true });
    fs.writeFileSync(lab.hostFile(h, `${containerSystem(NAME)}/lab-host-units`), '');
    await must(lab, h, [
      'install -d -m 0755 /run/agenix',
      `cat > ${SECRET} && chown postgres:postgres ${SECRET} && chmod 0400 ${SECRET}`,
      'install -d -o postgres -g postgres -m 2775 /run/postgresql',
      'install -d -m 0755 /var/lib/zitadel',
      `install -d -o postgres -g postgres -m 0700 ${PGDATA}`,
      `runuser -u postgres -- ${PGBIN}/initdb -D ${PGDATA} -U postgres -E UTF8 --locale=C.UTF-8 -A peer >/dev/null`,
      `echo "include_if_exists = 'migen.conf'" >> ${PGDATA}/postgresql.conf`,
      `echo "unix_socket_directories = '/run/postgresql'" >> ${PGDATA}/postgresql.conf`,
      'head -c 32 /dev/urandom | base64 > /run/agenix/zitadel-masterkey',
    ].join('\n'), password);
    const walPending = h === 'h001' && opts.walLevelPending;
    const settings = walPending ? { ...pg[h].settings, wal_level: 'replica' } : pg[h].settings;
    fs.writeFileSync(path.join(dir, 'var-lib', 'zitadel/postgres/migen.conf'), renderConf(settings));
    fs.writeFileSync(path.join(dir, 'var-lib', 'zitadel/postgres/pg_hba.conf'), renderHba(pg[h].authentication));
    // RuntimeDirectory=postgresql as NixOS's postgresql.service: its socket directory comes back after a boot emptied /run
    await lab.defineUnit(h, 'postgresql', { exec: [PG_UNIT, PGBIN, PGDATA], user: 'postgres', runtimeDirectory: ['postgresql'], ready: { cmd: `runuser -u postgres -- ${PGBIN}/pg_isready -q -h /run/postgresql -p 5432 -d postgres`, timeoutSec: 30 } });
    await lab.defineUnit(h, 'container@zitadel', { exec: ['/bin/sh', '-c', 'systemctl start postgresql && exec sleep infinity'], ready: { cmd: `runuser -u postgres -- ${PGBIN}/pg_isready -q -h /run/postgresql -p 5432 -d postgres`, timeoutSec: 30 } });
    await lab.defineUnit(h, 'zitadel', {
      exec: [process.execPath, APP_MJS],
      env: { LISTEN: `127.0.0.1:${APP_PORT}`, ...(h === 'h002' ? opts.h002AppEnv : {}) },
      ready: { http: `http://127.0.0.1:${APP_PORT}/debug/healthz`, timeoutSec: 15 },
    });
  }
  // the password where the plan's backup reads it (h001's restic job's passwordFile, an agenix secret), and in root's environment
  const pw = resticPasswordFile(NAME) ?? '/root/.config/restic/password';
  await must(lab, 'h001', [
    'install -d -m 0700 /root/.config/restic', `mkdir -p -m 0751 ${path.dirname(pw)}`, // agenix's mode; an existing /run/agenix keeps its own
    `head -c 24 /dev/urandom | base64 > ${pw} && chmod 0600 ${pw}${pw === '/root/.config/restic/password' ? '' : ` && cp ${pw} /root/.config/restic/password`}`,
    'restic -r /backup/h001 init -q >/dev/null',
    'systemctl start container@zitadel',
  ].join('\n'));
  await sql(lab, 'h001', 'postgres', 'CREATE ROLE zitadel LOGIN; CREATE DATABASE zitadel OWNER zitadel;');
  await must(lab, 'h001', 'psql -X -q -v ON_ERROR_STOP=1 -h /run/postgresql -U zitadel -d zitadel', `
CREATE TABLE items (id serial PRIMARY KEY, body text NOT NULL, n int NOT NULL DEFAULT 0, created_at timestamptz NOT NULL DEFAULT now());
CREATE TABLE events (id bigserial PRIMARY KEY, item_id int NOT NULL, kind text NOT NULL, at timestamptz NOT NULL DEFAULT now());
INSERT INTO items (body) SELECT 'seed ' || g FROM generate_series(1, ${opts.seedRows ?? 500}) g;
INSERT INTO events (item_id, kind) SELECT id, 'seed' FROM items;
`);
  if (opts.walLevelPending) {
    // the deploy of the generated module: new settings in place, PostgreSQL reloaded, not restarted
    fs.writeFileSync(path.join(lab.hostDir('h001'), 'var-lib', 'zitadel/postgres/migen.conf'), renderConf(pg.h001.settings));
    await sql(lab, 'h001', 'postgres', 'SELECT pg_reload_conf();');
  }
  await must(lab, 'h001', 'systemctl start zitadel');
  if (opts.deploy === false) return { password, marker };
  // the system profiles (test/e2e/deployed.ts): h001 and o001 run their configuration from before
  // the generated module, h002 one without zitadel; the runbook's deploys activate 'base'
  await deployHost(lab, 'h001', ['container@zitadel', 'zitadel', 'nginx'], 'old');
  await deployHost(lab, 'h002', ['container@zitadel', 'zitadel', 'nginx'], 'new');
  const { proxy, profiles } = await proxyProfiles(NAME);
  await lab.system(proxy, { profiles, active: 'previous' });
  return { password, marker };
}

/** a --root for the runbook inside the lab directory: the manifest and inventory it hashes */
export function makeZitadelRoot(lab: Lab, sub = 'repo'): string {
  const root = path.join(lab.dir, sub);
  fs.rmSync(root, { recursive: true, force: true });
  for (const f of ['examples/homelab/inventory.json', 'examples/homelab/migrations/zitadel.yaml']) {
    fs.mkdirSync(path.dirname(path.join(root, f)), { recursive: true });
    fs.copyFileSync(path.join(REPO, f), path.join(root, f));
  }
  return root;
}

/** `migen run zitadel` as the operator; `yes: false` leaves out --yes (stdin is no terminal: the confirmation is refused) */
export function runZitadel(lab: Lab, root: string, opts: { yes?: boolean; extra?: string[] } = {}): MigenRun {
  return migenRun(lab, NAME, root, opts.extra ?? [], {}, { yes: opts.yes });
}

/** replication objects of this migration on both hosts */
export async function replicationObjects(lab: Lab): Promise<{ publications: string; slots: string; subscriptions: string; readOnly: string }> {
  const publications = (await trySql(lab, 'h001', 'zitadel', 'SELECT string_agg(pubname, \',\') FROM pg_publication;')).out;
  const slots = (await trySql(lab, 'h001', 'postgres', 'SELECT string_agg(slot_name, \',\') FROM pg_replication_slots;')).out;
  const up = await lab.exec('h002', 'systemctl is-active -q postgresql');
  const subscriptions = up.code === 0 ? (await trySql(lab, 'h002', 'postgres', 'SELECT string_agg(subname, \',\') FROM pg_subscription;')).out : '(h002 postgresql not running)';
  // a new session's default: what the app gets when it connects
  const readOnly = (await trySql(lab, 'h001', 'zitadel', 'SHOW default_transaction_read_only;')).out;
  return { publications, slots, subscriptions, readOnly };
}

/**
 * Scans every process's command line on the machine (the lab hosts' PID namespaces are nested
 * in it) every `everyMs` for `needle`; stop() returns the command lines that contained it.
 */
export function watchCmdlines(needle: string, everyMs = 25): { stop(): { hits: string[]; scans: number } } {
  const hits = new Set<string>();
  let scans = 0;
  const scan = (): void => {
    scans++;
    for (const e of fs.readdirSync('/proc')) {
      if (!/^\d+$/.test(e)) continue;
      let c: string;
      try { c = fs.readFileSync(`/proc/${e}/cmdline`, 'latin1'); } catch { continue; }
      if (c.includes(needle)) hits.add(`${e}: ${c.replace(/\0/g, ' ').slice(0, 300)}`);
    }
  };
  const timer = setInterval(scan, everyMs);
  return { stop() { clearInterval(timer); scan(); return { hits: [...hits], scans }; } };
}

/** files under `dir` (recursively) whose content contains `needle` */
export function filesContaining(dir: string, needle: string): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    let entries: fs.Dirent[];
    try { entries = fs.readdirSync(d, { withFileTypes: true }); } catch { return; }
    for (const e of entries) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile()) { try { if (fs.readFileSync(p, 'latin1').includes(needle)) out.push(p); } catch { /* unreadable */ } }
    }
  };
  walk(dir);
  return out;
}

/** the longest gap between consecutive acknowledged writes that overlaps [from, to] (default: any) */
export function longestGap(acked: { t: number; id: number }[], from = -Infinity, to = Infinity): { ms: number; from: number; to: number; beforeId: number; afterId: number } {
  let best = { ms: 0, from: 0, to: 0, beforeId: 0, afterId: 0 };
  const sorted = [...acked].sort((a, b) => a.t - b.t);
  for (let i = 1; i < sorted.length; i++) {
    const a = sorted[i - 1]!; const b = sorted[i]!;
    if (b.t < from || a.t > to) continue;
    if (b.t - a.t > best.ms) best = { ms: b.t - a.t, from: a.t, to: b.t, beforeId: a.id, afterId: b.id };
  }
  return best;
}
