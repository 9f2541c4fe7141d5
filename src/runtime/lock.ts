// The run's locks: one file per host (old, new, proxy) naming the run that holds it. A second run
// touching any of those hosts refuses and names the holder; the run releases them at every end,
// `migen unlock NAME` lifts those a crashed run left.
import type { RunbookDef } from '../runbook/def.js';
import type { HostScript } from '../runbook/steps.js';

/** What a lock file says: `run=ID migration=NAME since=ISO pid=PID by=USER@MACHINE`. */
export interface Holder { readonly run: string; readonly migration: string; readonly since: string; readonly pid: string; readonly by: string }

export function parseHolder(line: string): Holder | null {
  const f = Object.fromEntries(line.trim().split(/\s+/).map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]));
  return f.run && f.migration ? { run: f.run, migration: f.migration, since: f.since ?? '?', pid: f.pid ?? '?', by: f.by ?? '?' } : null;
}

export const lockHosts = (def: RunbookDef): string[] => Object.keys(def.hosts).sort();

export function lockScripts(def: RunbookDef, holder: Holder, quote: (s: string) => string): { acquire: (host: string) => HostScript; release: (host: string) => HostScript } {
  const lock = quote(def.lock.path);
  const dir = quote(def.lock.path.slice(0, def.lock.path.lastIndexOf('/')) || '/');
  const line = quote(`run=${holder.run} migration=${holder.migration} since=${holder.since} pid=${holder.pid} by=${holder.by}`);
  const mine = quote(`run=${holder.run} `);
  return {
    acquire: (host) => ({ on: host, script: [
      `mkdir -p ${dir}`,
      `if ( set -C; printf '%s\\n' ${line} > ${lock} ) 2>/dev/null; then exit 0; fi`,
      `held=$(cat ${lock} 2>/dev/null || true)`,
      `case "$held" in ${mine}*) exit 0 ;; esac`,
      `echo "${host} is locked by another run: $held (${def.lock.path})" >&2`,
      'exit 75',
    ].join('\n') }),
    release: (host) => ({ on: host, script: `case "$(cat ${lock} 2>/dev/null || true)" in ${mine}*) rm -f ${lock} ;; esac` }),
  };
}

/** Lifts the locks a run of `migration` left (not another migration's). */
export function unlockScript(migration: string, lockPath: string, host: string, quote: (s: string) => string): HostScript {
  const lock = quote(lockPath);
  return { on: host, script: [
    `held=$(cat ${lock} 2>/dev/null || true)`,
    'if [ -z "$held" ]; then echo "not locked"; exit 0; fi',
    `case " $held " in *${quote(` migration=${migration} `)}*) rm -f ${lock}; echo "lifted: $held" ;; *) echo "held by another migration: $held" >&2; exit 75 ;; esac`,
  ].join('\n') };
}
