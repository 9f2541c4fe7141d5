/**
 * The example fleet's services as lab units, shaped like the example's NixOS configuration, each
 * host with the system profiles of test/e2e/deployed.ts: 'base' (what the runbook's deploy
 * activates: the generated modules evaluated with nix) and 'previous' (what it ran before:
 * o001/h003 without the generated module, h002 without these services), 'previous' active:
 * - vaultwarden: o001 runs it on 127.0.0.1:8222 behind its own nginx (vault.joshuabell.xyz);
 *   h002 has it defined, not running, on 100.64.0.20:8222 (the route file's new backend); its
 *   deploy installs it fenced (ConditionPathExists=/var/lib/migen/vaultwarden/ready).
 *   o001 backs up with restic to /backup/o001 (repository initialised here; the password file
 *   is the host's, named by RESTIC_PASSWORD_FILE in its environment: hostEnv below).
 *   h002 holds the agenix secret the runbook's preflight asks for.
 * - adguardhome: the lab's app with its DNS responder, state in /var/lib/private/AdGuardHome,
 *   on h003 (running) and h002 (installed, stopped); their deploys also bring the generated
 *   modules' packages (rsync, dig, sqlite) and sshd's copy-access files (test/lab/packages.ts).
 *   `setupClientsNetwork`: what its clients have besides (examples/homelab/migrations/
 *   adguardhome.yaml): the secondary DNS 1.1.1.1 (unbound on host `internet`, the address routed
 *   from every host and the operator; nixos.org from a BIND authority there, empty until the test
 *   adds the record) and DHCP from host `router` (dnsmasq) handing out "100.64.0.3 1.1.1.1"; h003
 *   reads it with dhcpcd's test mode, as the handoff's check does.
 * - h001 (when in the lab): the other vhosts' backends, http on :80 and :8095, so the test sees
 *   that they still answer from h001 after the cutover.
 */
import fs from 'node:fs';
import {
  activateAndSettle, addAddress, APP_PY, dhcpClient, routeEverywhere, setupDhcpServer, setupDnsAuthority, setupResolver,
  type DhcpServer, type DnsAuthority, type Lab, type LabOptions,
} from '../lab/index.js';
import { deployGenerated } from '../lab/packages.js';
import { deployHost, type Variant } from './deployed.js';
import { fleet, proxyProfiles } from './helpers.js';

export const VW_STATE = '/var/lib/vaultwarden';
export const VW_DB = `${VW_STATE}/db.sqlite3`;
export const VW_DOMAIN = 'vault.joshuabell.xyz';
export const AGH_STATE = '/var/lib/private/AdGuardHome';
export const AGH_DB = `${AGH_STATE}/db.sqlite3`;
export const RESTIC_ENV = { o001: { RESTIC_PASSWORD_FILE: '/root/.config/restic/password' } };

export function vaultwardenLabOptions(extra: Partial<LabOptions> = {}, withH001 = true): LabOptions {
  return { hosts: fleet(withH001 ? ['o001', 'h001', 'h002'] : ['o001', 'h002']), hostEnv: RESTIC_ENV, ...extra };
}

async function must(lab: Lab, host: string, script: string): Promise<string> {
  const r = await lab.exec(host, script);
  if (r.code !== 0) throw new Error(`${host}: ${script}: exit ${r.code}: ${r.stderr}${r.stdout}`);
  return r.stdout;
}

export async function defineVaultwarden(lab: Lab, host: 'o001' | 'h002', env: Record<string, string> = {}): Promise<void> {
  const listen = host === 'o001' ? '127.0.0.1:8222' : '100.64.0.20:8222';
  await lab.defineUnit(host, 'vaultwarden', {
    exec: ['/usr/bin/python3', APP_PY],
    env: { STATE_DIR: VW_STATE, LISTEN: listen, ...env },
    // an UNHEALTHY service answers 503: it is ready once it listens
    ready: env.UNHEALTHY ? { tcp: Number(listen.split(':')[1]) } : { http: `http://${listen}/alive` },
  });
}

/** everything the vaultwarden runbook expects before it runs; o001 serves, with some state */
/** `h002Variant: 'without-migen'`: h002's deploy does not carry the generated module (its unit has no fence) */
export async function setupVaultwarden(lab: Lab, opts: { h002Env?: Record<string, string>; blobMiB?: number; h002Variant?: Variant } = {}): Promise<void> {
  const withH001 = lab.hosts.some((h) => h.name === 'h001');
  await must(lab, 'o001', [
    'install -d -m 0700 /root/.config/restic',
    'head -c 24 /dev/urandom | base64 > /root/.config/restic/password && chmod 0600 /root/.config/restic/password',
    'restic -r /backup/o001 init -q >/dev/null',
  ].join('\n'));
  await must(lab, 'h002', 'install -d -m 0755 /run/agenix && head -c 32 /dev/urandom | base64 > /run/agenix/vaultwarden-env && chmod 0400 /run/agenix/vaultwarden-env');
  await defineVaultwarden(lab, 'o001');
  await defineVaultwarden(lab, 'h002', opts.h002Env);
  if (withH001) {
    for (const [unit, port] of [['web', 80], ['llm', 8095]] as const) {
      await lab.defineUnit('h001', unit, { exec: ['/usr/bin/python3', APP_PY], env: { STATE_DIR: `/var/lib/${unit}`, LISTEN: `100.64.0.13:${port}` }, ready: { tcp: port } });
      await must(lab, 'h001', `systemctl start ${unit}`);
    }
  }
  // o001 (proxy and old host) runs its configuration from before the generated module: nginx and
  // vaultwarden start as wanted units; h002 runs one without vaultwarden
  const { proxy, profiles } = await proxyProfiles('vaultwarden', ['nginx', 'vaultwarden']);
  await lab.system(proxy, { profiles, active: 'previous' });
  await deployHost(lab, 'h002', ['vaultwarden'], 'new', { variant: opts.h002Variant });
  await must(lab, 'o001', 'systemctl is-active -q vaultwarden');
  // some state: rows, attachments, and a larger file (Vaultwarden's icon cache, say)
  await must(lab, 'o001', [
    'for i in $(seq 1 40); do curl -fsS -o /dev/null -X POST --data "seed $i" "http://127.0.0.1:8222/items$([ $((i % 4)) -eq 0 ] && echo ?attach=1)"; done',
    `mkdir -p ${VW_STATE}/icon_cache && head -c ${(opts.blobMiB ?? 1) * 1048576} /dev/urandom > ${VW_STATE}/icon_cache/blob.bin`,
  ].join('\n'));
}

/**
 * Back to "o001 serves vaultwarden, h002 has none of its state", keeping o001's state and each
 * host's active configuration: h002's copy, markers and runtime fence go; o001's moved marker and
 * route file go (its activation writes the route file with the old backend again) and o001's
 * current configuration is activated again (nginx reloaded; vaultwarden, wanted, starts).
 */
export async function resetVaultwarden(lab: Lab, root: string): Promise<void> {
  // a run's transient units (the coordinator, the guards) and its locks, markers and journals go
  const units = ['cutover', 'guard-old', 'guard-new', 'guard-routes'].map((u) => `migen-vaultwarden-${u}`).join(' ');
  for (const h of ['o001', 'h002']) await must(lab, h, `systemctl stop ${units} 2>/dev/null; rm -rf /var/lib/migen/lock /var/lib/migen/vaultwarden`);
  await must(lab, 'h002', `systemctl stop vaultwarden; rm -rf ${VW_STATE} /run/systemd/system/vaultwarden.service.d`);
  const current = (await must(lab, 'o001', 'readlink /run/current-system')).trim();
  await must(lab, 'o001', `rm -f /var/lib/migen/nginx/vaultwarden/0.upstream
( ${activateAndSettle(`${current}/bin/switch-to-configuration`)}
) >/dev/null || exit 1; systemctl start vaultwarden && systemctl is-active -q vaultwarden`);
  fs.rmSync(`${root}/.migen`, { recursive: true, force: true });
}

/** The hosts (of these) that hold a run's lock (/var/lib/migen/lock, the runbooks' LOCK_PATH). */
export async function locked(lab: Lab, hosts = lab.hosts.map((h) => h.name)): Promise<string[]> {
  const out: string[] = [];
  for (const h of hosts) if ((await lab.exec(h, 'test -e /var/lib/migen/lock')).code === 0) out.push(h);
  return out;
}

export async function activeOn(lab: Lab, unit: string, hosts: string[]): Promise<string[]> {
  const out: string[] = [];
  for (const h of hosts) if ((await lab.exec(h, `systemctl is-active --quiet ${unit}`)).code === 0) out.push(h);
  return out;
}

/** which host answers vault.joshuabell.xyz through the proxy (https, the lab CA) */
export async function servedBy(lab: Lab, domain = VW_DOMAIN): Promise<string> {
  const r = await lab.operator(['curl', '-sS', '--max-time', '3', '--resolve', `${domain}:443:100.64.0.1`, `https://${domain}/healthz`]);
  return r.code === 0 ? r.stdout.trim() : `curl exit ${r.code}: ${r.stderr.trim()}`;
}

export async function setupAdguard(lab: Lab, records: Record<string, string>): Promise<void> {
  for (const [host, addr] of [['h003', '100.64.0.3'], ['h002', '100.64.0.20']] as const) {
    await lab.defineUnit(host, 'adguardhome', {
      exec: ['/usr/bin/python3', APP_PY],
      env: { STATE_DIR: AGH_STATE, LISTEN: `${addr}:3000`, DNS_LISTEN: '0.0.0.0:53' },
      ready: { http: `http://${addr}:3000/alive` },
    });
  }
  // h003 runs the configuration from before the generated module (adguardhome wanted: it starts),
  // h002 one without adguardhome; the runbook deploys both
  await must(lab, 'h003', 'install -d -m 0700 /var/lib/private');
  await deployHost(lab, 'h003', ['adguardhome'], 'old');
  await deployHost(lab, 'h002', ['adguardhome'], 'new');
  for (const h of ['h003', 'h002']) await deployGenerated(lab, h);
  await must(lab, 'h003', 'systemctl is-active -q adguardhome');
  for (const [name, a] of Object.entries(records)) await must(lab, 'h003', `curl -fsS -o /dev/null -X POST --data ${a} http://100.64.0.3:3000/dns/${name}`);
  await must(lab, 'h003', `for i in $(seq 1 20); do curl -fsS -o /dev/null -X POST --data "rule $i" "http://100.64.0.3:3000/items$([ $((i % 5)) -eq 0 ] && echo ?attach=1)"; done`);
}

/** the hosts of setupClientsNetwork, besides h003 */
export const CLIENTS_NETWORK_HOSTS = [{ name: 'internet', address: '100.64.0.53' }, { name: 'router', address: '100.64.0.254' }];
export const SECONDARY_DNS = '1.1.1.1';

export async function setupClientsNetwork(lab: Lab): Promise<{ nixosOrg: DnsAuthority; dhcp: DhcpServer; queryLog: string }> {
  const nixosOrg = await setupDnsAuthority(lab, 'internet', { zone: 'nixos.org', records: [] });
  await addAddress(lab, 'internet', `${SECONDARY_DNS}/32`);
  await routeEverywhere(lab, `${SECONDARY_DNS}/32`, 'internet');
  await setupResolver(lab, 'internet', { forwardZone: 'nixos.org', to: nixosOrg.address, listen: SECONDARY_DNS, logQueries: true });
  const dhcp = await setupDhcpServer(lab, 'router', { dnsServers: ['100.64.0.3', SECONDARY_DNS] });
  dhcpClient(lab, 'h003');
  return { nixosOrg, dhcp, queryLog: lab.hostFile('internet', '/var/log/lab-units/unbound.log') };
}
