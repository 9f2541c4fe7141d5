// The scripts that set, lift and check the fences (see fence.ts).
import { cmd } from './shell.js';
import type { Fence, FencedUnit } from './types.js';

/** Runs a command where the fenced unit lives: on the host, or inside its container. */
export const where = (u: FencedUnit, script: string): string => (u.container ? cmd`nixos-container run ${u.container} -- bash -c ${script}` : script);

/** The deployed unit file (not a drop-in) carries the fence: the generated module reached the host. */
export function fencedCheck(u: FencedUnit, condition: string): string {
  return where(u, cmd`f=$(systemctl show -P FragmentPath ${u.unit}) && test -n "$f" && grep -qxF ${`ConditionPathExists=${condition}`} "$f"`);
}

/**
 * A runtime drop-in with the new host's fence, written before its deploy: whatever configuration
 * the deploy brings (one without migen's module, say), nothing starts the unit there until a
 * reboot; the deployed module's own condition holds from then on (checked after the deploy).
 */
export function runtimeFence(f: Fence): string {
  const dir = f.dropIn.slice(0, f.dropIn.lastIndexOf('/'));
  return [
    cmd`mkdir -p ${dir} ${f.dir}`,
    cmd`rm -f ${f.ready} ${f.verified}`,
    cmd`printf '%s\\n' '# migen: fenced until the copy passed the cutover checks' '[Unit]' ${`ConditionPathExists=${f.ready}`} > ${f.dropIn}`,
    'systemctl daemon-reload',
  ].join('\n');
}

/** Records the time in a marker file of the fence's directory. */
export const stamp = (f: Fence, file: string): string => cmd`mkdir -p ${f.dir} && date -u +%Y-%m-%dT%H:%M:%SZ > ${file}`;
