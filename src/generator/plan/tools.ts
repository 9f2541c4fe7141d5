// The commands the runbook runs on each host that a stock NixOS host may lack, read from the
// steps themselves (every script, undo and check on that host), with the nixpkgs package of
// each: the generated module declares them (environment.systemPackages) and preflight checks
// them anyway, for a host deployed without the module. Every NixOS host has coreutils, findutils,
// gawk, gnused, gnugrep, gnutar, util-linux, procps, openssh and curl (requiredPackages of
// nixos/modules/config/system-path.nix, always in environment.systemPackages); rsync is only one of
// environment.defaultPackages, which a minimal host empties.
import { scriptsOf, type HostScript, type Script, type Step } from '../../runbook/steps.js';
import { cmd } from './shell.js';
import { RRSYNC, RSYNC } from './access.js';
import type { CopyAccess, HostTools } from './types.js';

/** command -> nixpkgs attribute (pkgs.<name>) that puts it into /run/current-system/sw/bin; null: every NixOS host has it (checked, not declared). */
export const PROVIDERS: Readonly<Record<string, string | null>> = {
  curl: null, dig: 'dnsutils', nsupdate: 'dnsutils', git: 'git', restic: 'restic', rrsync: 'rrsync', rsync: 'rsync', sqlite3: 'sqlite',
};
const NAMES = Object.keys(PROVIDERS).sort().join('|');
// A name in command position: at the start of a line or after a separator, `$(`, a keyword, `exec`
// or a `--` (runuser -u x -- sqlite3 ...).
const AT_COMMAND = new RegExp(String.raw`(?:^|[\n;&|({!]|\$\(|\b(?:if|elif|then|do|else|while|until|exec|time)[ \t]|[ \t]--[ \t])[ \t]*(${NAMES})(?=$|[\s;&|)])`, 'g');

/** The commands of PROVIDERS a script runs on its host (a command inside `nixos-container run NAME --` runs in the container). */
export function commandsIn(script: string): string[] {
  const onHost = script.replace(/nixos-container run \S+ --[^\n;&|]*/g, '');
  return [...new Set([...onHost.matchAll(AT_COMMAND)].map((m) => m[1]!))].sort();
}

const partsOf = (s: Script): readonly HostScript[] => ('pipe' in s ? s.pipe : [s]);

/** Per host of the run (never the operator), the commands its steps run there, and rsync's other end. */
export function toolsOf(steps: readonly Step[], copy: CopyAccess | null): HostTools[] {
  const by = new Map<string, Set<string>>();
  const add = (host: string, c: string): void => { if (host !== 'operator') by.set(host, (by.get(host) ?? new Set()).add(c)); };
  for (const s of steps) {
    for (const sc of [...scriptsOf(s), ...(s.undo ? [s.undo] : [])]) for (const p of partsOf(sc)) for (const c of commandsIn(p.script)) add(p.on, c);
  }
  // rsync on the client starts `rsync --server` on the other host: its daemon mode at the path
  // the forced command names, or rrsync there (push).
  if (copy) { add(copy.server, 'rsync'); add(copy.server, copy.mode === 'ro' ? RSYNC : 'rrsync'); }
  return [...by].sort(([a], [b]) => (a < b ? -1 : 1)).map(([host, cs]) => {
    const commands = [...cs].sort();
    return { host, commands, packages: [...new Set(commands.flatMap((c) => PROVIDERS[c] ?? []))].sort() };
  });
}

/** command -v per command; rrsync, and a path (rsync's, for the forced command), where the forced command names it. Prints what is missing. */
export function toolsCheck(t: HostTools): string {
  const found = t.commands.filter((c) => c !== 'rrsync' && !c.startsWith('/'));
  const paths = [...(t.commands.includes('rrsync') ? [RRSYNC] : []), ...t.commands.filter((c) => c.startsWith('/'))];
  return [
    'missing=',
    // bash's command -v falls back to a file that is not executable: an executable is what counts
    ...(found.length ? [`for c in ${cmd`${found}`}; do p=$(command -v "$c") && [ -x "$p" ] || missing="$missing $c"; done`] : []),
    ...paths.map((p) => cmd`test -x ${p} || missing="$missing ${p}"`),
    `if [ -n "$missing" ]; then echo ${cmd`${`missing on ${t.host}:`}`}"$missing" >&2; exit 1; fi`,
  ].join('\n');
}
