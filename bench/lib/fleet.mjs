// Synthetic fleets for benchmarks: an inventory (schemas/inventory.schema.json) and manifests
// (schemas/manifest.schema.json) that pass validation, deterministic for a given size.
//
// Shape: hosts come in groups of ten. The first host of a group is its reverse proxy and
// Prometheus server (nginx with ~80 virtual hosts, ~30 scrape targets); the other nine are
// backends that run about ten services each: forgejo and zitadel in nixos-containers (with their
// own PostgreSQL), vaultwarden, headscale, adguardhome, a host PostgreSQL, restic, and custom
// apps (app-1 .. app-7) with their own users, secrets, vhosts and backup paths.
// Migrations move one service from a backend to a backend of the next group, mixing presets and
// custom services, cold/warm/hot strategies, explicit and default domains, backups from the
// manifest, from the inventory's restic jobs or none, and some migrations already done.
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';

const GROUP = 10;
const APPS = 7;
/** Per backend host, the services a migration may move (each at most once: states never overlap). */
const SLOTS = ['forgejo', 'zitadel', 'vaultwarden', 'headscale', 'adguardhome', ...Array.from({ length: APPS }, (_, k) => `app-${k + 1}`)];

const pad = (n, w = 4) => String(n).padStart(w, '0');
export const hostName = (i) => `h${pad(i)}`;
const address = (i) => `100.64.${Math.floor(i / 250)}.${(i % 250) + 1}`;
const isProxy = (i) => i % GROUP === 0;
const proxyOf = (i) => i - (i % GROUP);
const domain = (sub, i) => `${sub}.${hostName(i)}.fleet.example`;

function baseUsers() {
  return {
    users: { root: { uid: 0, group: 'root' }, nobody: { uid: 65534, group: 'nogroup' }, ops: { uid: 1000, group: 'users' } },
    groups: { root: { gid: 0 }, nogroup: { gid: 65534 }, users: { gid: 100 }, wheel: { gid: 1 } },
  };
}

function backendHost(i) {
  const { users, groups } = baseUsers();
  users.vaultwarden = { uid: null, group: 'vaultwarden' };
  groups.vaultwarden = { gid: null };
  users.headscale = { uid: 900, group: 'headscale' };
  groups.headscale = { gid: 900 };
  users.postgres = { uid: 71, group: 'postgres' };
  groups.postgres = { gid: 71 };
  const agenix = ['db-replication', 'forgejo-db-password', 'forgejo-secret-key', 'headscale-noise-key', 'vaultwarden-env', 'zitadel-masterkey'];
  for (let k = 1; k <= APPS; k++) {
    users[`app-${k}`] = { uid: 2000 + k, group: `app-${k}` };
    groups[`app-${k}`] = { gid: 2000 + k };
    agenix.push(`app-${k}-env`);
  }
  return {
    hostName: hostName(i),
    address: address(i),
    sshTarget: `root@${address(i)}`,
    system: 'x86_64-linux',
    stateVersion: i % 3 === 0 ? '23.11' : '24.11',
    domain: null,
    fqdn: null,
    magicDnsDomain: null,
    deploy: i % 4 === 0 ? 'colmena' : 'nixos-rebuild',
    listen: [],
    persistence: { enable: false, directories: [] },
    services: ['adguardhome', 'headscale', 'postgresql', 'restic', 'vaultwarden'],
    containers: {
      forgejo: { autoStart: true, localAddress: null, privateNetwork: false, stateVersion: '23.11', services: ['forgejo', 'postgresql'], postgresql: { enable: true, port: 5432, version: '15.10' }, listen: [] },
      zitadel: { autoStart: true, localAddress: null, privateNetwork: false, stateVersion: '23.11', services: ['postgresql', 'zitadel'], postgresql: { enable: true, port: 5432, version: '15.10' }, listen: [] },
    },
    users,
    groups,
    postgresql: { enable: true, port: 5432, version: '16.6' },
    secrets: { agenix: agenix.sort(), sops: ['backup-password', 'smtp-password'] },
    nginx: { enable: false, virtualHosts: {}, upstreams: {} },
    backups: {
      restic: {
        state: { repository: `sftp:backup@${hostName(proxyOf(i))}:/srv/restic/${hostName(i)}`, paths: ['/var/lib/forgejo', '/var/lib/headscale', '/var/lib/vaultwarden'], passwordFile: '/etc/nixos/restic-password' },
        apps: { repository: `/backup/${hostName(i)}`, paths: Array.from({ length: APPS }, (_, k) => `/var/lib/app-${k + 1}`).filter((_, k) => k % 2 === 0), passwordFile: null },
        system: { repository: `/backup/${hostName(i)}`, paths: ['/etc/nixos', '/root'], passwordFile: null },
      },
    },
    monitoring: { scrapeTargets: [] },
  };
}

/** A location as the inventory exports it. */
const loc = (proxyPass) => ({ proxyPass, recommendedProxySettings: true, extraConfig: '' });

function proxyHost(i, n) {
  const { users, groups } = baseUsers();
  users.nginx = { uid: 60, group: 'nginx' };
  groups.nginx = { gid: 60 };
  users.prometheus = { uid: 255, group: 'prometheus' };
  groups.prometheus = { gid: 255 };
  const virtualHosts = {};
  const scrapeTargets = [];
  virtualHosts[domain('status', i)] = { extraConfig: '', locations: { '/': loc('http://127.0.0.1:3001') } };
  virtualHosts[domain('static', i)] = { extraConfig: '', locations: { '/': loc(null) } };
  for (let j = i + 1; j < Math.min(i + GROUP, n); j++) {
    const a = address(j);
    virtualHosts[domain('git', j)] = { extraConfig: '', locations: { '/': loc(`http://${a}:3000`) } };
    virtualHosts[domain('sso', j)] = { extraConfig: '', locations: { '/': loc(`http://${a}:8080`), '/ui/console': loc(`http://${a}:8080/ui/console`) } };
    virtualHosts[domain('vault', j)] = { extraConfig: '', locations: { '/': loc(`http://${a}:8222`), '/notifications/hub': loc(`http://${a}:3012`) } };
    virtualHosts[domain('headscale', j)] = { extraConfig: '', locations: { '/': loc(`http://${a}:8085`) } };
    for (let k = 1; k <= APPS; k++) virtualHosts[domain(`app-${k}`, j)] = { extraConfig: '', locations: { '/': loc(`http://${a}:${9000 + k}`) } };
    scrapeTargets.push({ job: 'node', target: `${a}:9100` }, { job: 'postgres', target: `${a}:9187` }, { job: 'apps', target: `${a}:9001` });
  }
  return {
    hostName: hostName(i),
    address: address(i),
    sshTarget: `root@${address(i)}`,
    system: 'x86_64-linux',
    stateVersion: '24.11',
    domain: null,
    fqdn: null,
    magicDnsDomain: null,
    deploy: 'nixos-rebuild',
    listen: [],
    persistence: { enable: false, directories: [] },
    services: ['nginx', 'restic'],
    containers: {},
    users,
    groups,
    postgresql: { enable: false, port: 5432, version: null },
    secrets: { agenix: ['acme-credentials', 'backup-password'], sops: [] },
    nginx: { enable: true, virtualHosts, upstreams: {} },
    backups: { restic: { system: { repository: `/backup/${hostName(i)}`, paths: ['/etc/nixos', '/var/lib/acme'], passwordFile: null } } },
    monitoring: { scrapeTargets },
  };
}

export function inventory(n) {
  const hosts = {};
  for (let i = 0; i < n; i++) hosts[hostName(i)] = isProxy(i) ? proxyHost(i, n) : backendHost(i);
  return { formatVersion: 1, hosts };
}

/** Backend indices of a fleet of n hosts. */
const backends = (n) => Array.from({ length: n }, (_, i) => i).filter((i) => !isProxy(i));

/** The migration of `slot` from backend `from` to backend `to`, k-th of the fleet (varies the shapes). */
function migration(slot, from, to, k) {
  const m = { service: slot.startsWith('app-') ? 'custom' : slot, from: hostName(from), to: hostName(to) };
  const explicitDomains = k % 2 === 0;
  const backup = k % 3 === 0 ? { restic: { repository: `sftp:backup@${hostName(proxyOf(from))}:/srv/restic/pre-${hostName(from)}`, tag: 'pre-migration' } }
    : k % 3 === 1 ? undefined /* the inventory's restic job when one covers the state */ : { none: true };
  switch (slot) {
    case 'forgejo':
      Object.assign(m, { strategy: k % 2 ? 'cold' : 'warm', description: `Forgejo off ${hostName(from)} for a rebuild.` });
      if (explicitDomains) m.domains = [domain('git', from)];
      m.verify = [{ http: `https://${domain('git', from)}/`, status: 200 }, { command: `git ls-remote https://${domain('git', from)}/ops/infra.git`, on: 'operator' }];
      break;
    case 'zitadel':
      Object.assign(m, { strategy: 'hot', database: { engine: 'postgresql', databases: ['zitadel'], passwordSecret: 'db-replication' } });
      if (explicitDomains) m.domains = [domain('sso', from)];
      break;
    case 'vaultwarden':
      Object.assign(m, { strategy: 'warm', sync: { thresholdBytes: 8388608, maxPasses: 6 } });
      if (explicitDomains) m.domains = [domain('vault', from)];
      break;
    case 'headscale':
      Object.assign(m, { strategy: k % 2 ? 'warm' : 'cold', verify: [{ command: 'headscale nodes list', on: 'new' }] });
      break;
    case 'adguardhome':
      Object.assign(m, { strategy: 'cold', verify: [{ command: 'dig +short +time=2 @127.0.0.1 nixos.org', on: 'new' }] });
      break;
    default: {
      const hot = k % 4 === 3;
      Object.assign(m, {
        strategy: hot ? 'hot' : k % 2 ? 'cold' : 'warm',
        description: `custom ${slot}`,
        unit: `${slot}.service`,
        state: [`/var/lib/${slot}`],
        secrets: [`${slot}-env`],
        domains: [domain(slot, from)],
        verify: [{ http: `https://${domain(slot, from)}/healthz`, status: 200 }, { command: `systemctl is-active ${slot}.service`, on: 'new' }],
        maintenance: { on: `touch /var/lib/${slot}/maintenance`, off: `rm -f /var/lib/${slot}/maintenance` },
      });
      if (hot) m.database = { engine: 'postgresql', databases: [slot.replace(/-/g, '_')], passwordSecret: 'db-replication' };
      if (k % 5 === 0) m.sync = { mode: 'push', bandwidthBytesPerSecond: 20000000 };
    }
  }
  if (backup) m.backup = backup;
  if (k % 10 === 9) m.status = 'done';
  return m;
}

/** m migrations over a fleet of n hosts: [name, spec] pairs, no two copying the same state. */
export function migrations(n, count) {
  const bs = backends(n);
  if (count > bs.length * SLOTS.length) throw new Error(`${count} migrations do not fit ${n} hosts (at most ${bs.length * SLOTS.length})`);
  const used = new Set();
  const out = [];
  for (let k = 0; k < count; k++) {
    const from = bs[k % bs.length];
    let s = k % SLOTS.length;
    while (used.has(`${from}/${SLOTS[s]}`)) s = (s + 1) % SLOTS.length;
    used.add(`${from}/${SLOTS[s]}`);
    // To a backend of the next group (the same group when there is only one).
    const to = bs[(k % bs.length + 9) % bs.length] === from ? bs[(k % bs.length + 1) % bs.length] : bs[(k % bs.length + 9) % bs.length];
    out.push([`m${pad(k, 3)}-${SLOTS[s]}-${hostName(from)}`, migration(SLOTS[s], from, to, k)]);
  }
  return out;
}

/**
 * Writes a fleet into dir: inventory.json, flake.nix (empty marker), migrations/*.yaml.
 * layout "single": one manifest with every migration; "split": one manifest per migration.
 * Returns the manifest paths relative to dir.
 */
export function writeFleet(dir, { hosts, count, layout }) {
  mkdirSync(path.join(dir, 'migrations'), { recursive: true });
  const inv = inventory(hosts);
  writeFileSync(path.join(dir, 'inventory.json'), `${JSON.stringify(inv, null, 2)}\n`);
  writeFileSync(path.join(dir, 'flake.nix'), '# benchmark fleet marker (never evaluated)\n{ outputs = _: { }; }\n');
  const ms = migrations(hosts, count);
  const doc = (entries) => `# synthetic benchmark manifest (bench/lib/fleet.mjs)\n${YAML.stringify({ version: 1, inventory: '../inventory.json', migrations: Object.fromEntries(entries) })}`;
  const files = [];
  if (layout === 'single') {
    writeFileSync(path.join(dir, 'migrations/fleet.yaml'), doc(ms));
    files.push('migrations/fleet.yaml');
  } else {
    for (const [name, spec] of ms) {
      writeFileSync(path.join(dir, `migrations/${name}.yaml`), doc([[name, spec]]));
      files.push(`migrations/${name}.yaml`);
    }
  }
  return { manifests: files, inventoryBytes: Buffer.byteLength(JSON.stringify(inv, null, 2)) + 1 };
}
