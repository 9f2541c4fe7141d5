// `migen status`, `migen unlock` and finalize's guard: the truth about a migration as the hosts
// hold it, read over ssh with the runbooks' settings.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { UserError } from '../errors.js';
import type { MigrationPlan } from '../generator/plan/types.js';
import { SshExecutor } from '../runtime/executor.js';
import { gatherFacts } from './facts.js';
import { pgStatus } from './pg.js';
import { stateOf, type Status } from './state.js';

export { stateOf, type State, type Status } from './state.js';

/** The migrations of generated/plans/*.json (all of them, or those named). */
export function plannedMigrations(out: string, names: readonly string[]): MigrationPlan[] {
  const dir = path.join(out, 'plans');
  const all = existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.json')).sort().flatMap((f) => (JSON.parse(readFileSync(path.join(dir, f), 'utf8')) as { migrations: MigrationPlan[] }).migrations) : [];
  for (const n of names) if (!all.some((m) => m.name === n)) throw new UserError('E_STATUS', `no migration ${JSON.stringify(n)} in ${dir}; known: ${all.map((m) => m.name).join(', ') || '(none)'}`);
  return names.length ? all.filter((m) => names.includes(m.name)) : all;
}

export function executorFor(m: MigrationPlan, sshConfig: string | undefined, cwd: string): SshExecutor {
  const hosts = [m.from, m.to, ...(m.proxy ? [m.proxy] : [])];
  return new SshExecutor({ hosts: Object.fromEntries(hosts.map((h) => [h.name, { name: h.name, ssh: h.ssh, address: h.address }])), sshConfig, cwd });
}

export async function statusOf(m: MigrationPlan, sshConfig: string | undefined, cwd: string): Promise<Status> {
  const exec = executorFor(m, sshConfig, cwd);
  try { return stateOf(m, await gatherFacts(m, exec)); } finally { await exec.close(); }
}

export function statusText(m: MigrationPlan, s: Status): string {
  const f = s.facts;
  const since = (k: string, h: typeof f.old): string => (h.markers[k] ? ` (${k} ${h.markers[k]})` : '');
  const lines = [`${m.name}: ${s.state} — ${m.serviceTitle}, ${m.from.name} -> ${m.to.name}, ${m.status} in the manifest`];
  lines.push(`  ${m.from.name} (old): ${f.old.reachable ? `${m.fence.units.old.unit} ${f.old.unit ?? '?'}${'moved' in f.old.markers ? `, fenced since ${f.old.markers.moved}` : ''}${since('rolled-back', f.old)}` : 'unreachable'}`);
  lines.push(`  ${m.to.name} (new): ${f.new.reachable ? `${m.fence.units.new.unit} ${f.new.unit ?? '?'}${since('prepared', f.new)}${since('ready', f.new)}${since('verified', f.new)}` : 'unreachable'}`);
  if (m.proxy && m.routeFiles.length) lines.push(`  ${m.proxy.name} (proxy): ${f.proxy?.reachable ? `routes ${m.routeFiles.map((r) => `${r.domain}${r.location}`).join(', ')} to ${s.routes === 'new' ? m.to.name : s.routes === 'old' ? m.from.name : s.routes} (${(f.proxy.routes ?? []).join(' ')})` : 'unreachable'}`);
  if (m.database) lines.push(...pgStatus(m, f.old.pg, f.new.pg, true).lines);
  const co = f.new.coordinator;
  if (co) lines.push(`  cutover coordinator on ${m.to.name}: run ${co.run}, ${co.active || 'unknown'}${co.last ? `, last event: ${co.last}` : ''}`);
  for (const [role, h] of [['old', f.old], ['new', f.new], ['proxy', f.proxy]] as const) {
    for (const [g, at] of Object.entries(h?.guards ?? {})) if (role !== 'proxy' || (h !== f.old && h !== f.new)) lines.push(`  guard ${g} on ${role === 'old' ? m.from.name : role === 'new' ? m.to.name : m.proxy!.name} fired at ${at} (${g === 'routes' ? 'routes reverted' : 'old service restarted'}: the coordinator fell silent)`);
  }
  for (const l of s.locks) lines.push(`  lock on ${l.host}: ${l.holder} (lifted by its run at the end; if that run crashed: migen unlock ${l.holder.match(/migration=(\S+)/)?.[1] ?? m.name})`);
  lines.push(...(s.problems.length ? s.problems.map((p) => `  ! ${p}`) : ['  consistent']));
  return `${lines.join('\n')}\n`;
}
