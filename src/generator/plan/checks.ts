// The scripts that prove something outside migen's reach happened: a DNS record as named servers
// answer it, a TCP or HTTP probe, a command on a host (the checks a manifest can give a handoff).
import type { CheckSpec, RecordType, Where } from '../types.js';
import { cmd } from './shell.js';
import { on } from './step.js';
import type { Ctx, HostScript } from './types.js';

/** A manifest's place name (new, old, proxy, operator) as the runbook's host. */
export function hostOf(c: Pick<Ctx, 'from' | 'to' | 'proxy'>, w: Where | undefined): string {
  switch (w ?? 'operator') {
    case 'new': return c.to.name;
    case 'old': return c.from.name;
    case 'proxy': return c.proxy?.name ?? c.from.name; // validation refuses proxy without one
    default: return 'operator';
  }
}

export interface Answer { readonly name: string; readonly type: RecordType; readonly value: string }

/** How a record's value reads in dig's answer section, and how migen compares it: no trailing dot. */
export const bare = (v: string): string => v.replace(/\.$/, '');

/**
 * Fails (saying which server answered what) unless every server answers exactly `value` for each
 * record. `authority`: asked without recursion (what the zone holds, no cache in between);
 * `maxTtl`: the answer's TTL must not exceed it (a lowered TTL in effect).
 */
export function answersScript(records: readonly Answer[], servers: readonly string[], o: { authority?: boolean; maxTtl?: number } = {}): string {
  const flags = `+noall +answer +time=2 +tries=1${o.authority ? ' +norecurse' : ''}`;
  const lines = [`for r in ${servers.map((s) => cmd`${s}`).join(' ')}; do`];
  for (const a of records) {
    const what = `${a.name} ${a.type}`;
    lines.push(
      `  out=$(dig ${flags} @"$r" ${cmd`${a.name} ${a.type}`}) || { echo "$r: no answer for ${what}" >&2; exit 1; }`,
      `  got=$(printf '%s\\n' "$out" | ${cmd`awk -v t=${a.type}`} '$4 == t { v = $5; sub(/\\.$/, "", v); print v }' | LC_ALL=C sort | paste -sd, -)`,
      `  [ "$got" = ${cmd`${bare(a.value)}`} ] || { echo "$r answers ${what} \${got:-nothing}, not ${bare(a.value)}" >&2; exit 1; }`,
    );
    if (o.maxTtl !== undefined) {
      lines.push(
        `  ttl=$(printf '%s\\n' "$out" | ${cmd`awk -v t=${a.type}`} '$4 == t { print $2; exit }')`,
        `  [ "$ttl" -le ${o.maxTtl} ] || { echo "$r answers ${what} with TTL $ttl, above ${o.maxTtl}" >&2; exit 1; }`,
      );
    }
  }
  lines.push('done');
  return lines.join('\n');
}

/**
 * Fails unless every server answers `name` with a record (a DNS server that serves). dig +short
 * prints its errors (";; communications error ...") on standard output too: only a line that is
 * no comment counts as an answer.
 */
export const servesScript = (servers: readonly string[], name: string, type: RecordType): string =>
  servers.map((s) => cmd`out=$(dig +short +time=2 +tries=1 @${s} ${name} ${type}) && printf '%s\\n' "$out" | grep -q '^[^;]' || { echo ${`${s} does not answer ${name} ${type}`} >&2; exit 1; }`).join('\n');

/** The script of a manifest check, on the host it names. */
export function checkScript(c: Pick<Ctx, 'from' | 'to' | 'proxy'>, k: CheckSpec): HostScript {
  const where = hostOf(c, k.on);
  if (k.dns) return on(where, answersScript([{ name: k.dns.name, type: k.dns.type ?? 'A', value: k.dns.value }], k.dns.resolvers));
  if (k.tcp) {
    const i = k.tcp.lastIndexOf(':');
    const host = k.tcp.slice(0, i).replace(/^\[|\]$/g, '');
    return on(where, cmd`timeout 5 bash -c ${`exec 3<>/dev/tcp/${host}/${k.tcp.slice(i + 1)}`}`);
  }
  if (k.http) return on(where, cmd`test "$(curl -sS -o /dev/null -w '%{http_code}' --max-time 5 ${k.http})" = ${k.status ?? 200}`);
  return on(where, k.command ?? 'false');
}

/** One line saying what a check proves, for titles. */
export function checkText(k: CheckSpec): string {
  if (k.dns) return `${k.dns.resolvers.join(', ')} answer ${k.dns.name} ${k.dns.type ?? 'A'} = ${k.dns.value}`;
  if (k.tcp) return `${k.tcp} accepts a TCP connection`;
  if (k.http) return `${k.http} answers ${k.status ?? 200}`;
  return `\`${k.command}\` succeeds`;
}
