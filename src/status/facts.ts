// What the hosts say about a migration: the fence markers, the locks, the units, the proxy's route
// files. One ssh call per host; the scripts only read.
import { quote } from '../generator/plan/shell.js';
import type { MigrationPlan } from '../generator/plan/types.js';
import type { HostScript } from '../runbook/steps.js';
import type { Executor } from '../runtime/executor.js';
import { parsePg, pgScript, type PgFacts } from './pg.js';

export interface HostFacts {
  readonly reachable: boolean;
  readonly markers: Readonly<Record<string, string>>;
  readonly lock: string;
  /** systemctl is-active of the fenced unit (old and new hosts). */
  readonly unit: string | null;
  /** Route file contents, by index (proxy), or 'missing'. */
  readonly routes: readonly string[];
  /** Guards that fired on this host (guard.ts): role -> when. */
  readonly guards: Readonly<Record<string, string>>;
  /** The new host's cutover coordinator: its run, its unit's state, the last event of its journal. */
  readonly coordinator: { readonly run: string; readonly active: string; readonly last: string } | null;
  /** A hot migration's objects on this host's PostgreSQL (old and new hosts). */
  readonly pg?: PgFacts;
}
export interface Facts { readonly old: HostFacts; readonly new: HostFacts; readonly proxy: HostFacts | null }

const MARKERS = ['moved', 'ready', 'verified', 'prepared', 'rolled-back'] as const;

function script(m: MigrationPlan, role: 'old' | 'new' | 'proxy'): string {
  const q = quote;
  const lines = [
    `for f in ${MARKERS.join(' ')}; do if [ -e ${q(m.fence.dir)}/"$f" ]; then echo "marker.$f=$(head -c 200 ${q(m.fence.dir)}/"$f" | tr -d '\\n')"; fi; done`,
    `echo "lock=$(cat /var/lib/migen/lock 2>/dev/null | head -n 1 || true)"`,
    `for g in routes old; do if [ -e ${q(`${m.fence.dir}/guard`)}/"$g.fired" ]; then echo "guard.$g=$(head -c 100 ${q(`${m.fence.dir}/guard`)}/"$g.fired" | tr -d '\n')"; fi; done`,
  ];
  if (role === 'new') {
    const d = `${m.fence.dir}/cutover`;
    lines.push(`r=$(head -n 1 ${q(`${d}/current`)} 2>/dev/null || true)`,
      `if [ -n "$r" ]; then echo "cutover.run=$r"; echo "cutover.active=$(systemctl is-active ${q(`migen-${m.name}-cutover`)} 2>/dev/null || true)"; echo "cutover.last=$(tail -n 1 ${q(d)}/"$r"/journal 2>/dev/null | cut -f2,4 | tr '\t' ' ')"; fi`);
  }
  if (role !== 'proxy') {
    const u = m.fence.units[role];
    const active = `systemctl is-active ${q(u.unit)} 2>/dev/null || true`;
    lines.push(u.container ? `echo "unit=$(nixos-container run ${q(u.container)} -- ${active})"` : `echo "unit=$(${active})"`);
  }
  if (m.database && m.strategy === 'hot' && role !== 'proxy') lines.push(...pgScript(m, role));
  if (role === 'proxy' || m.proxy?.name === (role === 'old' ? m.from.name : m.to.name)) {
    m.routeFiles.forEach((f, i) => lines.push(`echo "route.${i}=$(cat ${q(f.file)} 2>/dev/null || echo missing)"`));
  }
  return lines.join('\n');
}

function parse(out: string, reachable: boolean): HostFacts {
  const markers: Record<string, string> = {};
  const routes: string[] = [];
  const guards: Record<string, string> = {};
  const co: Record<string, string> = {};
  let lock = ''; let unit: string | null = null;
  const pg: [string, string][] = [];
  for (const line of out.split('\n')) {
    const eq = line.indexOf('=');
    if (eq < 0) continue;
    const k = line.slice(0, eq); const v = line.slice(eq + 1).trim();
    if (k.startsWith('pg.')) pg.push([k, v]);
    else if (k.startsWith('marker.')) markers[k.slice(7)] = v;
    else if (k.startsWith('route.')) routes[Number(k.slice(6))] = v;
    else if (k.startsWith('guard.')) guards[k.slice(6)] = v;
    else if (k.startsWith('cutover.')) co[k.slice(8)] = v;
    else if (k === 'lock') lock = v;
    else if (k === 'unit') unit = v.split('\n')[0] ?? v;
  }
  return { reachable, markers, lock, unit, routes, guards, coordinator: co.run ? { run: co.run, active: co.active ?? '', last: co.last ?? '' } : null, ...(pg.length ? { pg: parsePg(pg) } : {}) };
}

export async function gatherFacts(m: MigrationPlan, exec: Executor): Promise<Facts> {
  const ask = async (host: string, role: 'old' | 'new' | 'proxy'): Promise<HostFacts> => {
    const s: HostScript = { on: host, script: script(m, role) };
    const r = await exec.run(s);
    return r.code === 0 ? parse(r.stdout, true) : { reachable: false, markers: {}, lock: '', unit: null, routes: [], guards: {}, coordinator: null };
  };
  const [old, neu, proxy] = await Promise.all([
    ask(m.from.name, 'old'), ask(m.to.name, 'new'),
    m.proxy && m.routeFiles.length && m.proxy.name !== m.from.name && m.proxy.name !== m.to.name ? ask(m.proxy.name, 'proxy') : Promise.resolve(null),
  ]);
  // A proxy that is also the old (or new) host answered with its routes in that host's call.
  const proxyFacts = proxy ?? (m.proxy && m.routeFiles.length ? (m.proxy.name === m.from.name ? old : neu) : null);
  return { old, new: neu, proxy: proxyFacts };
}
