// The runbook of each planned migration: its data (source.ts, a pure function of the plan), and
// the module printed from it with ts-morph (print.ts, loaded only by the commands that write or
// check files).
import type { OutFile } from '../../types.js';
import type { RunbookSource } from './source.js';

export { runbookDef, runbookSources, type RunbookSource } from './source.js';

/** The runbook files, printed (loads ts-morph: half a second). */
export async function printRunbooks(sources: readonly RunbookSource[]): Promise<OutFile[]> {
  if (sources.length === 0) return [];
  const { printRunbook } = await import('./print.js');
  return sources.map((src) => ({ path: src.path, content: printRunbook(src) }));
}
