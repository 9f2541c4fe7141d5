// The window on the fleet: the steps marked `fleet` (from the stop to the confirmed, verified
// start) are handed to a coordinator on the new host (coordinator.sh, started with systemd-run as
// a transient unit there), which runs them, rolls back by itself when one fails, and keeps its
// journal on that host. This file builds its bundle and the commands that hand it over and read
// its journal back.
import { readFileSync } from 'node:fs';
import type { RunbookDef } from '../runbook/def.js';
import { withDefaults } from '../runbook/defaults.js';
import { isPipe, scriptsOf, type HostScript, type Script, type Step } from '../runbook/steps.js';
import type { Journal } from './types.js';

export const COORDINATOR = readFileSync(new URL('./coordinator.sh', import.meta.url), 'utf8');
/** What coordinator.sh sources from its bundle: its steps, probes, heartbeats and rollback. */
export const COORDINATOR_STEPS = readFileSync(new URL('./coordinator-steps.sh', import.meta.url), 'utf8');

/** The contiguous fleet steps, as [first, last] indices into def.steps, or null when there are none. */
export function fleetRange(def: RunbookDef): [number, number] | null {
  const idx = def.steps.map((s, i) => (s.fleet ? i : -1)).filter((i) => i >= 0);
  if (idx.length === 0) return null;
  const [a, b] = [idx[0]!, idx[idx.length - 1]!];
  if (b - a + 1 !== idx.length) throw new Error(`runbook ${def.name}: the fleet steps are not contiguous`);
  return [a, b];
}

export const coordinatorHost = (def: RunbookDef): string => def.to;
export const cutoverUnit = (def: RunbookDef): string => `migen-${def.name}-cutover`;
export const bundleDir = (def: RunbookDef, runId: string): string => `/var/lib/migen/${def.name}/cutover/${runId}`;

/** The ssh destination of a host as the coordinator host reaches it: the user of the runbook's target at the host's mesh address. */
function fromCoordinator(def: RunbookDef, host: string): string {
  if (host === coordinatorHost(def)) return 'local';
  const h = def.hosts[host]!;
  const user = h.ssh.includes('@') ? h.ssh.slice(0, h.ssh.indexOf('@')) : 'root';
  return `${user}@${h.address || h.name}`;
}

const list = (xs: readonly number[] | undefined): string => (xs && xs.length ? xs.join(',') : '-');

/** The files of a script: where it runs (one host, or two for a pipe) and its bash. */
function scriptFiles(def: RunbookDef, base: string, s: Script): Record<string, string> {
  const parts: HostScript[] = isPipe(s) ? [...s.pipe] : [s];
  // Scripts of the operator's machine run on the coordinator's host during the window.
  const on = parts.map((p) => (p.on === 'operator' ? coordinatorHost(def) : p.on));
  const files: Record<string, string> = { [`${base}.on`]: `${on.join(' ')}\n` };
  parts.forEach((p, i) => { files[`${base}.${i + 1}`] = `${p.script}\n`; });
  return files;
}

function stepLine(idx: number, s: Step): string {
  const f = withDefaults(s);
  const probe = s.kind === 'probe' || s.kind === 'handoff' ? s : null;
  const ms = (sec: number | undefined): string => String(Math.round((sec ?? 0) * 1000));
  return [
    idx, s.kind, s.id, s.concurrent ?? '-', f.window ? 1 : 0, probe?.endsWindow ? 1 : 0, f.undoOnFailure ? 1 : 0,
    probe ? String(probe.intervalSeconds) : '0', ms(probe?.intervalSeconds), ms(probe?.deadlineSeconds),
    list(s.kind === 'probe' ? s.fatalExit : undefined), list(s.kind === 'command' ? s.acceptExit : undefined), s.kind === 'compare' ? s.mode : '-',
    f.freshConnection ? 1 : 0, s.heartbeat?.on ?? '-', s.heartbeat?.file ?? '-', s.undo ? 1 : 0,
  ].join('\t');
}

const sq = (v: string): string => `'${v.replace(/'/g, `'\\''`)}'`;

/** Every file of the bundle, by name: the coordinator, its configuration, the steps and their scripts, the earlier steps' undos. */
export function bundleFiles(def: RunbookDef, journal: Journal, noRollback: boolean): Record<string, string> {
  const range = fleetRange(def)!;
  const files: Record<string, string> = {
    'coordinator.sh': COORDINATOR,
    'coordinator-steps.sh': COORDINATOR_STEPS,
    config: `NAME=${sq(def.name)}\nRUN=${sq(journal.runId)}\nSELF=${sq(coordinatorHost(def))}\nNO_ROLLBACK=${noRollback ? 1 : 0}\n`,
    hosts: `${Object.keys(def.hosts).sort().map((h) => `${h} ${fromCoordinator(def, h)}`).join('\n')}\n`,
    'run.json': `${JSON.stringify(journal)}\n`,
  };
  const lines: string[] = [];
  for (let i = range[0]; i <= range[1]; i++) {
    const s = def.steps[i]!;
    const idx = i + 1;
    lines.push(stepLine(idx, s));
    const named: [string, Script][] = s.kind === 'compare' ? [['left', s.left], ['right', s.right]]
      : s.kind === 'handoff' ? [...(s.run ? [['run', s.run] as [string, Script]] : []), ['check', s.check]]
      : scriptsOf(s).map((x) => ['run', x]);
    if (s.undo) named.push(['undo', s.undo]);
    for (const [n, sc] of named) Object.assign(files, scriptFiles(def, `${idx}.${n}`, sc));
    if (s.kind === 'check' || s.kind === 'compare') files[`${idx}.failure`] = `${s.failure}\n`;
    if (s.kind === 'handoff') {
      files[`${idx}.instruction`] = `${s.instruction}\n`;
      if (s.undoInstruction) files[`${idx}.undo-instruction`] = `${s.undoInstruction}\n`;
    }
  }
  files.steps = `${lines.join('\n')}\n`;
  // A rollback in the window also undoes what the operator did before it (a publication, say), newest first.
  const pre = def.steps.slice(0, range[0]).map((s, i) => ({ s, i })).filter(({ s }) => s.undo && journal.steps[s.id]?.status === 'done').reverse();
  files.pre = pre.map(({ s, i }) => `pre${i + 1} ${s.id}`).join('\n') + (pre.length ? '\n' : '');
  for (const { s, i } of pre) Object.assign(files, scriptFiles(def, `pre${i + 1}.undo`, s.undo!));
  return files;
}

/**
 * The handover, run on the coordinator's host: the bundle written (each file base64-encoded, so no
 * text needs quoting), then the coordinator started as a transient unit that outlives this ssh
 * session, unless it already ran (a resumed run reattaches instead).
 */
export function handoverScript(def: RunbookDef, runId: string, files: Record<string, string>): string {
  const dir = bundleDir(def, runId);
  const lines = [`d=${sq(dir)}`, 'mkdir -p "$d"', `printf '%s\\n' ${sq(runId)} > ${sq(`/var/lib/migen/${def.name}/cutover/current`)}`];
  lines.push(`if [ -s "$d/journal" ] || systemctl is-active --quiet ${sq(cutoverUnit(def))}; then echo "the coordinator of run ${runId} already started"; exit 0; fi`);
  for (const [name, content] of Object.entries(files).sort(([a], [b]) => (a < b ? -1 : 1))) {
    lines.push(`base64 -d > "$d/${name}" <<'MIGEN_B64'`, Buffer.from(content).toString('base64').replace(/.{1,76}/g, '$&\n').trimEnd(), 'MIGEN_B64');
  }
  // The unit's environment is systemd's, not this session's: pass on where the host's CA bundle
  // and git's settings live when the session sets them (a lab or a custom trust store).
  const pass = ['CURL_CA_BUNDLE', 'SSL_CERT_FILE', 'GIT_SSL_CAINFO', 'GIT_CONFIG_COUNT', 'GIT_CONFIG_KEY_0', 'GIT_CONFIG_VALUE_0'].map((v) => `\${${v}:+--setenv=${v}=$${v}}`).join(' ');
  // PATH too: NixOS builds systemd with a default PATH of systemd's own bin directory only (nixpkgs'
  // 0012-path-util.h-add-placeholder-for-DEFAULT_PATH_NORMAL.patch), so a transient unit would find
  // neither coreutils nor the tools the generated modules put in /run/current-system/sw/bin.
  lines.push(`systemd-run --unit=${sq(cutoverUnit(def))} --collect --quiet --property=Restart=on-failure --property=RestartSec=1 --property=StartLimitBurst=3 --setenv=HOME=/root --setenv=PATH="$PATH" ${pass} bash "$d/coordinator.sh" "$d"`);
  return lines.join('\n');
}

/** The coordinator unit's state (systemctl is-active) on the first line, then its journal from byte OFFSET on. */
export const readJournalScript = (def: RunbookDef, runId: string, offset: number): string =>
  `echo "$(systemctl is-active ${sq(cutoverUnit(def))} 2>/dev/null || true)"\ntail -c +${offset + 1} ${sq(`${bundleDir(def, runId)}/journal`)} 2>/dev/null || true`;

/** A read's unit state and journal text. */
export function splitRead(out: string): { unit: string; text: string } {
  const nl = out.indexOf('\n');
  return nl < 0 ? { unit: out.trim(), text: '' } : { unit: out.slice(0, nl).trim(), text: out.slice(nl + 1) };
}

export const abortScript = (def: RunbookDef, runId: string): string => `: > ${sq(`${bundleDir(def, runId)}/abort`)}`;

/** The run of this migration the fleet holds (a resume from another checkout): its id and the operator's journal as it was handed over. */
export const currentRunScript = (def: RunbookDef): string => `r=$(cat ${sq(`/var/lib/migen/${def.name}/cutover/current`)} 2>/dev/null) || exit 3; cat "/var/lib/migen/${def.name}/cutover/$r/run.json"`;

export interface FleetEvent { readonly t: number; readonly event: string; readonly idx: number | null; readonly id: string | null; readonly message: string }

export function parseEvents(text: string): FleetEvent[] {
  return text.split('\n').filter((l) => l.split('\t').length >= 5).map((l) => {
    const [t, event, idx, id, msg] = l.split('\t');
    return { t: Number(t), event: event!, idx: idx === '-' || idx === undefined || !/^\d+$/.test(idx) ? null : Number(idx), id: id === '-' ? null : id ?? null, message: journalMessage(msg ?? '') };
  });
}

/** A journal message: "%" and the text percent-encoded (%, tab, newline, CR) by the coordinator's `log`; base64 from coordinators before it. */
export function journalMessage(m: string): string {
  if (m.startsWith('%')) return m.slice(1).replace(/%(25|09|0A|0D)/g, (_, h: string) => String.fromCharCode(parseInt(h, 16)));
  return Buffer.from(m, 'base64').toString('utf8');
}
