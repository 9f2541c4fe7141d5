/**
 * migen lab: real DNS on lab hosts, from Debian's packages (no stand-in).
 * - `setupDnsAuthority`: BIND 9 (`named`, package bind9) as the primary of a zone on one lab host,
 *   accepting RFC 2136 dynamic updates signed with a TSIG key (hmac-sha256, made by
 *   tsig-keygen), so `nsupdate -k KEYFILE` changes a record and its TTL; recursion off.
 * - `setupResolver`: unbound as a caching resolver that reaches the zone through a stub-zone
 *   (or forward-zone) to the authority. Caching is unbound's own: answers are kept for their TTL
 *   (cache-min-ttl 0, no prefetch, no serve-expired), and the TTL it answers with counts down.
 * - `resolve`: dig from the operator or a lab host; `waitForAnswer` polls it.
 * Files live under the host's private /var/lib/bind, /var/lib/unbound and /run/named: the paths
 * Debian's AppArmor profiles (usr.sbin.named, usr.sbin.unbound) allow, so the daemons run the
 * same where AppArmor is enforced. Each runs as its own user (bind, unbound), a lab unit.
 */
import fs from 'node:fs';
import path from 'node:path';
import { sq, type ExecResult, type Lab } from './lab.js';

export interface DnsRecord { name: string; type?: string; value: string; ttl: number }
export interface DnsAuthorityOptions {
  zone: string;
  records: DnsRecord[];
  /** TSIG key name, default `<zone>-update` */
  keyName?: string;
}
export interface NsupdateOptions {
  /** where nsupdate runs: 'operator' (default, with operatorKeyFile) or the authority's host (tsigKeyFile) */
  from?: 'operator' | string;
  /** another key file (named.conf syntax) in place of the zone's, e.g. to see a wrong key refused */
  keyFile?: string;
}
export interface DnsAuthority {
  host: string;
  zone: string;
  address: string;
  keyName: string;
  /** the TSIG key (named.conf `key` statement) on the authority's host */
  tsigKeyFile: string;
  /** the same key where the operator (a runbook) reads it: under lab.dir, mode 0600 */
  operatorKeyFile: string;
  /** runs nsupdate with `server`, `zone`, the given lines and `send`; the result as is */
  nsupdate(lines: string[], opts?: NsupdateOptions): Promise<ExecResult>;
  /** replaces the record's RRset (delete + add in one update, so TTL and value change together); throws when refused */
  setRecord(rec: DnsRecord, opts?: NsupdateOptions): Promise<void>;
}
export interface ResolverOptions {
  /** the zone to send to the authority; '.' (with mode 'forward') for every name */
  forwardZone: string;
  /** authority addresses */
  to: string | string[];
  /** stub-zone (default: non-recursive queries to an authoritative server) or forward-zone */
  mode?: 'stub' | 'forward';
  /** the address it answers on (default the host's), e.g. one added with net.ts addAddress */
  listen?: string;
  /** log-queries: each query in the unit's log (`info: CLIENT NAME. TYPE IN`) */
  logQueries?: boolean;
}
export interface Resolver { host: string; address: string }
export interface DnsAnswer { name: string; ttl: number; type: string; value: string }
export interface ResolveResult {
  /** NOERROR, NXDOMAIN, REFUSED, ... or TIMEOUT when no reply came */
  status: string;
  /** header flags, e.g. ['qr', 'aa', 'rd'] */
  flags: string[];
  answers: DnsAnswer[];
  /** the first answer's value and TTL as seen by the asker */
  value?: string;
  ttl?: number;
  /** when the query was sent (Date.now()) and how long dig took */
  t: number;
  ms: number;
}

const FQDN_RE = /^([a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9])?\.)*[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/i;
const TOKEN_RE = /^[^\s;"'\\{}()]+$/;

function checkName(name: string, what: string): string {
  if (!FQDN_RE.test(name)) throw new Error(`lab dns: bad ${what} ${JSON.stringify(name)}`);
  return name.toLowerCase();
}

function addressOf(lab: Lab, host: string): string {
  const h = lab.hosts.find((x) => x.name === host);
  if (!h) throw new Error(`lab dns: no host ${host}`);
  return h.address;
}

async function must(lab: Lab, host: string, script: string): Promise<string> {
  const r = await lab.exec(host, script);
  if (r.code !== 0) throw new Error(`lab dns on ${host}: exit ${r.code}: ${r.stderr.trim()} ${r.stdout.trim()}\n${script}`);
  return r.stdout;
}

function recordLine(zone: string, rec: DnsRecord): string {
  const name = checkName(rec.name, 'record name');
  if (name !== zone && !name.endsWith(`.${zone}`)) throw new Error(`lab dns: ${name} is not in zone ${zone}`);
  const type = (rec.type ?? 'A').toUpperCase();
  if (!/^[A-Z0-9]+$/.test(type) || !TOKEN_RE.test(rec.value)) throw new Error(`lab dns: bad record ${JSON.stringify(rec)}`);
  if (!Number.isInteger(rec.ttl) || rec.ttl < 0) throw new Error(`lab dns: bad ttl ${rec.ttl} for ${name}`);
  return `${name}. ${rec.ttl} IN ${type} ${rec.value}`;
}

/** BIND 9 as the primary of `zone` on `host` (unit `named`), updatable with the zone's TSIG key */
export async function setupDnsAuthority(lab: Lab, host: string, opts: DnsAuthorityOptions): Promise<DnsAuthority> {
  const zone = checkName(opts.zone, 'zone');
  const keyName = checkName(opts.keyName ?? `${zone}-update`, 'key name');
  const address = addressOf(lab, host);
  const ns = `${host}.${zone}`;
  const dir = '/var/lib/bind';
  const tsigKeyFile = `${dir}/${keyName}.key`;
  const zoneFile = `${dir}/${zone}.zone`;
  const records = opts.records.map((r) => recordLine(zone, r));
  // SOA minimum 1 s: a name that does not exist yet is not cached as absent for long
  const zoneText = [
    `$ORIGIN ${zone}.`,
    '$TTL 300',
    `@ 300 IN SOA ${ns}. hostmaster.${zone}. ( 1 60 30 3600 1 )`,
    `@ 300 IN NS ${ns}.`,
    ...(opts.records.some((r) => r.name.toLowerCase() === ns) ? [] : [`${ns}. 300 IN A ${address}`]),
    ...records,
    '',
  ].join('\n');
  const conf = [
    '// migen lab: BIND 9 as the authoritative primary of the lab zone (written by dns.ts)',
    'options {',
    `  directory "${dir}";`,
    '  pid-file "/run/named/named.pid";',
    '  session-keyfile "/run/named/session.key";',
    `  managed-keys-directory "${dir}";`,
    `  listen-on port 53 { ${address}; };`,
    '  listen-on-v6 { none; };',
    '  recursion no;',
    '  allow-query { any; };',
    '  allow-transfer { none; };',
    '  dnssec-validation no;',
    '  notify no;',
    '};',
    '// no rndc control channel (the default one would read /etc/bind/rndc.key of the machine)',
    'controls { };',
    `include "${tsigKeyFile}";`,
    `zone "${zone}" {`,
    '  type primary;',
    `  file "${zoneFile}";`,
    `  update-policy { grant ${keyName} zonesub ANY; };`,
    '};',
    '',
  ].join('\n');
  await must(lab, host, [
    'set -e',
    `install -d -o bind -g bind -m 0750 ${dir} /run/named`,
    `tsig-keygen -a hmac-sha256 ${keyName} > ${tsigKeyFile}.tmp && mv ${tsigKeyFile}.tmp ${tsigKeyFile}`,
    `cat > ${dir}/named.conf <<'EOF'\n${conf}EOF`,
    `cat > ${zoneFile} <<'EOF'\n${zoneText}EOF`,
    `chown bind:bind ${dir}/* && chmod 0640 ${dir}/*`,
    `named-checkconf ${dir}/named.conf`,
    `named-checkzone -q ${zone} ${zoneFile}`,
  ].join('\n'));
  // the operator's copy of the key, as a runbook's provider command would read it
  const operatorKeyFile = path.join(lab.dir, 'operator', 'dns', `${keyName}.key`);
  fs.mkdirSync(path.dirname(operatorKeyFile), { recursive: true, mode: 0o700 });
  fs.copyFileSync(path.join(lab.hostDir(host), 'var-lib', 'bind', `${keyName}.key`), operatorKeyFile);
  fs.chmodSync(operatorKeyFile, 0o600);

  await lab.defineUnit(host, 'named', {
    // -g: foreground, log to stderr (the unit's log); -n 1: one worker (2-core machine, other labs);
    // -u bind: drop root after binding port 53
    exec: ['/usr/sbin/named', '-g', '-4', '-n', '1', '-u', 'bind', '-c', `${dir}/named.conf`],
    ready: { tcp: 53, cmd: `dig +short +norecurse +time=1 +tries=1 @${address} SOA ${zone} | grep -q .` },
  });
  await must(lab, host, 'systemctl start named');

  const nsupdate = async (lines: string[], o: NsupdateOptions = {}): Promise<ExecResult> => {
    for (const l of lines) if (/[\n\r]/.test(l) || /^\s*(server|zone|key|send)\b/i.test(l)) throw new Error(`lab dns: nsupdate line not allowed: ${l}`);
    const from = o.from ?? 'operator';
    const script = [`server ${address} 53`, `zone ${zone}.`, ...lines, 'send', ''].join('\n');
    if (from === 'operator') return lab.operator(['nsupdate', '-t', '5', '-k', o.keyFile ?? operatorKeyFile], { input: script });
    if (from !== host && !o.keyFile) throw new Error(`lab dns: the key is on ${host} and the operator; give keyFile to run nsupdate on ${from}`);
    return lab.exec(from, `nsupdate -t 5 -k ${sq(o.keyFile ?? tsigKeyFile)}`, { input: script });
  };
  return {
    host, zone, address, keyName, tsigKeyFile, operatorKeyFile, nsupdate,
    async setRecord(rec, o) {
      const line = recordLine(zone, rec);
      const r = await nsupdate([`update delete ${rec.name}. ${(rec.type ?? 'A').toUpperCase()}`, `update add ${line}`], o);
      if (r.code !== 0) throw new Error(`lab dns: nsupdate refused (${r.code}): ${r.stderr.trim()} ${r.stdout.trim()}`);
    },
  };
}

/** unbound on `host` (unit `unbound`), answering everyone on the host's address (or `listen`), the zone from the authority */
export async function setupResolver(lab: Lab, host: string, opts: ResolverOptions): Promise<Resolver> {
  // '.' forwards every name (e.g. to the lab's AdGuard Home, app.py with DNS_LISTEN)
  const zone = opts.forwardZone === '.' ? '.' : checkName(opts.forwardZone, 'zone');
  if (zone === '.' && opts.mode !== 'forward') throw new Error("lab dns: forwardZone '.' needs mode 'forward'");
  const to = [opts.to].flat();
  if (!to.length || to.some((a) => !/^\d{1,3}(\.\d{1,3}){3}$/.test(a))) throw new Error(`lab dns: bad authority addresses ${to.join(',')}`);
  const address = opts.listen ?? addressOf(lab, host);
  if (!/^\d{1,3}(\.\d{1,3}){3}$/.test(address)) throw new Error(`lab dns: bad listen address ${address}`);
  const dir = '/var/lib/unbound';
  const section = opts.mode === 'forward' ? ['forward-zone:', `  name: "${zone}"`, ...to.map((a) => `  forward-addr: ${a}`)]
    : ['stub-zone:', `  name: "${zone}"`, ...to.map((a) => `  stub-addr: ${a}`)];
  const conf = [
    '# migen lab: unbound as a caching resolver (written by dns.ts)',
    'server:',
    '  verbosity: 1',
    ...(opts.logQueries ? ['  log-queries: yes'] : []),
    `  interface: ${address}`,
    '  port: 53',
    '  do-ip6: no',
    '  access-control: 0.0.0.0/0 allow',
    '  username: "unbound"',
    '  chroot: ""',
    `  directory: "${dir}"`,
    '  pidfile: "/run/unbound.pid"',
    '  use-syslog: no',
    '  logfile: ""',
    '  num-threads: 1',
    // no DNSSEC validation: the lab zone is unsigned and there is no root to chase a chain to
    '  module-config: "iterator"',
    `  domain-insecure: "${zone}"`,
    // what a real resolver does with TTLs, stated rather than left to defaults
    '  cache-min-ttl: 0',
    '  cache-max-ttl: 86400',
    '  prefetch: no',
    '  serve-expired: no',
    ...section,
    '',
  ].join('\n');
  await must(lab, host, [
    'set -e',
    `install -d -o unbound -g unbound -m 0755 ${dir}`,
    `cat > ${dir}/unbound.conf <<'EOF'\n${conf}EOF`,
    `unbound-checkconf ${dir}/unbound.conf >/dev/null`,
  ].join('\n'));
  await lab.defineUnit(host, 'unbound', {
    exec: ['/usr/sbin/unbound', '-d', '-c', `${dir}/unbound.conf`],
    // its own address: named may listen on port 53 of another address of the host
    ready: { cmd: `ss -Hltn 'src ${address}:53' | grep -q .` },
  });
  await must(lab, host, 'systemctl start unbound');
  return { host, address };
}

/** `dig @server name type` from the operator or a lab host, parsed */
export async function resolve(lab: Lab, from: 'operator' | string, server: string, name: string, type = 'A'): Promise<ResolveResult> {
  checkName(name, 'name');
  if (!/^[A-Z0-9]+$/i.test(type) || !/^[\d.]+$/.test(server)) throw new Error(`lab dns: bad query ${server} ${type}`);
  const args = ['dig', `@${server}`, '+noall', '+comments', '+answer', '+time=1', '+tries=1', name, type];
  const t = Date.now();
  const r = from === 'operator' ? await lab.operator(args) : await lab.exec(from, args.map(sq).join(' '));
  const ms = Date.now() - t;
  if (r.code === 9) return { status: 'TIMEOUT', flags: [], answers: [], t, ms };
  if (r.code !== 0) throw new Error(`lab dns: dig from ${from}: exit ${r.code}: ${r.stderr}${r.stdout}`);
  const status = /status: ([A-Z]+)/.exec(r.stdout)?.[1] ?? 'UNKNOWN';
  const flags = (/;; flags: ([a-z ]+)[;]/.exec(r.stdout)?.[1] ?? '').trim().split(/\s+/).filter(Boolean);
  const answers: DnsAnswer[] = [];
  for (const line of r.stdout.split('\n')) {
    if (!line.trim() || line.startsWith(';')) continue;
    const [n, ttl, , rtype, ...value] = line.trim().split(/\s+/);
    answers.push({ name: (n ?? '').replace(/\.$/, ''), ttl: Number(ttl), type: rtype ?? '', value: value.join(' ') });
  }
  const first = answers.find((a) => a.type === type.toUpperCase());
  return { status, flags, answers, value: first?.value, ttl: first?.ttl, t, ms };
}

/**
 * asks `server` every `intervalMs` until it answers `value` for `name`; returns every answer seen,
 * the matching one last. Throws after `timeoutMs` with the answers seen.
 */
export async function waitForAnswer(
  lab: Lab, from: 'operator' | string, server: string, name: string, value: string,
  opts: { timeoutMs: number; intervalMs?: number; type?: string },
): Promise<ResolveResult[]> {
  const seen: ResolveResult[] = [];
  const deadline = Date.now() + opts.timeoutMs;
  for (;;) {
    const r = await resolve(lab, from, server, name, opts.type);
    seen.push(r);
    if (r.value === value) return seen;
    if (Date.now() > deadline) {
      throw new Error(`lab dns: ${server} did not answer ${name} = ${value} within ${opts.timeoutMs} ms; last: ${seen.slice(-3).map((s) => `${s.status} ${s.value}/${s.ttl}`).join(', ')}`);
    }
    await new Promise((res) => setTimeout(res, Math.max(0, r.t + (opts.intervalMs ?? 100) - Date.now())));
  }
}
