// From what the hosts say to the migration's state, and what does not add up.
import type { MigrationPlan } from '../generator/plan/types.js';
import type { Facts } from './facts.js';
import { pgStatus } from './pg.js';

export type State = 'planned' | 'prepared' | 'cutting over' | 'cut over' | 'rolled back' | 'finalized' | 'unknown';

export interface Status {
  readonly name: string;
  readonly state: State;
  /** The route files as the proxy holds them: all at the new backend, all at the old one, or neither. */
  readonly routes: 'new' | 'old' | 'mixed' | 'missing' | 'none';
  readonly locks: readonly { readonly host: string; readonly holder: string }[];
  readonly problems: readonly string[];
  readonly facts: Facts;
}

const isActive = (u: string | null): boolean => u === 'active' || u === 'activating' || u === 'reloading';

export function stateOf(m: MigrationPlan, f: Facts): Status {
  const problems: string[] = [];
  for (const [role, h] of [['old', f.old], ['new', f.new], ['proxy', f.proxy]] as const) if (h && !h.reachable) problems.push(`${role === 'old' ? m.from.name : role === 'new' ? m.to.name : m.proxy!.name} did not answer: its part of the state is unknown`);
  const routes = !f.proxy ? 'none' : f.proxy.routes.length === 0 ? 'missing' : f.proxy.routes.every((r, i) => r === m.routeFiles[i]!.new) ? 'new' : f.proxy.routes.every((r, i) => r === m.routeFiles[i]!.old) ? 'old' : f.proxy.routes.some((r) => r === 'missing') ? 'missing' : 'mixed';
  const moved = 'moved' in f.old.markers; const ready = 'ready' in f.new.markers; const verified = 'verified' in f.new.markers;
  const oldOn = isActive(f.old.unit); const newOn = isActive(f.new.unit);
  let state: State;
  if (!f.old.reachable || !f.new.reachable) state = 'unknown';
  else if (m.status === 'done') state = 'finalized';
  else if (f.new.coordinator && isActive(f.new.coordinator.active)) state = 'cutting over';
  else if (moved && ready && verified) state = 'cut over';
  else if (moved || ready) state = 'cutting over';
  else if ('rolled-back' in f.old.markers) state = 'rolled back';
  else if ('prepared' in f.new.markers) state = 'prepared';
  else state = 'planned';

  if (oldOn && newOn) problems.push(`${m.fence.units.old.unit} runs on both ${m.from.name} and ${m.to.name}: two writers`);
  if (moved && oldOn) problems.push(`${m.from.name} is fenced (${m.fence.moved}) but ${m.fence.units.old.unit} runs there`);
  if (state === 'cut over' && !newOn) problems.push(`cut over, but ${m.fence.units.new.unit} is not running on ${m.to.name}`);
  if (state === 'cut over' && f.proxy && routes !== 'new') problems.push(`cut over, but ${m.proxy!.name} routes to ${routes === 'old' ? m.from.name : `${routes} backends`}`);
  if ((state === 'planned' || state === 'prepared' || state === 'rolled back') && routes === 'new') problems.push(`${m.proxy!.name} routes to ${m.to.name} before the cutover`);
  if ((state === 'planned' || state === 'prepared' || state === 'rolled back') && !oldOn && f.old.reachable) problems.push(`${m.fence.units.old.unit} is not running on ${m.from.name}, which still serves ${m.name}`);
  if ((state === 'planned' || state === 'prepared' || state === 'rolled back') && newOn) problems.push(`${m.fence.units.new.unit} already runs on ${m.to.name} before the cutover`);
  const co = f.new.coordinator;
  if (co && isActive(co.active)) problems.push(`the cutover's coordinator runs on ${m.to.name} (run ${co.run}, last: ${co.last || 'starting'}): migen run ${m.name} --resume follows it`);
  else if (state === 'cutting over') problems.push(`a cutover started${verified ? '' : ' and was not verified'}: the run that did it is unfinished (migen run ${m.name} --resume, or --rollback)`);
  if (state === 'finalized' && (moved ? false : oldOn)) problems.push(`finalized in the manifest, but ${m.fence.units.old.unit} still runs on ${m.from.name}: deploy it`);
  if (state === 'finalized' && !newOn && f.new.reachable) problems.push(`finalized in the manifest, but ${m.fence.units.new.unit} does not run on ${m.to.name}`);

  // A run holds the hosts (its lock, or the coordinator working): what it created is expected there.
  if (m.database) problems.push(...pgStatus(m, f.old.pg, f.new.pg, Boolean(f.old.lock || f.new.lock || (co && isActive(co.active)))).problems);

  const locks: { host: string; holder: string }[] = [];
  for (const [host, h] of [[m.from.name, f.old], [m.to.name, f.new], ...(f.proxy && m.proxy && f.proxy !== f.old && f.proxy !== f.new ? [[m.proxy.name, f.proxy] as const] : [])] as const) {
    if (h.lock) locks.push({ host, holder: h.lock });
  }
  return { name: m.name, state, routes, locks, problems, facts: f };
}
