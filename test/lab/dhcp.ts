/**
 * migen lab: DHCP on the lab's bridge with real parts from Debian: dnsmasq (package
 * dnsmasq-base) as the network's DHCP server, dhcpcd (package dhcpcd-base) as the client.
 * - `setupDhcpServer(lab, host, { dnsServers })`: dnsmasq (unit `dnsmasq`, DHCP only, no DNS)
 *   on the host's eth0, offering addresses of 100.64.200.0/24 in the lab's /10 and DHCP option 6
 *   (DNS servers) from its options file. `setDnsServers` is the change a person makes on the
 *   router: it rewrites that file and reloads dnsmasq (SIGHUP re-reads --dhcp-optsfile,
 *   dnsmasq(8)); `offers()` lists every offer dnsmasq logged (--log-dhcp), oldest first.
 * - `dhcpClient(lab, host)`: the host's `dhcpcd` (see DHCPCD below); `dhcpQuery(lab, host)` runs
 *   `dhcpcd -T -4 -1 -t 10` there (test mode: it asks for an offer, prints its options and
 *   configures nothing) and returns the printed `new_*` variables.
 * Files live in the host's private /var/lib/dnsmasq; dnsmasq drops root to user dnsmasq.
 */
import fs from 'node:fs';
import { sq, type Lab } from './lab.js';

export interface DhcpServerOptions {
  /** option 6, in order */
  dnsServers: string[];
}
export interface DhcpOffer { serial: string; mac: string; address: string; dnsServers: string[] }
export interface DhcpServer {
  host: string;
  address: string;
  /** option 6 from now on; returns once dnsmasq has re-read it */
  setDnsServers(servers: string[]): Promise<void>;
  /** every DHCPOFFER so far, oldest first, with the option 6 it carried */
  offers(): DhcpOffer[];
}

const IP_RE = /^(\d{1,3}\.){3}\d{1,3}$/;
const DIR = '/var/lib/dnsmasq';
const LOG = '/var/log/lab-units/dnsmasq.log';

async function must(lab: Lab, host: string, script: string): Promise<string> {
  const r = await lab.exec(host, script);
  if (r.code !== 0) throw new Error(`lab dhcp on ${host}: exit ${r.code}: ${r.stderr.trim()} ${r.stdout.trim()}\n${script}`);
  return r.stdout;
}

const optionsLine = (servers: string[]): string => {
  if (!servers.length || servers.some((s) => !IP_RE.test(s))) throw new Error(`lab dhcp: bad DNS servers ${servers.join(',')}`);
  return `option:dns-server,${servers.join(',')}\n`;
};

/** the offers in a dnsmasq --log-dhcp log: `SERIAL DHCPOFFER(if) ADDRESS MAC`, then its `sent ... option: 6 dns-server A, B` */
export function parseOffers(log: string): DhcpOffer[] {
  const offers = new Map<string, DhcpOffer>();
  for (const line of log.split('\n')) {
    const o = /^dnsmasq-dhcp\[\d+\]: (\d+) DHCPOFFER\(\S+\) (\S+) (\S+)/.exec(line);
    if (o) { offers.set(o[1]!, { serial: o[1]!, address: o[2]!, mac: o[3]!.toLowerCase(), dnsServers: [] }); continue; }
    const d = /^dnsmasq-dhcp\[\d+\]: (\d+) sent size: +\d+ option: +6 dns-server +(.+)$/.exec(line);
    const offer = d && offers.get(d[1]!);
    if (offer) offer.dnsServers = d[2]!.split(',').map((s) => s.trim());
  }
  return [...offers.values()];
}

export async function setupDhcpServer(lab: Lab, host: string, opts: DhcpServerOptions): Promise<DhcpServer> {
  const address = lab.hosts.find((h) => h.name === host)?.address;
  if (!address) throw new Error(`lab dhcp: no host ${host}`);
  const conf = [
    '# migen lab: dnsmasq as the network\'s DHCP server (written by dhcp.ts)',
    'port=0', // no DNS: this router hands out other servers
    'interface=eth0',
    'bind-interfaces',
    'dhcp-range=100.64.200.1,100.64.200.250,1h',
    `dhcp-optsfile=${DIR}/options`,
    `dhcp-leasefile=${DIR}/leases`,
    // the lab's hosts keep their static addresses: an offer is read (dhcpcd -T), never bound,
    // so the check that an offered address is free (an ICMP echo, up to 3 s) proves nothing here
    'no-ping',
    'log-dhcp',
    'log-facility=-',
    'pid-file=',
    'user=dnsmasq',
    '',
  ].join('\n');
  await must(lab, host, [
    'set -e',
    `install -d -m 0755 ${DIR}`,
    `cat > ${DIR}/dnsmasq.conf <<'EOF'\n${conf}EOF`,
    `printf %s ${sq(optionsLine(opts.dnsServers))} > ${DIR}/options`,
    `: > ${DIR}/leases`,
    `dnsmasq --test -C ${DIR}/dnsmasq.conf`,
  ].join('\n'));
  await lab.defineUnit(host, 'dnsmasq', {
    // -k: foreground (the unit's main process); -C: only this file, never the machine's /etc/dnsmasq.conf
    exec: ['/usr/sbin/dnsmasq', '-k', '-C', `${DIR}/dnsmasq.conf`],
    ready: { cmd: 'ss -Hlun "sport = :67" | grep -q .' },
  });
  await must(lab, host, 'systemctl start dnsmasq');
  const log = lab.hostFile(host, LOG);
  const reads = (): number => (fs.readFileSync(log, 'utf8').match(new RegExp(`^dnsmasq-dhcp\\[\\d+\\]: read ${DIR}/options$`, 'gm')) ?? []).length;
  return {
    host,
    address,
    async setDnsServers(servers) {
      const before = reads();
      await must(lab, host, `printf %s ${sq(optionsLine(servers))} > ${DIR}/options.tmp && mv -f ${DIR}/options.tmp ${DIR}/options && systemctl reload dnsmasq`);
      for (let i = 0; i < 500 && reads() <= before; i++) await new Promise((r) => setTimeout(r, 10));
      if (reads() <= before) throw new Error(`lab dhcp: dnsmasq on ${host} did not re-read ${DIR}/options`);
    },
    offers: () => parseOffers(fs.readFileSync(log, 'utf8')),
  };
}

/**
 * The machine's real /usr/sbin/dhcpcd, run as NixOS runs its own (WORKAROUND for two differences
 * between a lab host and a NixOS host; no stand-in: dhcpcd does all the work):
 * - Privilege separation: nixpkgs builds dhcpcd without it (pkgs/by-name/dh/dhcpcd/package.nix:
 *   `enablePrivSep ? false`, --disable-privsep), Debian with it. dhcpcd turns privsep off when its
 *   user does not exist (privsep.c ps_init: "no such user dhcpcd"), so the wrapper hides that user
 *   from it. This also avoids a crash of Debian 12's 9.4.1 in test mode with privsep (SIGSEGV
 *   after the TEST hook, dhcp.c writing state->bpf that privsep leaves NULL: Debian #1041204,
 *   upstream issue #232, fixed by PR #231 in 10.0.3) whose privsep proxies live on holding
 *   stdout, so that `$(dhcpcd -T ...)` never returns.
 * - udev: a lab host is a network namespace without udev; dhcpcd waits for udev to initialise
 *   each interface ("waiting for interface to initialise") unless it finds its namespace under
 *   /var/run/netns (src/dev/udev.c udev_start, if-linux.c if_getnetworknamespace: "udev does not
 *   work in a network namespace"). The host's private /run hides the machine's /run/netns, so
 *   the wrapper shows the namespace there, as `ip netns exec` does.
 * Both in a mount namespace of the command's own: nothing stays mounted after it.
 */
const DHCPCD = (host: string): string => `#!/bin/bash
# migen lab: the machine's dhcpcd on lab host ${host}, without privsep as NixOS builds it (WORKAROUND, see test/lab/dhcp.ts)
exec unshare --mount --propagation private -- /bin/bash -c '
set -euo pipefail
mkdir -p /run/netns /run/lab-dhcpcd
mount -t tmpfs -o size=16k,mode=0755 lab-netns /run/netns
touch /run/netns/${host} && mount --bind /proc/self/ns/net /run/netns/${host}
mount -t tmpfs -o size=1m,mode=0755 lab-dhcpcd /run/lab-dhcpcd
grep -v "^dhcpcd:" /etc/passwd > /run/lab-dhcpcd/passwd
mount --bind /run/lab-dhcpcd/passwd /etc/passwd
exec /usr/sbin/dhcpcd "$@"' dhcpcd "$@"
`;

/** `dhcpcd` on the host's PATH (its private /usr/local/sbin, first) runs the machine's as above */
export function dhcpClient(lab: Lab, host: string): void {
  if (!/^[a-z0-9-]+$/i.test(host)) throw new Error(`lab dhcp: bad host ${host}`);
  const f = lab.hostFile(host, '/usr/local/sbin/dhcpcd');
  fs.writeFileSync(f, DHCPCD(host), { mode: 0o755 });
  fs.chmodSync(f, 0o755);
  // its mount points (empty directories; made again after a reboot empties /run)
  for (const d of ['/run/netns', '/run/lab-dhcpcd']) fs.mkdirSync(lab.hostFile(host, d), { recursive: true, mode: 0o755 });
}

/** `dhcpcd -T -4 -1 -t 10` on the host (the handoff check's query): the offer's `new_*` variables, unquoted */
export async function dhcpQuery(lab: Lab, host: string): Promise<Record<string, string>> {
  const r = await lab.exec(host, 'dhcpcd -T -4 -1 -t 10', { timeoutMs: 30_000 });
  const vars: Record<string, string> = {};
  for (const m of r.stdout.matchAll(/^new_([a-z0-9_]+)='([^']*)'$/gm)) vars[m[1]!] = m[2]!;
  if (r.code !== 0 || !Object.keys(vars).length) throw new Error(`lab dhcp: dhcpcd -T on ${host}: exit ${r.code}: ${r.stderr}${r.stdout}`);
  return vars;
}

/** the MAC address of the host's eth0 (what dnsmasq logs for its client) */
export async function macOf(lab: Lab, host: string): Promise<string> {
  const m = /link\/ether ([0-9a-f:]{17})/.exec(await must(lab, host, 'ip -o link show dev eth0'));
  if (!m) throw new Error(`lab dhcp: no MAC address on ${host}'s eth0`);
  return m[1]!;
}
