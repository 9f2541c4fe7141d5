// Switching the proxy's moved routes at cutover (and back on rollback): the route files nginx
// includes are rewritten, nginx reloads, and the step returns once nginx answers every new
// connection with the new configuration.
import { cmd } from './shell.js';
import type { RouteFile } from './types.js';

/**
 * After `systemctl reload nginx` (nixpkgs' ExecReload: `nginx -t`, then `kill -HUP` of the master)
 * the master starts new workers and lets the old ones accept for 100 ms more before it asks them
 * to shut down (nginx's ngx_process_cycle.c, ngx_msleep(100)). So this waits until no worker of
 * the previous configuration still accepts (gone, or "worker process is shutting down", which
 * closed its listening sockets) and one of the new configuration runs.
 */
const SETTLE = [
  'for i in $(seq 1 200); do',
  `  now=" $(pgrep -d ' ' -f '^nginx: worker process *$' || true) "`,
  '  stale=0; for p in $before; do case $now in *" $p "*) stale=1 ;; esac; done',
  '  if [ "$stale" = 0 ] && [ "$now" != "  " ]; then break; fi',
  '  if [ "$i" = 200 ]; then echo "nginx still answers with the previous configuration (or not at all) 10 s after the reload" >&2; exit 1; fi',
  '  sleep 0.05',
  'done',
];

/** Writes every route file with the old or the new backend (atomically), reloads nginx, waits until it serves them. */
export function switchRoutes(files: readonly RouteFile[], to: 'old' | 'new'): string {
  const dirs = [...new Set(files.map((f) => f.file.slice(0, f.file.lastIndexOf('/'))))];
  return [
    "before=$(pgrep -d ' ' -f '^nginx: worker process *$' || true)",
    cmd`install -d -m 0755 ${dirs}`,
    // Unchanged files are left alone (an undo after a switch that could not write them succeeds).
    // An if, not `[ ] || { a && b; }`: bash ignores -e inside such a list, so a failed write would pass.
    ...files.map((f) => cmd`if [ "$(cat ${f.file} 2>/dev/null)" != ${f[to]} ]; then printf '%s\\n' ${f[to]} > ${`${f.file}.migen-tmp`}; mv -f ${`${f.file}.migen-tmp`} ${f.file}; fi`),
    'systemctl reload nginx',
    ...SETTLE,
  ].join('\n');
}

/** The activation script of the proxy's generated module: each route file with the old backend, unless it exists (a route a run switched stays switched). */
export function routeDefaults(files: readonly RouteFile[]): string {
  const dirs = [...new Set(files.map((f) => f.file.slice(0, f.file.lastIndexOf('/'))))];
  return [cmd`install -d -m 0755 ${dirs}`, ...files.map((f) => cmd`[ -e ${f.file} ] || printf '%s\\n' ${f.old} > ${f.file}`)].join('\n');
}
