/**
 * The example's Forgejo in the lab (examples/homelab/services/forgejo.nix): nixos-container `forgejo`
 * (test/lab/container.ts) on h001 and h002 with the bindMounts /var/lib/forgejo <- /var/lib/forgejo/data
 * and /var/lib/postgresql <- /var/lib/forgejo/postgres, users forgejo (uid 986, pinned) and postgres
 * (71, NixOS's static uid), and two units started in this order:
 * - postgresql: Debian's PostgreSQL 15 (stateVersion 23.11's default major), data directory
 *   /var/lib/postgresql/15 in the container = /var/lib/forgejo/postgres/15 on the host; NixOS's
 *   settings (listen 'localhost':5433 as the example sets it, zitadel's container having 5432 on the
 *   shared network; log to stderr with prefix "[%p] ", socket /run/postgresql,
 *   pg_hba `local all all peer` ...) in the container's system profile, linked into the data
 *   directory as NixOS links it from the store; KillSignal=SIGINT, KillMode=mixed, TimeoutSec=120;
 *   its start waits for psql and ensures database forgejo owned by role forgejo (postStart).
 * - forgejo: the Forgejo stand-in (forgejo.py) on 0.0.0.0:3000 (the host's network), as forgejo.
 * The runbook's verification and the clients reach it through o001's nginx (https, the lab CA):
 * `proxy: 'direct'` routes git.joshuabell.xyz to <host>:3000, `'inner'` to <host>:80 where a
 * host-local nginx (on h001/h002) routes it by Host to 127.0.0.1:3000; both with a second lab
 * profile 'moved' routing to the other host. `'inventory'` gives o001 the example's proxy
 * configuration (proxyProfiles('forgejo'): 'base' from the generated modules, the moved location
 * reading its backend from a route file, 'previous' without them, active) and each container host
 * its nginx as the example evaluates it: h001's nginx.nix (every domain by Host to loopback),
 * h002's copy of git.joshuabell.xyz from the generated module (only in 'base'); h001's other
 * backends (NEIGHBOURS) run as the lab's app.
 * Every container host gets the system profiles of test/e2e/deployed.ts (container@forgejo with the
 * generated fence as a deploy brings it, 'previous' active: h001 without migen's module, the other
 * hosts without Forgejo), plus the host-local nginx when there is one.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { deployHost } from '../../e2e/deployed.js';
import { fleet, proxyProfiles, resticPasswordFile } from '../../e2e/helpers.js';
import { CONTAINER_POSTGRESQL_SH, CONTAINER_SYSTEM_INSIDE, defineContainer, inContainer } from '../container.js';
import { APP_PY, sq, type Lab, type LabOptions, type NginxVhost, type SystemProfile } from '../lab.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
export const FORGEJO_PY = path.join(HERE, 'forgejo.py');
export const PGBIN = '/usr/lib/postgresql/15/bin';
export const FORGEJO = {
  container: 'forgejo',
  unit: 'container@forgejo',
  domain: 'git.joshuabell.xyz',
  port: 3000,
  /** the container's PostgreSQL (the example's services.postgresql.settings.port) */
  pgPort: 5433,
  /** host paths (the manifest's state) */
  data: '/var/lib/forgejo/data',
  postgres: '/var/lib/forgejo/postgres',
  pgData: '/var/lib/forgejo/postgres/15',
  repositories: '/var/lib/forgejo/data/repositories',
  root: '/var/lib/nixos-containers/forgejo',
  /** the container's unit logs, as host paths */
  pgLog: '/var/lib/nixos-containers/forgejo/var/log/lab-units/postgresql.log',
  forgejoLog: '/var/lib/nixos-containers/forgejo/var/log/lab-units/forgejo.log',
  uid: 986,
  postgresUid: 71,
} as const;
export const ADDR: Record<string, string> = { o001: '100.64.0.1', h001: '100.64.0.13', h002: '100.64.0.20' };
export const RESTIC_ENV = { h001: { RESTIC_PASSWORD_FILE: '/root/.config/restic/password' } };
export const SECRET = '/run/agenix/forgejo-db-password';

export function forgejoLabOptions(extra: Partial<LabOptions> = {}): LabOptions {
  return { hosts: fleet(['o001', 'h001', 'h002']), hostEnv: RESTIC_ENV, ...extra };
}

const ETC = `${CONTAINER_SYSTEM_INSIDE}/etc/postgresql`;
/** The container has its own /tmp (and /root): what its units run comes with its system profile,
 * never from the checkout, which may live under /tmp (a fresh clone in CI). */
const LAB_INSIDE = `${CONTAINER_SYSTEM_INSIDE}/lab`;
const FORGEJO_PY_INSIDE = `${LAB_INSIDE}/forgejo.py`;
const POSTGRESQL_SH_INSIDE = `${LAB_INSIDE}/postgresql.sh`;
const PG_CONF = [
  '# migen lab: NixOS services.postgresql defaults (the module writes these into the store)',
  `hba_file = '${ETC}/pg_hba.conf'`,
  `ident_file = '${ETC}/pg_ident.conf'`,
  "listen_addresses = 'localhost'",
  "log_destination = 'stderr'",
  "log_line_prefix = '[%p] '",
  `port = ${FORGEJO.pgPort}`,
  "unix_socket_directories = '/run/postgresql'",
  '',
].join('\n');
const PG_HBA = '# Generated file; do not edit!\nlocal all all              peer\nhost  all all 127.0.0.1/32 md5\nhost  all all ::1/128      md5\n';
// postStart of NixOS's postgresql.service: ensureDatabases, ensureUsers (ensureDBOwnership)
const ENSURE = [
  "SELECT 'CREATE DATABASE \"forgejo\"' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'forgejo')\\gexec",
  "SELECT 'CREATE USER \"forgejo\"' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'forgejo')\\gexec",
  'ALTER DATABASE "forgejo" OWNER TO "forgejo";',
  '',
].join('\n');

/** container@forgejo on `host`, installed and stopped (its state directories are not created) */
export async function defineForgejo(lab: Lab, host: string, env: Record<string, string> = {}): Promise<void> {
  await defineContainer(lab, host, FORGEJO.container, {
    bindMounts: {
      '/var/lib/forgejo': { hostPath: FORGEJO.data, isReadOnly: false },
      '/var/lib/postgresql': { hostPath: FORGEJO.postgres, isReadOnly: false },
    },
    users: [
      { name: 'postgres', uid: FORGEJO.postgresUid, home: '/var/lib/postgresql/15' },
      { name: 'forgejo', uid: FORGEJO.uid, home: '/var/lib/forgejo' },
    ],
    tmpfiles: [
      // postgresql.service: StateDirectory "postgresql postgresql/15" (mode 0750), RuntimeDirectory
      'd /var/lib/postgresql 0750 postgres postgres',
      'd /var/lib/postgresql/15 0750 postgres postgres',
      'd /run/postgresql 0755 postgres postgres',
      // forgejo.nix's tmpfiles rules
      'd /var/lib/forgejo 0750 forgejo forgejo',
      'd /var/lib/forgejo/custom 0750 forgejo forgejo',
      'd /var/lib/forgejo/custom/conf 0750 forgejo forgejo',
      'd /var/lib/forgejo/data 0750 forgejo forgejo',
      'd /var/lib/forgejo/log 0750 forgejo forgejo',
      'd /var/lib/forgejo/repositories 0750 forgejo forgejo',
    ],
    files: { 'lab/forgejo.py': fs.readFileSync(FORGEJO_PY, 'utf8'), 'lab/postgresql.sh': fs.readFileSync(CONTAINER_POSTGRESQL_SH, 'utf8'), 'etc/postgresql/postgresql.conf': PG_CONF, 'etc/postgresql/pg_hba.conf': PG_HBA, 'etc/postgresql/pg_ident.conf': '', 'etc/postgresql/ensure.sql': ENSURE },
    units: [
      {
        name: 'postgresql',
        spec: {
          exec: ['/bin/bash', POSTGRESQL_SH_INSIDE, PGBIN],
          user: 'postgres',
          env: { PGDATA: '/var/lib/postgresql/15', PG_CONFIG_FILE: `${ETC}/postgresql.conf` },
          killSignal: 'SIGINT',
          killMode: 'mixed',
          stopTimeoutSec: 120,
          ready: { cmd: `runuser -u postgres -- psql -X -q -p ${FORGEJO.pgPort} -d postgres -c '' && runuser -u postgres -- psql -X -q -v ON_ERROR_STOP=1 -p ${FORGEJO.pgPort} -d postgres -f ${ETC}/ensure.sql && rm -f /var/lib/postgresql/15/.first_startup`, timeoutSec: 60 },
        },
      },
      {
        name: 'forgejo',
        spec: {
          exec: ['/usr/bin/python3', FORGEJO_PY_INSIDE, 'web'],
          user: 'forgejo',
          env: { FORGEJO_WORK_DIR: '/var/lib/forgejo', PGHOST: '/run/postgresql', PGPORT: String(FORGEJO.pgPort), HTTP_ADDR: '0.0.0.0', HTTP_PORT: String(FORGEJO.port), ROOT_URL: `https://${FORGEJO.domain}/`, ...env },
          stopTimeoutSec: 90,
          ready: { http: `http://127.0.0.1:${FORGEJO.port}/api/healthz`, timeoutSec: 30 },
        },
      },
    ],
  });
}

export interface ForgejoSetupOptions {
  /** hosts that declare the container (default h001, h002) */
  hosts?: string[];
  /** where it runs, with a user, repositories and seed commits (default h001); null: nowhere */
  running?: string | null;
  /** repositories 'owner/name' (the owner is the user `test`), default ['test/repo'] */
  repos?: string[];
  /** commits pushed to each repository's main at setup (default 3) */
  seedCommits?: number;
  /** o001's route for git.joshuabell.xyz (default 'direct'); 'none': o001's nginx is not touched */
  proxy?: 'direct' | 'inner' | 'inventory' | 'none';
  /** the lab's host-local nginx (git.joshuabell.xyz -> 127.0.0.1:3000) on every container host (default: when proxy is 'inner'; 'inventory' has the example's own) */
  innerNginx?: boolean;
  /** a restic repository /backup/<running> (password file where the forgejo plan's backup reads it) */
  restic?: boolean;
  /** false: no system profiles, proxy or neighbours (a lab with more services on these hosts deploys them once for all) */
  deploy?: boolean;
}

export interface ForgejoSetup {
  user: string;
  password: string;
  /** https URL through the proxy, with the user's credentials when `auth` */
  url(repo?: string, auth?: boolean): string;
  /** git -c settings of an operator client: the domain resolves to o001 (SNI and Host stay the domain) */
  gitConfig: Record<string, string>;
  /** environment of an operator git client: GIT_SSL_CAINFO (the lab CA), the resolve setting as GIT_CONFIG_* */
  gitEnv: Record<string, string>;
  /** o001's profiles as set up, the active one, and the lab's profile routing to the other host ('moved'; none for 'inventory': the runbook switches its route file) */
  proxy: { host: string; profiles: Record<string, SystemProfile>; active: string; moved: string | null } | null;
}

/** git through o001 as the operator: `lab.operator(['git', ...], { env: gitOperatorEnv(lab) })` (also the runbook's verify step) */
export function gitOperatorEnv(lab: Lab, proxyAddress = ADDR.o001!): Record<string, string> {
  return {
    GIT_SSL_CAINFO: lab.caFile,
    GIT_TERMINAL_PROMPT: '0',
    GIT_CONFIG_COUNT: '1',
    GIT_CONFIG_KEY_0: 'http.curloptResolve',
    GIT_CONFIG_VALUE_0: `${FORGEJO.domain}:443:${proxyAddress}`,
  };
}

/** nginx virtual hosts that route git.joshuabell.xyz to `backend` (for lab.nginx on o001 or a host-local nginx) */
export const gitVhost = (backend: string): NginxVhost[] => [{ serverName: FORGEJO.domain, locations: { '/': { proxyPass: backend } } }];

async function must(lab: Lab, host: string, script: string, input?: string): Promise<string> {
  const r = await lab.exec(host, script, { input });
  if (r.code !== 0) throw new Error(`${host}: exit ${r.code}: ${r.stderr}${r.stdout}\n--- script:\n${script}`);
  return r.stdout;
}

export async function setupForgejo(lab: Lab, opts: ForgejoSetupOptions = {}): Promise<ForgejoSetup> {
  const hosts = opts.hosts ?? ['h001', 'h002'];
  const running = opts.running === undefined ? 'h001' : opts.running;
  const repos = opts.repos ?? ['test/repo'];
  const proxyShape = opts.proxy ?? 'direct';
  const user = 'test';
  const password = randomBytes(9).toString('hex');
  for (const h of hosts) {
    await defineForgejo(lab, h);
    await must(lab, h, `install -d -m 0755 /run/agenix && head -c 24 /dev/urandom | base64 > ${SECRET} && chown ${FORGEJO.uid}:${FORGEJO.uid} ${SECRET} && chmod 0400 ${SECRET}`);
  }
  if (running) {
    await must(lab, running, `mkdir -p ${FORGEJO.data} ${FORGEJO.postgres} && systemctl start ${FORGEJO.unit}`);
    await inContainerMust(lab, running, `runuser -u forgejo -- env PGHOST=/run/postgresql PGPORT=${FORGEJO.pgPort} /usr/bin/python3 ${sq(FORGEJO_PY_INSIDE)} admin user create --username ${user} --password ${password} >/dev/null`);
    const auth = `${user}:${password}`;
    for (const repo of repos) {
      const [owner, name] = repo.split('/');
      if (owner !== user || !name) throw new Error(`setupForgejo: repositories belong to ${user} (got ${repo})`);
      await must(lab, running, `curl -fsS -o /dev/null -u ${auth} -H 'Content-Type: application/json' -d '{"name":"${name}"}' http://127.0.0.1:${FORGEJO.port}/api/v1/user/repos`);
      const n = opts.seedCommits ?? 3;
      if (n > 0) {
        await must(lab, running, [
          'set -e; d=$(mktemp -d /root/seed.XXXXXX); cd "$d"; git init -q -b main .',
          `for i in $(seq 1 ${n}); do echo "seed $i" > "seed-$i.txt"; git add "seed-$i.txt"; git -c user.name=seed -c user.email=seed@lab.invalid commit -q -m "seed $i"; done`,
          `out=$(git push http://${auth}@127.0.0.1:${FORGEJO.port}/${repo}.git main 2>&1) && grep -q 'migen-lab: push-event' <<<"$out" || { echo "$out" >&2; exit 1; }`,
          'cd /; rm -rf "$d"',
        ].join('\n'));
      }
    }
    if (opts.restic) {
      // the password where the plan's backup reads it (h001's services.restic.backups.forgejo.passwordFile, an agenix secret)
      const pw = resticPasswordFile('forgejo') ?? '/root/.config/restic/password';
      await must(lab, running, [
        'install -d -m 0700 /root/.config/restic', `mkdir -p -m 0751 ${sq(path.dirname(pw))}`, // agenix's mode; an existing /run/agenix keeps its own
        `head -c 24 /dev/urandom | base64 > ${sq(pw)} && chmod 0400 ${sq(pw)}${pw === '/root/.config/restic/password' ? '' : ` && cp ${sq(pw)} /root/.config/restic/password`}`,
        `restic -r /backup/${running} init -q >/dev/null`,
      ].join('\n'));
    }
  }
  const inner = opts.innerNginx ?? proxyShape === 'inner';
  for (const h of opts.deploy === false ? [] : hosts) {
    const role = h === running ? 'old' : 'new';
    // 'inventory': each host's nginx as the example fleet evaluates (h001's nginx.nix, h002's copy from the generated module)
    if (proxyShape === 'inventory') await deployHost(lab, h, [FORGEJO.unit, 'nginx'], role);
    else await deployHost(lab, h, [FORGEJO.unit], role, inner ? { extraVhosts: gitVhost(`http://127.0.0.1:${FORGEJO.port}`) } : {});
  }
  if (proxyShape === 'inventory' && running && opts.deploy !== false) await startNeighbours(lab, running);
  let proxy: ForgejoSetup['proxy'] = null;
  if (proxyShape === 'inventory') {
    const p = await proxyProfiles('forgejo');
    proxy = { host: p.proxy, profiles: p.profiles, active: 'previous', moved: null };
  } else if (proxyShape !== 'none') {
    const from = running ?? hosts[0]!;
    const to = hosts.find((h) => h !== from) ?? from;
    const port = proxyShape === 'direct' ? `:${FORGEJO.port}` : '';
    const nginx = (to: string): SystemProfile => ({ nginx: { vhosts: gitVhost(`http://${ADDR[to]}${port}`) } });
    proxy = { host: 'o001', profiles: { base: nginx(from), moved: nginx(to) }, active: 'base', moved: 'moved' };
  }
  if (proxy && opts.deploy !== false) await lab.system(proxy.host, { profiles: proxy.profiles, active: proxy.active });
  const env = gitOperatorEnv(lab);
  return {
    user,
    password,
    url: (repo = 'test/repo', auth = false) => `https://${auth ? `${user}:${password}@` : ''}${FORGEJO.domain}/${repo}.git`,
    gitConfig: { 'http.curloptResolve': env.GIT_CONFIG_VALUE_0!, 'http.lowSpeedLimit': '1000', 'http.lowSpeedTime': '5' },
    gitEnv: { GIT_SSL_CAINFO: lab.caFile },
    proxy,
  };
}

/**
 * The rest of what o001 sends to `host` (the example's chat, notes, sec, sso through h001's nginx
 * on loopback, llm on :8095): the lab's app, answering /healthz with "<host> <name>", so a test
 * sees that each domain still reaches its own backend on that host.
 */
export const NEIGHBOURS: Record<string, string> = { chat: '127.0.0.1:8081', notes: '127.0.0.1:8082', sec: '127.0.0.1:8083', sso: '127.0.0.1:8080', llm: `${ADDR.h001}:8095` };
export async function startNeighbours(lab: Lab, host: string, names = Object.keys(NEIGHBOURS)): Promise<void> {
  for (const name of names) {
    const listen = NEIGHBOURS[name]!;
    await lab.defineUnit(host, `lab-${name}`, { exec: ['/usr/bin/python3', APP_PY], env: { STATE_DIR: `/var/lib/lab-${name}`, LISTEN: listen, LAB_HOST: `${host} ${name}` }, ready: { http: `http://${listen}/healthz` } });
    await must(lab, host, `systemctl start lab-${name}`);
  }
}

async function inContainerMust(lab: Lab, host: string, script: string): Promise<string> {
  const r = await inContainer(lab, host, FORGEJO.container, script);
  if (r.code !== 0) throw new Error(`${host} (container forgejo): exit ${r.code}: ${r.stderr}${r.stdout}\n--- script:\n${script}`);
  return r.stdout;
}
