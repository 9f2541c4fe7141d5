/**
 * migen lab: the parts of a NixOS deploy that the generated modules' tools and copy access change,
 * and a host without them.
 *
 * STAND-IN (NixOS activation cannot run here):
 * - `installPackages`: the host's current profiles (base and specialisations) get these packages'
 *   programs in their sw/bin (system.ts installPrograms, the system path of system-path.nix),
 *   as if they had been built with them; /run/current-system/sw/bin ends root's PATH (lab.ts).
 *   A later lab.system() writes new profiles: pass `packages` in its SystemProfile then.
 * - `authorizedKeysFiles`: sshd.nix writes `AuthorizedKeysFile ${toString cfg.authorizedKeysFiles}`
 *   into sshd_config and restarts sshd when it changes (restartTriggers); here the lab host's
 *   sshd_config gets that line and its sshd (the host's PID 1) re-executes itself on SIGHUP.
 * - `generatedSystem`: what the generated modules make of the example fleet, read with real
 *   `nix eval` (the nixpkgs double): each host's systemPackages' pnames and its sshd's files.
 * - `hideCommands`: a host without the machine's copies of some commands (as a stock NixOS host
 *   lacks sqlite3): an empty, non-executable file bind-mounted over each, in that host's mount
 *   namespace only.
 * Real: the binaries, sshd, its AuthorizedKeysFile handling and StrictModes checks.
 */
import fs from 'node:fs';
import path from 'node:path';
import { nixEvalJson, repoRoot } from '../helpers/nix.js';
import { overridesFor } from '../helpers/repo.js';
import { sq, type Lab } from './lab.js';
import { installPrograms } from './system.js';

export interface HostSystem { packages: string[]; authorizedKeysFiles: string[] }

let fleet: Promise<Record<string, HostSystem>> | undefined;
/** the example fleet with the generated modules, per host */
export function generatedSystem(): Promise<Record<string, HostSystem>> {
  fleet ??= nixEvalJson(path.join(repoRoot, 'examples/homelab'), 'nixosConfigurations', {
    overrides: overridesFor(repoRoot),
    apply: 'cfgs: builtins.mapAttrs (n: s: { packages = map (p: p.pname) s.config.environment.systemPackages; authorizedKeysFiles = s.config.services.openssh.authorizedKeysFiles; }) cfgs',
  }) as Promise<Record<string, HostSystem>>;
  return fleet;
}

/** what a profile built from the generated modules carries for this file's parts (for lab.system: SystemProfile.packages, .authorizedKeysFiles) */
export async function generatedProfileParts(host: string): Promise<{ packages: string[]; authorizedKeysFiles: string[] }> {
  const sys = (await generatedSystem())[host];
  if (!sys) throw new Error(`lab: no host ${host} in the example fleet`);
  // NixOS's own entries (%h/.ssh/authorized_keys, /etc/ssh/authorized_keys.d/%u) stand for the lab's key file
  return { packages: sys.packages, authorizedKeysFiles: sys.authorizedKeysFiles.filter((f) => f.startsWith('/var/lib/migen/')) };
}

/** every current profile of the host holds exactly the programs of these packages; returns them */
export function installPackages(lab: Lab, host: string, pnames: readonly string[]): string[] {
  const sys = lab.hostFile(host, '/nix/var/nix/profiles/system');
  const specs = path.join(sys, 'specialisation');
  const tops = [sys, ...(fs.existsSync(specs) ? fs.readdirSync(specs).map((s) => path.join(specs, s)) : [])];
  let progs: string[] = [];
  for (const top of tops) progs = installPrograms(path.join(top, 'sw', 'bin'), pnames);
  // a host never activated here boots into its base profile (its activation links it)
  const current = lab.hostFile(host, '/run/current-system');
  if (!fs.lstatSync(current, { throwIfNoEntry: false })) fs.symlinkSync('/nix/var/nix/profiles/system', current);
  return progs;
}

const sshdConfig = (lab: Lab, host: string): string => path.join(lab.dir, 'sshd', host, 'sshd_config');

async function sshdListening(lab: Lab, host: string): Promise<number> {
  const r = await lab.exec(host, 'grep -c "Server listening on" /var/log/sshd.log || true');
  return Number(r.stdout.trim());
}

/** sshd reads these authorized-keys files (besides the lab's .ssh/authorized_keys); returns once it re-executed with them */
export async function authorizedKeysFiles(lab: Lab, host: string, files: readonly string[]): Promise<void> {
  const conf = sshdConfig(lab, host);
  const text = fs.readFileSync(conf, 'utf8').replace(/^AuthorizedKeysFile .*$/m, `AuthorizedKeysFile ${['.ssh/authorized_keys', ...files].join(' ')}`);
  fs.writeFileSync(conf, text);
  const before = await sshdListening(lab, host);
  process.kill(lab.hostPid(host), 'SIGHUP');
  for (let i = 0; i < 500 && (await sshdListening(lab, host)) <= before; i++) await new Promise((r) => setTimeout(r, 10));
  if ((await sshdListening(lab, host)) <= before) throw new Error(`lab: sshd on ${host} did not restart after SIGHUP`);
}

/** deploys the host's part of the generated modules that this file stands in for: its packages and its sshd's authorized-keys files */
export async function deployGenerated(lab: Lab, host: string): Promise<{ programs: string[]; files: string[] }> {
  const parts = await generatedProfileParts(host);
  const programs = installPackages(lab, host, parts.packages);
  await authorizedKeysFiles(lab, host, parts.authorizedKeysFiles);
  return { programs, files: parts.authorizedKeysFiles };
}

export async function hideCommands(lab: Lab, host: string, names: readonly string[]): Promise<void> {
  const script = [
    'install -m 0644 /dev/null /run/lab-hidden-command',
    ...names.map((n) => `for d in /usr/local/bin /usr/bin /bin /usr/sbin /sbin; do if [ -f "$d"/${sq(n)} ] && ! mountpoint -q "$d"/${sq(n)}; then mount --bind /run/lab-hidden-command "$d"/${sq(n)}; fi; done`),
  ].join('\n');
  const r = await lab.exec(host, script);
  if (r.code !== 0) throw new Error(`lab: hiding ${names.join(', ')} on ${host}: ${r.stderr}`);
}
