import type { InventoryHost, MigrationSpec } from '../types.js';
import type { Preset } from './catalog.js';
import { resolveState } from './state.js';

/** The directories this migration copies, as the old host names them. */
export function stateDirs(m: MigrationSpec, p: Preset | null, oldHost: InventoryHost | null, newHost: InventoryHost | null = null): readonly string[] {
  return resolveState(m, p, oldHost, newHost).dirs.map((d) => d.old);
}

/** Secrets the service needs: the manifest's list, else the old host's secrets named after the service. */
export function serviceSecrets(m: MigrationSpec, p: Preset | null, oldHost: InventoryHost): { name: string; kind: 'agenix' | 'sops' }[] {
  const kinds = (name: string): ('agenix' | 'sops')[] => {
    const k: ('agenix' | 'sops')[] = [];
    if (oldHost.secrets.agenix.includes(name)) k.push('agenix');
    if (oldHost.secrets.sops.includes(name)) k.push('sops');
    return k;
  };
  if (m.secrets) return m.secrets.map((name) => ({ name, kind: kinds(name)[0] ?? 'agenix' }));
  const prefix = p?.secretPrefix ?? null;
  if (!prefix) return [];
  const out: { name: string; kind: 'agenix' | 'sops' }[] = [];
  for (const name of oldHost.secrets.agenix) if (name.startsWith(prefix)) out.push({ name, kind: 'agenix' });
  for (const name of oldHost.secrets.sops) if (name.startsWith(prefix)) out.push({ name, kind: 'sops' });
  return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : a.kind < b.kind ? -1 : 1));
}

/** The unit stopped on the old host and started on the new one. */
export function unitOf(m: MigrationSpec, p: Preset | null): string {
  if (m.unit) return m.unit;
  const container = m.container ?? p?.container ?? null;
  if (m.container) return `container@${m.container}`;
  if (container && p?.container === container) return p.unit;
  return p?.unit ?? 'unknown';
}
