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
 * closed its listening sockets) and one of the new configuration runs, looking every 10 ms
 * (pgrep takes 3-6 ms in the lab): the switch is inside the downtime window, and a 50 ms poll
 * added 25 ms to it on average.
 */
const SETTLE = [
  'for i in $(seq 1 1000); do',
  `  now=" $(pgrep -d ' ' -f '^nginx: worker process *$' || true) "`,
  '  stale=0; for p in $before; do case $now in *" $p "*) stale=1 ;; esac; done',
  '  if [ "$stale" = 0 ] && [ "$now" != "  " ]; then break; fi',
  '  if [ "$i" = 1000 ]; then echo "nginx still answers with the previous configuration (or not at all) 10 s after the reload" >&2; exit 1; fi',
  '  sleep 0.01',
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

/** `conf`: the configuration the running nginx loaded (`nginx -T` of the master's own command line, included files too). */
const RUNNING_CONF = [
  "pid=$(pgrep -o -f '^nginx: master process') || { echo 'nginx is not running' >&2; exit 1; }",
  '# the master runs as "nginx: master process BIN ARGS": the same binary and configuration, with -T',
  'set -f; set -- $(ps -o args= -p "$pid"); shift 3; bin=$1; shift; opts=()',
  'while [ $# -gt 0 ]; do case $1 in -c|-p|-e) opts+=("$1" "${2:-}"); shift; shift || true ;; *) shift ;; esac; done',
  'conf=$("$bin" "${opts[@]}" -T 2>/dev/null) || { echo "nginx -T failed" >&2; exit 1; }',
];

/** The running nginx has a server block for each domain (server_name names it). grep without -q reads all its input: an early exit would fail the pipe (pipefail, SIGPIPE). */
export function vhostsCheck(domains: readonly string[]): string {
  return [
    ...RUNNING_CONF,
    ...domains.map((d) => `printf '%s\\n' "$conf" | sed 's/#.*//' | grep -E ${cmd`${`^[[:space:]]*server_name([[:space:]]+[^;[:space:]]+)*[[:space:]]+${ere(d)}([[:space:]]|;)`}`} >/dev/null || { echo ${cmd`${`nginx serves no virtual host ${d}`}`} >&2; exit 1; }`),
  ].join('\n');
}

/** A name as an extended regular expression (grep -E). */
const ere = (s: string): string => s.replace(/[.[\]\\*+?^$(){}|]/g, '\\$&');

/**
 * After the switch: the configuration the running nginx loaded (`nginx -T` of the master's own
 * command line, route files included) names the old host at none of the moved service's ports.
 * A route that still does points at a stopped backend.
 */
export function staleRoutesCheck(names: readonly string[], ports: readonly number[]): string {
  const host = `(${names.map(ere).join('|')})`;
  const alts = [`${host}:(${ports.join('|')})([^0-9]|$)`];
  if (ports.includes(80)) alts.push(`http://${host}([/; "']|$)`, `server ${host}[ ;]`);
  if (ports.includes(443)) alts.push(`https://${host}([/; "']|$)`);
  const re = `(^|[^A-Za-z0-9_.-])(${alts.join('|')})`;
  return [
    ...RUNNING_CONF,
    `hits=$(printf '%s\\n' "$conf" | sed 's/#.*//' | grep -Eio ${cmd`${re}`} | sort -u) || true`,
    'if [ -n "$hits" ]; then printf \'%s\\n\' "a route still names the old backend:" $hits >&2; exit 1; fi',
  ].join('\n');
}
