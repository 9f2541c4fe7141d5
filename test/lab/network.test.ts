/**
 * The network the example's AdGuard Home clients have, with real parts: a public resolver at
 * 1.1.1.1 (unbound on `internet`, an address of its own routed from every host; nixos.org from a
 * BIND authority there) and DHCP from the router (dnsmasq) read with dhcpcd's test mode. The
 * committed runbook's own scripts run against it: the secondary's check (step secondary-dns) and
 * the DHCP handoff's check (step handoff-dhcp), which must fail until the router hands out h002.
 */
import { beforeAll, describe, expect, test } from 'vitest';
import { dhcpClient, dhcpQuery, macOf, setupDhcpServer, type DhcpServer } from './dhcp.js';
import { resolve, setupDnsAuthority, setupResolver, type DnsAuthority } from './dns.js';
import { LAB_PREFIX, useLab } from './lab.js';
import { findLeftovers } from './leftovers.js';
import { addAddress, routeEverywhere } from './net.js';
import { runbookSteps, runScript, scriptOf, stepOf } from './steps.js';

const ctx = useLab({ hosts: [{ name: 'h003', address: '100.64.0.3' }, { name: 'internet', address: '100.64.0.53' }, { name: 'router', address: '100.64.0.254' }] });
let auth: DnsAuthority;
let dhcp: DhcpServer;

beforeAll(async () => {
  const { lab } = ctx;
  auth = await setupDnsAuthority(lab, 'internet', { zone: 'nixos.org', records: [] });
  await addAddress(lab, 'internet', '1.1.1.1/32');
  await routeEverywhere(lab, '1.1.1.1/32', 'internet');
  await setupResolver(lab, 'internet', { forwardZone: 'nixos.org', to: auth.address, listen: '1.1.1.1', logQueries: true });
  dhcp = await setupDhcpServer(lab, 'router', { dnsServers: ['100.64.0.3', '1.1.1.1'] });
  dhcpClient(lab, 'h003');
}, 60_000);

const sh = async (host: string, script: string) => (await ctx.lab.exec(host, script)).stdout;

describe('the clients\' network: 1.1.1.1 and DHCP', () => {
  test('1.1.1.1 is unbound on internet, reached from h003 and the operator; the runbook\'s secondary check waits for nixos.org', async () => {
    const { lab } = ctx;
    const check = scriptOf(stepOf(await runbookSteps('adguardhome'), 'secondary-dns'));
    const none = await resolve(lab, 'h003', '1.1.1.1', 'nixos.org');
    expect([none.status, none.value]).toEqual(['NOERROR', undefined]); // the zone, no A record yet
    expect((await runScript(lab, check)).code).not.toBe(0);
    await auth.setRecord({ name: 'nixos.org', value: '203.0.113.7', ttl: 300 });
    for (let i = 0; i < 50 && (await resolve(lab, 'h003', '1.1.1.1', 'nixos.org')).value !== '203.0.113.7'; i++) await new Promise((r) => setTimeout(r, 100));
    expect((await runScript(lab, check)).code).toBe(0);
    expect((await resolve(lab, 'operator', '1.1.1.1', 'nixos.org')).value).toBe('203.0.113.7');
    // unbound answered it (its query log names the asker), not something else on the address
    expect(await sh('internet', 'cat /var/log/lab-units/unbound.log')).toMatch(/info: 100\.64\.0\.3 nixos\.org\. A IN/);
    // a route for the one address: the rest of the outside is still unreachable at once
    expect((await lab.exec('h003', 'ip route get 8.8.8.8')).code).not.toBe(0);
  });

  test('dhcpcd -T reads the router\'s offer and changes nothing on h003; the handoff check passes only once the router hands out h002', async () => {
    const { lab } = ctx;
    // (the machine's /run/netns entries of every lab come and go with other labs: left out)
    const state = `ip -4 addr show dev eth0; ip -4 route; ls /run; grep -v ' /run/netns/${LAB_PREFIX}' /proc/self/mounts | sort`;
    const before = await sh('h003', state);
    const resolvConf = await sh('h003', 'cat /etc/resolv.conf');
    const offer = await dhcpQuery(lab, 'h003');
    expect(offer.domain_name_servers).toBe('100.64.0.3 1.1.1.1');
    expect(offer.ip_address).toMatch(/^100\.64\.200\.\d+$/);
    expect(offer.dhcp_server_identifier).toBe('100.64.0.254');

    const check = scriptOf(stepOf(await runbookSteps('adguardhome'), 'handoff-dhcp'), 'check');
    const mac = await macOf(lab, 'h003');
    const seen = dhcp.offers().filter((o) => o.mac === mac).length;
    expect((await runScript(lab, check)).code).not.toBe(0); // the router still hands out h003 first
    const old = dhcp.offers().filter((o) => o.mac === mac).slice(seen);
    expect(old.length).toBeGreaterThan(0); // the check asked (one DISCOVER, or more when an offer came late)
    expect([...new Set(old.map((o) => o.dnsServers.join(' ')))]).toEqual(['100.64.0.3 1.1.1.1']);

    await dhcp.setDnsServers(['100.64.0.20', '1.1.1.1']); // the person's change on the router
    expect((await runScript(lab, check)).code).toBe(0);
    expect(dhcp.offers().filter((o) => o.mac === mac).at(-1)!.dnsServers).toEqual(['100.64.0.20', '1.1.1.1']);

    // test mode configured nothing: same address and routes, no dhcpcd left running, nothing
    // mounted by the wrapper, the machine's resolv.conf untouched (dhcpcd's hooks stop at TEST)
    expect(await sh('h003', state)).toBe(before);
    expect(await sh('h003', 'pgrep -a dhcpcd || true')).toBe('');
    expect(await sh('h003', 'cat /etc/resolv.conf')).toBe(resolvConf);
  });

  test('teardown leaves nothing behind', async () => {
    const { lab } = ctx;
    await lab.teardown();
    expect(await findLeftovers(lab.id)).toEqual([]);
  });
});
