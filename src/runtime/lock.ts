// The run's lock: a file on the old host holding the run id. A second run of the migration
// refuses to start while it is there; the run that holds it releases it at every end.
import type { RunbookDef } from '../runbook/def.js';
import type { HostScript } from '../runbook/steps.js';

export function lockScripts(def: RunbookDef, runId: string, quote: (s: string) => string): { acquire: HostScript; release: HostScript } {
  const lock = quote(def.lock.path);
  const dir = quote(def.lock.path.slice(0, def.lock.path.lastIndexOf('/')) || '/');
  const id = quote(runId);
  return {
    acquire: { on: def.lock.on, script: [
      `mkdir -p ${dir}`,
      `if ( set -C; printf '%s\\n' ${id} > ${lock} ) 2>/dev/null; then exit 0; fi`,
      `held=$(cat ${lock} 2>/dev/null || true)`,
      `if [ "$held" = ${id} ]; then exit 0; fi`,
      `echo "migration ${def.name} is locked by run $held (${def.lock.path} on ${def.lock.on})" >&2`,
      'exit 75',
    ].join('\n') },
    release: { on: def.lock.on, script: `if [ "$(cat ${lock} 2>/dev/null || true)" = ${id} ]; then rm -f ${lock}; fi` },
  };
}
