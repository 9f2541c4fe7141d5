// DNS moves (manifest dns:): clients reach the service by records that follow it to the new host.
// The TTL is lowered at least one old TTL before the stop (checked at the authority, then waited
// out), the records switch inside the window while the new host starts, and the window goes on
// until every listed resolver answers the new value; a rollback switches them back.
import type { MigrationSpec } from '../types.js';
import { answersScript, bare } from './checks.js';
import { cmd } from './shell.js';
import { on, stepsOf } from './step.js';
import type { Ctx, DnsPlan, DnsRecordPlan, HostRef, Step } from './types.js';

const DEFAULT_LOWER_TO = 60;

export function dnsOf(name: string, m: MigrationSpec, from: HostRef, to: HostRef): DnsPlan | null {
  const d = m.dns;
  if (!d) return null;
  const records: DnsRecordPlan[] = d.records.map((r) => ({ name: r.name, type: r.type ?? 'A', old: r.old, new: r.new, ttl: r.ttl }));
  const lowerTo = d.lowerTtl?.to ?? DEFAULT_LOWER_TO;
  const n = d.provider?.nsupdate;
  return {
    records,
    resolvers: [...d.resolvers],
    authority: d.authority ?? n?.server ?? '',
    lowerTo,
    aheadSeconds: d.lowerTtl?.aheadSeconds ?? Math.max(...records.map((r) => r.ttl)),
    on: (d.on ?? 'old') === 'old' ? from.name : to.name,
    provider: n ? { kind: 'nsupdate', server: n.server, keyFile: n.keyFile, zone: n.zone ?? null } : d.provider?.command ? { kind: 'command', command: d.provider.command } : { kind: 'person' },
    deadlineSeconds: d.deadlineSeconds ?? 2 * lowerTo + 60,
    loweredStamp: `/var/lib/migen/${name}/dns-lowered`,
  };
}

/** The provider's command that sets every record to `value(r)` with `ttl`, or null when a person does it. */
function setScript(d: DnsPlan, value: (r: DnsRecordPlan) => string, ttl: number): string | null {
  const p = d.provider;
  if (p.kind === 'person') return null;
  if (p.kind === 'command') return d.records.map((r) => `${p.command} ${cmd`${r.name} ${r.type} ${value(r)} ${ttl}`}`).join('\n');
  // One signed update: every record changes at once (RFC 2136 applies an update atomically).
  const fq = (v: string, r: DnsRecordPlan): string => (r.type === 'CNAME' ? `${bare(v)}.` : v);
  return [
    `${cmd`nsupdate -t 10 -k ${p.keyFile}`} <<'MIGEN_DNS'`,
    `server ${p.server}`,
    ...(p.zone ? [`zone ${p.zone}.`] : []),
    ...d.records.flatMap((r) => [`update delete ${r.name}. ${r.type}`, `update add ${r.name}. ${ttl} ${r.type} ${fq(value(r), r)}`]),
    'send',
    'MIGEN_DNS',
  ].join('\n');
}

const list = (d: DnsPlan, value: (r: DnsRecordPlan) => string): string => d.records.map((r) => `${r.name} ${r.type} ${value(r)}`).join(', ');
const pointing = (d: DnsPlan, value: (r: DnsRecordPlan) => string): string => d.records.map((r) => `${r.name} ${r.type} at ${value(r)}`).join(', ');
const answers = (d: DnsPlan, value: (r: DnsRecordPlan) => string) => d.records.map((r) => ({ name: r.name, type: r.type, value: value(r) }));
const oldValue = (r: DnsRecordPlan): string => r.old;
const newValue = (r: DnsRecordPlan): string => r.new;
const providerText = (d: DnsPlan): string => (d.provider.kind === 'nsupdate' ? `nsupdate to ${d.provider.server}` : d.provider.kind === 'command' ? 'the provider\'s command' : 'a person');

/** Preflight: the records point at the old host, at the authority and every resolver; the provider's key is there. */
export function dnsPreflight(c: Ctx): Step[] {
  const d = c.dns;
  if (!d) return [];
  const { check } = stepsOf('preflight');
  const key = d.provider.kind === 'nsupdate' ? `${cmd`test -r ${d.provider.keyFile}`} || { echo ${`the TSIG key ${d.provider.keyFile} is missing on ${d.on}`} >&2; exit 1; }\n` : '';
  return [check('dns-points-old', `${pointing(d, oldValue)} (${c.from.name}) at the authority ${d.authority} and the resolvers ${d.resolvers.join(', ')} (asked from ${d.on})${key ? `; ${d.on} holds the TSIG key` : ''}`,
    on(d.on, `${key}${answersScript(answers(d, oldValue), [d.authority], { authority: true })}\n${answersScript(answers(d, oldValue), d.resolvers)}`),
    `the DNS records do not point at ${c.from.name} (${list(d, oldValue)}) as dns: says, or the key is missing`)];
}

/** Prepare, first: the TTL lowered and verified at the authority; the time recorded on the host. */
export function dnsLower(c: Ctx): Step[] {
  const d = c.dns;
  if (!d) return [];
  const { handoff } = stepsOf('prepare');
  const run = setScript(d, oldValue, d.lowerTo);
  const stamp = cmd`mkdir -p ${d.loweredStamp.slice(0, d.loweredStamp.lastIndexOf('/'))} && { test -s ${d.loweredStamp} || date +%s > ${d.loweredStamp}; }`;
  return [handoff('dns-lower-ttl', `lower the TTL of ${d.records.map((r) => r.name).join(', ')} to ${d.lowerTo} s (${providerText(d)}), verified at ${d.authority}; ${d.on} records the time`, {
    instruction: `Lower the TTL of ${d.records.map((r) => `${r.name} ${r.type} (${r.old})`).join(', ')} to ${d.lowerTo} s, keeping the value`,
    ...(run ? { run: on(d.on, run) } : {}),
    check: on(d.on, `${answersScript(answers(d, oldValue), [d.authority], { authority: true, maxTtl: d.lowerTo })}\n${stamp}`),
    intervalSeconds: 2, deadlineSeconds: run ? 60 : 1800,
  })];
}

/** Before the stop: one old TTL has passed since the lowering, and every resolver's copy is short-lived. */
export function dnsWait(c: Ctx): Step[] {
  const d = c.dns;
  if (!d) return [];
  const { probe } = stepsOf('sync');
  const wait = [
    cmd`lowered=$(cat ${d.loweredStamp})`,
    `left=$(( lowered + ${d.aheadSeconds} - $(date +%s) ))`,
    `if [ "$left" -gt 0 ]; then echo "the lowered TTL is in effect for ${d.aheadSeconds} s in $left s" >&2; exit 1; fi`,
  ].join('\n');
  return [probe('dns-ttl-waited', `${d.aheadSeconds} s (one old TTL) have passed since the TTL was lowered, and every resolver answers with a TTL of at most ${d.lowerTo} s: from here a switch reaches clients within ${d.lowerTo} s`,
    on(d.on, `${wait}\n${answersScript(answers(d, oldValue), d.resolvers, { maxTtl: d.lowerTo })}`),
    { intervalSeconds: Math.min(10, Math.max(1, d.lowerTo / 2)), deadlineSeconds: d.aheadSeconds + d.lowerTo + 60 })];
}

/**
 * In the window, with the start on the new host: the records switched, and the step done once the
 * authority and every resolver answer the new value. Its undo switches them back (a person does,
 * when there is no provider), verified at the authority.
 */
export function dnsSwitch(c: Ctx, opts: { window: true; fleet: true; undoOnFailure: true; concurrent: string }): Step[] {
  const d = c.dns;
  if (!d) return [];
  const { handoff } = stepsOf('cutover');
  const run = setScript(d, newValue, d.lowerTo);
  const back = setScript(d, oldValue, d.lowerTo);
  // The undo waits (30 s after a provider's command, the switch's deadline for a person) until the authority has the old values.
  // No `exit` on success: the old host's guard runs this undo and then restarts the service.
  const until = (seconds: number): string => [
    'back=0',
    `for i in $(seq 1 ${seconds}); do`,
    `  if ( ${answersScript(answers(d, oldValue), [d.authority], { authority: true }).split('\n').join('\n    ')}\n  ) 2>/dev/null; then back=1; break; fi`,
    '  sleep 1',
    'done',
    `[ "$back" = 1 ] || { echo ${cmd`${`${d.authority} still does not answer ${list(d, oldValue)}`}`} >&2; false; }`,
  ].join('\n');
  return [handoff('dns-switch', `point ${pointing(d, newValue)} (${providerText(d)}), and wait until ${d.authority} and every resolver (${d.resolvers.join(', ')}) answer it`, {
    instruction: `Point ${pointing(d, newValue)} (TTL ${d.lowerTo} s)`,
    ...(run ? { run: on(d.on, run) } : {}),
    check: on(d.on, `${answersScript(answers(d, newValue), [d.authority], { authority: true })}\n${answersScript(answers(d, newValue), d.resolvers)}`),
    intervalSeconds: Math.min(1, Math.max(0.2, d.lowerTo / 10)), deadlineSeconds: d.deadlineSeconds,
    ...(run ? {} : { undoInstruction: `Point ${pointing(d, oldValue)} again` }),
  }, { ...opts, undo: on(d.on, back ? `${back}\n${until(30)}` : until(d.deadlineSeconds)) })];
}

/** Finalize: the TTL stays low until someone raises it. */
export const dnsFinalizeText = (d: DnsPlan): string =>
  `Once the move is final, raise the TTL of ${d.records.map((r) => `${r.name} ${r.type} back to ${r.ttl} s`).join(', ')} (migen leaves it at ${d.lowerTo} s, so that a rollback reaches clients quickly).`;
