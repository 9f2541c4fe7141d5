// What people and other systems do during a move, each with its check (manifest handoffs:), and
// the checks of a service that is itself a DNS server (manifest dnsServer:): its clients' fallback
// proven before the stop, and the new host asked from the clients' side at the address they use.
import type { HandoffSpec, MigrationSpec } from '../types.js';
import { checkScript, hostOf, servesScript } from './checks.js';
import { on, stepsOf, type Opts } from './step.js';
import type { Ctx, DnsServerPlan, HandoffPlan, HostRef, Phase, Step } from './types.js';

export function handoffsOf(m: MigrationSpec, hosts: Pick<Ctx, 'from' | 'to' | 'proxy'>): HandoffPlan[] {
  return (m.handoffs ?? []).map((h: HandoffSpec, i) => ({
    id: `handoff-${h.id ?? i + 1}`,
    instruction: h.do,
    when: h.when ?? 'after-verify',
    run: h.run ? on(hostOf(hosts, h.run.on), h.run.command) : null,
    check: checkScript(hosts, h.check),
    intervalSeconds: h.intervalSeconds ?? 5,
    deadlineSeconds: h.deadlineSeconds ?? 900,
  }));
}

export function dnsServerOf(m: MigrationSpec, from: HostRef, to: HostRef, proxy: HostRef | null): DnsServerPlan | null {
  const s = m.dnsServer;
  if (!s) return null;
  const ask = s.from ?? 'old';
  return { query: s.query, type: s.type ?? 'A', address: s.address ?? to.address, secondary: [...(s.secondary ?? [])], from: ask === 'new' ? to.name : ask === 'proxy' && proxy ? proxy.name : from.name };
}

/** The steps of the handoffs due `when`, in `phase`. */
export function handoffSteps(c: Ctx, when: HandoffPlan['when'], phase: Phase, o: Opts = {}): Step[] {
  const { handoff } = stepsOf(phase);
  return c.handoffs.filter((h) => h.when === when).map((h) => handoff(h.id, `${h.run ? '' : 'a person: '}${h.instruction}`, {
    instruction: h.instruction, ...(h.run ? { run: h.run } : {}), check: h.check, intervalSeconds: h.intervalSeconds, deadlineSeconds: h.deadlineSeconds,
  }, o));
}

/** Before the stop: every secondary DNS server answers, asked from the clients' side. */
export function secondaryDns(c: Ctx): Step[] {
  const s = c.dnsServer;
  if (!s || s.secondary.length === 0) return [];
  const { probe } = stepsOf('sync');
  return [probe('secondary-dns', `the secondary DNS ${s.secondary.join(', ')} ${s.secondary.length > 1 ? 'answer' : 'answers'} ${s.query} ${s.type} (asked from ${s.from}): clients fall back to ${s.secondary.length > 1 ? 'them' : 'it'} while ${c.unit} is stopped`,
    on(s.from, servesScript(s.secondary, s.query, s.type)), { intervalSeconds: 1, deadlineSeconds: 30 })];
}

/** In the verification: the new host answers at the clients' address, asked from another host. */
export function clientSideDns(c: Ctx, timing: { intervalSeconds: number; deadlineSeconds: number }): Step[] {
  const s = c.dnsServer;
  if (!s) return [];
  const { probe } = stepsOf('verify');
  return [probe('verify-clients', `${c.to.name} answers ${s.query} ${s.type} at ${s.address}, the address clients use (asked from ${s.from})`,
    on(s.from, servesScript([s.address], s.query, s.type)), timing)];
}
