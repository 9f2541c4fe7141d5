// PostgreSQL as each side runs it: in the migration's container when it runs there, else on the
// host. Its major decides whether a data directory can move as files.
import type { InventoryHost, InventoryPostgresql } from '../types.js';

/** Database directories move by replication in a hot migration, never by rsync. */
export function isDatabaseDir(p: string): boolean {
  return /(^|\/)(postgres|postgresql|pgdata)(\/|$)/.test(p) || p.startsWith('/var/lib/postgresql');
}

export interface SidePg extends InventoryPostgresql { readonly where: string }

/** The PostgreSQL of one side: the container's when the migration's container runs one there. */
export function pgOf(h: InventoryHost, container: string | null): SidePg | null {
  const c = container !== null && Object.prototype.hasOwnProperty.call(h.containers, container) ? h.containers[container]! : null;
  if (c && c.services.includes('postgresql')) return { ...c.postgresql, where: `container ${container} on ${h.hostName}` };
  return h.postgresql.enable ? { ...h.postgresql, where: h.hostName } : null;
}

/** The major of a version string: 15 for 15.10, 9.6 for 9.6.24 (before 10 the first two parts). */
export function pgMajor(version: string | null): string | null {
  if (!version) return null;
  const m = /^(\d+)(?:\.(\d+))?/.exec(version);
  if (!m) return null;
  return Number(m[1]) >= 10 ? m[1]! : `${m[1]}.${m[2] ?? '0'}`;
}
