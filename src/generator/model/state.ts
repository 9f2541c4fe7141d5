// The state directories of a migration, resolved per side: each host (or the container the
// service runs in there) has its own system.stateVersion, and a preset's directory follows it
// (Vaultwarden: /var/lib/bitwarden_rs before 24.11, /var/lib/vaultwarden from 24.11 on).
import type { InventoryHost, MigrationSpec } from '../types.js';
import type { Preset } from './catalog.js';

/** One directory as each side names it. */
export interface SidePaths { readonly old: string; readonly new: string }

/** Where the service runs on one host, and the stateVersion that decides its defaults there. */
export interface Side { readonly host: string; readonly where: string; readonly stateVersion: string | null }

export function sideOf(h: InventoryHost, container: string | null): Side {
  const c = container !== null && Object.prototype.hasOwnProperty.call(h.containers, container) ? h.containers[container]! : null;
  return c ? { host: h.hostName, where: `container ${container} on ${h.hostName}`, stateVersion: c.stateVersion } : { host: h.hostName, where: h.hostName, stateVersion: h.stateVersion };
}

export interface ResolvedState {
  readonly dirs: readonly SidePaths[];
  /** `index`: the manifest's state entry at fault. */
  readonly problems: readonly { readonly index: number; readonly message: string }[];
}

const sv = (s: Side | null): string => (s?.stateVersion ? `stateVersion ${s.stateVersion}` : 'no stateVersion');

export function resolveState(m: MigrationSpec, p: Preset | null, oldH: InventoryHost | null, newH: InventoryHost | null): ResolvedState {
  const container = m.container ?? p?.container ?? null;
  const oldSide = oldH ? sideOf(oldH, container) : null;
  const newSide = newH ? sideOf(newH, container) : null;
  const presetOld = p?.state(oldSide?.stateVersion ?? null) ?? [];
  const presetNew = newSide ? p?.state(newSide.stateVersion) ?? [] : presetOld;
  const problems: { index: number; message: string }[] = [];
  let dirs: SidePaths[];
  if (!m.state) dirs = presetOld.map((o, i) => ({ old: o, new: presetNew[i] ?? o }));
  else {
    dirs = [];
    m.state.forEach((e, i) => {
      if (typeof e !== 'string') { dirs.push({ old: e.from, new: e.to }); return; }
      const j = presetOld.indexOf(e);
      if (j >= 0) { dirs.push({ old: e, new: presetNew[j] ?? e }); return; }
      const k = presetNew.indexOf(e);
      if (k >= 0 && presetOld[k] !== undefined) {
        problems.push({ index: i, message: `state ${e}: ${m.service} keeps its data there on ${newSide!.where} (${sv(newSide)}), but in ${presetOld[k]} on ${oldSide!.where} (${sv(oldSide)}); name the old host's directory (${presetOld[k]}, copied to ${e}), or both sides: { from: ${presetOld[k]}, to: ${e} }` });
        return;
      }
      dirs.push({ old: e, new: e });
    });
  }
  return { dirs: dirs.sort((a, b) => (a.old < b.old ? -1 : a.old > b.old ? 1 : 0)), problems };
}

/** A path under one of the old host's state directories, as the new host names it. */
export function onNew(dirs: readonly SidePaths[], path: string): SidePaths {
  const d = dirs.find((s) => path === s.old || path.startsWith(`${s.old}/`));
  return { old: path, new: d ? `${d.new}${path.slice(d.old.length)}` : path };
}
