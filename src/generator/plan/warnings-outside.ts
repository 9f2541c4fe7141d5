// Warnings about what lies outside the hosts: DNS records that move (dns:), the clients of a DNS
// server (dnsServer:), what people must do (handoffs:), and the presets whose seed procedure
// depends on them (Headscale by DNS, AdGuard Home with a secondary server and a DHCP change).
import type { InventoryHost, MigrationSpec } from '../types.js';
import type { Preset } from '../model/catalog.js';
import type { Ctx } from './types.js';

export function outsideWarnings(c: Omit<Ctx, 'warnings'>, m: MigrationSpec, p: Preset | null, newInv: InventoryHost): string[] {
  const { from, to, proxy, dns } = c;
  const w: string[] = [];
  const names = dns?.records.map((r) => r.name).join(', ') ?? '';
  if (p?.service === 'headscale') {
    if (dns) w.push(`Clients follow ${names} to ${to.name} directly: nothing proxies headscale to ${to.name} over the tailnet. Headscale coordinates that tailnet, so such a route (${from.name}'s nginx forwarding to ${to.address}) could cut coordination for the whole mesh after a tailscaled restart or a reboot, and ${from.name} could never be retired.`);
    else if (proxy && c.routes.moved.length) w.push(`${proxy.name} would proxy headscale to ${to.name} over the tailnet headscale itself coordinates: after a tailscaled restart or a reboot that circular path can cut coordination for the whole mesh, and ${proxy.name} can never be retired. Declare dns: (the record clients use) to move it by DNS, as the seed does.`);
    else w.push('Clients reach headscale by its DNS record: declare dns: so the runbook lowers the TTL ahead, switches the record inside the window and waits for the resolvers.');
  }
  if (dns) {
    w.push(`The runbook lowers the TTL first and waits ${dns.aheadSeconds} s (one old TTL) before anything stops, so that no resolver holds the old value longer than ${dns.lowerTo} s at the switch; interrupt it and resume later (migen run ${c.name} --resume) if that is long: ${dns.on} keeps the time of the lowering.`);
    if (dns.provider.kind === 'person') w.push(`No DNS provider (dns.provider): a person lowers the TTL, switches ${names} inside the window and back on a rollback; the runbook prints each change and waits for its check, so the window lasts as long as the person takes.`);
    if (dns.on === to.name) w.push(`The DNS changes run on ${to.name} (dns.on: new): if ${to.name} goes down in the window, the guards restart ${c.unit} on ${from.name} but cannot point ${names} back; do it by hand (with dns.on: old, ${from.name}'s guard does).`);
    if (p?.subdomain) {
      for (const r of dns.records) {
        if (!Object.prototype.hasOwnProperty.call(newInv.nginx.virtualHosts, r.name)) w.push(`Clients that follow ${r.name} to ${r.new} reach ${to.name} itself, whose nginx has no virtual host for ${r.name}: ${m.service} must serve it there with its certificate (an ACME HTTP-01 challenge succeeds only after the switch: use DNS-01, or copy the certificate ahead).`);
      }
    }
  }
  if (p?.service === 'adguardhome') {
    if (!c.dnsServer?.secondary.length) w.push('LAN DNS fails during the window: give clients a secondary DNS server (DHCP option 6) and list it in dnsServer.secondary, so that the run proves it answers before the stop.');
    if (!c.dnsServer) w.push('The verification does not ask from the clients\' side: declare dnsServer (a query, the address clients use) so that the window ends when clients are served, not when the new host answers itself.');
    if (!c.handoffs.length) w.push(`DHCP must hand out ${to.name}'s address after the move: declare the change as a handoff (when: after-verify) with a check, so that the run waits until it is done.`);
  }
  return w;
}
