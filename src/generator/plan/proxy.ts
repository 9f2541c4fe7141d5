// Switching the proxy's routes at cutover (and back on rollback).
import { cmd } from './shell.js';

export const SYSTEM = '/nix/var/nix/profiles/system';

/**
 * Activates a configuration of the proxy and returns once nginx answers every new connection with
 * it. switch-to-configuration returns when nginx has been told (a reload is `kill -HUP`, a restart
 * a start job): after a reload the master starts new workers and lets the old ones accept for
 * 100 ms more before it asks them to shut down (ngx_process_cycle.c, ngx_msleep(100)), and a
 * restarted nginx may not listen yet. So this waits until no worker of the previous configuration
 * still accepts (gone, or titled "worker process is shutting down", which closed its listening
 * sockets) and a worker of the new one runs. An activation that changes nothing (a repeated step)
 * waits for nothing.
 */
export function activateProxy(top: string): string {
  return [
    "before=$(pgrep -d ' ' -f '^nginx: worker process *$' || true)",
    'was=$(readlink -f /run/current-system)',
    cmd`${`${top}/bin/switch-to-configuration`} test`,
    cmd`if [ "$was" != "$(readlink -f ${top})" ]; then`,
    '  for i in $(seq 1 200); do',
    `    now=" $(pgrep -d ' ' -f '^nginx: worker process *$' || true) "`,
    '    stale=0; for p in $before; do case $now in *" $p "*) stale=1 ;; esac; done',
    '    if [ "$stale" = 0 ] && [ "$now" != "  " ]; then break; fi',
    '    if [ "$i" = 200 ]; then echo "nginx still answers with the previous configuration (or not at all) 10 s after the activation" >&2; exit 1; fi',
    '    sleep 0.05',
    '  done',
    'fi',
  ].join('\n');
}
