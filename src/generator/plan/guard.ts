// Guards: what the window changed on a host reverts by itself when the cutover coordinator falls
// silent, as deploy-rs's "magic rollback" reverts an activation that is not confirmed. Armed by
// the step that makes the change, a guard is a transient unit on that host (systemd-run) that
// watches a heartbeat file the coordinator touches every few seconds; when the touches stop for
// GUARD_SECONDS it runs the revert and records that it fired. The coordinator confirms it over a
// new connection at the end of the window: it stops the guard and fails when the guard had
// already fired (deploy-rs #214: a revert is a rollback, never a success). So a coordinator that
// dies after a change leaves that host confirmed or reverted, never undecided.
import { GUARD_SECONDS } from '../../runbook/def.js';
import { cmd } from './shell.js';

/** What the guard reverts: the proxy's routes, the old host's stop, the new host's start. */
export type GuardRole = 'routes' | 'old' | 'new';

export interface Guard {
  readonly unit: string;
  readonly dir: string;
  readonly heartbeat: string;
  readonly script: string;
  readonly fired: string;
  /** Written by a coordinator that ends without a rollback (--no-rollback): the guard then exits without reverting. */
  readonly hold: string;
}

export function guardOf(name: string, role: GuardRole): Guard {
  const dir = `/var/lib/migen/${name}/guard`;
  return { unit: `migen-${name}-guard-${role}`, dir, heartbeat: `${dir}/heartbeat`, script: `${dir}/${role}.sh`, fired: `${dir}/${role}.fired`, hold: `${dir}/hold` };
}

/** Installs and starts the guard (replacing one left by an earlier run); `revert` runs when the heartbeat stops. */
export function armGuard(g: Guard, what: string, revert: string): string {
  const body = [
    '#!/bin/bash',
    `# migen: ${what} unless the cutover coordinator touches ${g.heartbeat} at least every ${GUARD_SECONDS} s`,
    'set -uo pipefail',
    'while :; do',
    cmd`  if [ -e ${g.hold} ]; then echo 'the coordinator ended without a rollback (--no-rollback): nothing reverted'; exit 0; fi`,
    cmd`  age=$(( $(date +%s) - $(stat -c %Y ${g.heartbeat} 2>/dev/null || echo 0) ))`,
    `  [ "$age" -lt ${GUARD_SECONDS} ] || break`,
    '  sleep 1',
    'done',
    `echo "no heartbeat for ${GUARD_SECONDS} s: ${what.replace(/["$`\\]/g, '')}"`,
    revert,
    cmd`date -u +%Y-%m-%dT%H:%M:%SZ > ${g.fired}`,
  ].join('\n');
  return [
    cmd`systemctl stop ${g.unit} 2>/dev/null || true`,
    cmd`mkdir -p ${g.dir} && rm -f ${g.fired} ${g.hold} && touch ${g.heartbeat}`,
    cmd`cat > ${g.script} <<'MIGEN_GUARD'`,
    body,
    'MIGEN_GUARD',
    cmd`systemd-run --unit=${g.unit} --collect --quiet bash ${g.script}`,
  ].join('\n');
}

/** Stops the guard without looking at it (an undo, which reverts anyway). */
export const disarmGuard = (g: Guard): string => cmd`systemctl stop ${g.unit} 2>/dev/null || true`;

/** The confirmation: the guard stopped; it must not have fired already. */
export function confirmGuard(g: Guard, fired: string): string {
  return [
    disarmGuard(g),
    cmd`if [ -e ${g.fired} ]; then echo "${fired} at $(cat ${g.fired}): the coordinator's heartbeat stopped for ${GUARD_SECONDS} s" >&2; exit 1; fi`,
  ].join('\n');
}
