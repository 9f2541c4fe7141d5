// What follows the service to the new host after finalize: the old host's backup jobs of the
// moved state, and the monitoring targets that scrape it.
import type { Inventory, InventoryHost } from '../types.js';
import type { HostRef, MigrationPlan, StateDir } from './types.js';

/** Does a backup path cover a state directory, or lie inside one? */
const overlaps = (bp: string, state: readonly StateDir[]): boolean => state.some((s) => s.old === bp || s.old.startsWith(`${bp}/`) || bp.startsWith(`${s.old}/`));
/** Does a backup path cover a state directory (equal or a parent)? */
export const covers = (bp: string, state: readonly StateDir[]): boolean => state.some((s) => s.old === bp || s.old.startsWith(`${bp}/`));

export function followOf(inventory: Inventory, oldInv: InventoryHost, newInv: InventoryHost, from: HostRef, to: HostRef, state: readonly StateDir[]): MigrationPlan['follow'] {
  const jobs = oldInv.backups.restic;
  return {
    backups: Object.keys(jobs).sort().filter((j) => jobs[j]!.paths.some((bp) => overlaps(bp, state))).map((j) => ({
      host: from.name, name: j, repository: jobs[j]!.repository, passwordFile: jobs[j]!.passwordFile,
      paths: jobs[j]!.paths.filter((bp) => overlaps(bp, state)),
      newHasJob: Object.prototype.hasOwnProperty.call(newInv.backups.restic, j),
    })),
    scrapeTargets: Object.keys(inventory.hosts).sort().flatMap((h) => inventory.hosts[h]!.monitoring.scrapeTargets
      .filter((t) => t.target.startsWith(`${from.address}:`) || t.target === from.address)
      .map((t) => ({ host: h, job: t.job, from: t.target, to: t.target.replace(from.address, to.address) }))),
  };
}
