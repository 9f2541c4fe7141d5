// Preflight: nothing changes yet; every host answers, the new host has room and no data of its
// own, the secrets are there, the service runs on the old host only.
import { dnsPreflight } from '../dns.js';
import { mkdirs } from '../rsync.js';
import { cmd } from '../shell.js';
import { on, stepsOf } from '../step.js';
import type { Ctx, HostRef, Step } from '../types.js';

const { check, compare } = stepsOf('preflight');

/** The hosts a migration touches, old first, the proxy last (once). */
export const touchedHosts = (c: Ctx): HostRef[] =>
  [c.from, c.to, ...(c.proxy && c.proxy.name !== c.from.name && c.proxy.name !== c.to.name ? [c.proxy] : [])];

/** `copy`: the state directories rsync copies (in a hot migration, those beside the database). */
export function preflight(c: Ctx, copy: Ctx['state']): Step[] {
  const { from, to } = c;
  const paths = c.state.map((s) => s.path);
  const steps: Step[] = touchedHosts(c).map((h) => check(`reach-${h.name}`, `${h.name} answers over ssh (${h.ssh})`, on(h.name, 'true'), `cannot reach ${h.name} over ssh as ${h.ssh}`));
  steps.push(compare('disk', `free space on ${to.name} exceeds the state's size on ${from.name} (+10%)`, {
    mode: 'fits',
    left: on(from.name, cmd`du -sb --one-file-system ${paths} | awk '{ s += $1 } END { print s + 0 }'`),
    right: on(to.name, `${mkdirs(paths)} && ${cmd`df -B1 --output=avail ${paths[0] ?? '/var/lib'}`} | tail -n 1`),
    failure: `not enough free disk on ${to.name} for the state of ${from.name}`,
  }));
  if (copy.length > 0) {
    // A symlinked state directory would make rsync copy whatever it points at.
    steps.push(check('state-real-dirs', `every state directory on ${from.name} is a real directory, not a symlink`,
      on(from.name, copy.map((s) => cmd`if [ ! -d ${s.path} ] || [ -L ${s.path} ]; then echo ${`${s.path} is missing or a symlink`} >&2; exit 1; fi`).join('\n')),
      `a state path on ${from.name} is missing or a symlink: name the real directory in state:`));
    // Never overwrite data on the new host that this migration did not put there.
    const marker = `/var/lib/migen/${c.name}.target`;
    steps.push(check('target-empty', `the state directories on ${to.name} are empty, or hold only what an earlier run of ${c.name} copied`,
      on(to.name, [
        cmd`if test -e ${marker}; then exit 0; fi`,
        ...copy.map((s) => cmd`if test -d ${s.path} && test -n "$(ls -A ${s.path})"; then echo ${`${s.path} on ${to.name} already holds data that migen did not copy`} >&2; exit 1; fi`),
        cmd`mkdir -p /var/lib/migen && printf '%s\\n' ${copy.map((s) => s.path)} > ${marker}`,
      ].join('\n')),
      `refusing to overwrite data on ${to.name}: move it away or pick another target`));
  }
  for (const s of c.secrets) {
    const file = s.kind === 'agenix' ? `/run/agenix/${s.name}` : `/run/secrets/${s.name}`;
    steps.push(check(`secret-${s.name}`, `secret ${s.name} is present on ${to.name}`, on(to.name, cmd`test -s ${file}`), `${file} is missing on ${to.name}: deploy it (rekey for ${to.name}'s host key) before migrating`));
  }
  steps.push(
    check('new-stopped', `${c.unit} is not running on ${to.name}`, on(to.name, cmd`! systemctl is-active --quiet ${c.unit}`), `${c.unit} already runs on ${to.name}: two writers must never run at once`),
    check('old-running', `${c.unit} runs on ${from.name}`, on(from.name, cmd`systemctl is-active --quiet ${c.unit}`), `${c.unit} is not running on ${from.name}: nothing to migrate, or it was already moved`),
    ...dnsPreflight(c),
  );
  return steps;
}
