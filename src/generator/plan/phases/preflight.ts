// Preflight: nothing changes yet; every host answers, the new host has room and no data of its
// own, the secrets are there, the service runs on the old host only.
import { isContainerMap } from '../container-map.js';
import { dnsPreflight } from '../dns.js';
import { where } from '../fence-steps.js';
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
  const paths = c.state.map((s) => s.old);
  const newPaths = c.state.map((s) => s.new);
  const steps: Step[] = touchedHosts(c).map((h) => check(`reach-${h.name}`, `${h.name} answers over ssh (${h.ssh})`, on(h.name, 'true'), `cannot reach ${h.name} over ssh as ${h.ssh}`));
  steps.push(compare('disk', `free space on ${to.name} exceeds the state's size on ${from.name} (+10%)`, {
    mode: 'fits',
    left: on(from.name, cmd`du -sb --one-file-system ${paths} | awk '{ s += $1 } END { print s + 0 }'`),
    right: on(to.name, `${mkdirs(newPaths)} && ${cmd`df -B1 --output=avail ${newPaths[0] ?? '/var/lib'}`} | tail -n 1`),
    failure: `not enough free disk on ${to.name} for the state of ${from.name}`,
  }));
  if (copy.length > 0) {
    // A symlinked state directory would make rsync copy whatever it points at.
    steps.push(check('state-real-dirs', `every state directory on ${from.name} is a real directory, not a symlink`,
      on(from.name, copy.map((s) => cmd`if [ ! -d ${s.old} ] || [ -L ${s.old} ]; then echo ${`${s.old} is missing or a symlink`} >&2; exit 1; fi`).join('\n')),
      `a state path on ${from.name} is missing or a symlink: name the real directory in state:`));
    // Never overwrite data on the new host that this migration did not put there.
    const marker = `/var/lib/migen/${c.name}.target`;
    // The container's uid/gid map is no data of the new host's: the copy replaces it (container-users checks its ids).
    const data = copy.filter((s) => !isContainerMap(c, s.old));
    steps.push(check('target-empty', `the state directories on ${to.name} are empty, or hold only what an earlier run of ${c.name} copied`,
      on(to.name, [
        cmd`if test -e ${marker}; then exit 0; fi`,
        ...data.map((s) => cmd`if test -d ${s.new} && test -n "$(ls -A ${s.new})"; then echo ${`${s.new} on ${to.name} already holds data that migen did not copy`} >&2; exit 1; fi`),
        cmd`mkdir -p /var/lib/migen && printf '%s\\n' ${copy.map((s) => s.new)} > ${marker}`,
      ].join('\n')),
      `refusing to overwrite data on ${to.name}: move it away or pick another target`));
  }
  for (const s of c.secrets) {
    const { file } = s;
    steps.push(check(`secret-${s.name}`, `secret ${s.name} is present on ${to.name}`, on(to.name, cmd`test -s ${file}`), `${file} is missing on ${to.name}: deploy it (rekey for ${to.name}'s host key) before migrating`));
  }
  // The writer is the fenced unit: in a hot migration the application inside its container, which
  // runs on both hosts for its PostgreSQL (any deploy of the new host starts an autoStart container,
  // another migration's included: its application stays fenced).
  const w = c.fence.units.new;
  const inner = w.container ? `${cmd`! systemctl is-active --quiet ${c.unit}`} || ${where(w, cmd`! systemctl is-active --quiet ${w.unit}`)}` : null;
  steps.push(
    check('new-stopped', `${w.unit} is not running on ${to.name}${inner ? ` (its container ${c.unit} may run: its PostgreSQL is the subscriber to be)` : ''}`,
      on(to.name, inner ?? cmd`! systemctl is-active --quiet ${w.unit}`), `${w.unit} already runs on ${to.name}: two writers must never run at once`),
    check('old-running', `${c.unit} runs on ${from.name}`, on(from.name, cmd`systemctl is-active --quiet ${c.unit}`), `${c.unit} is not running on ${from.name}: nothing to migrate, or it was already moved`),
    ...dnsPreflight(c),
  );
  return steps;
}
