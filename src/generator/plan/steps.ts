// Every step of a migration, phase by phase (phases/*.ts; PostgreSQL's parts in pg/).
import { cutover } from './phases/cutover.js';
import { finalize } from './phases/finalize.js';
import { preflight } from './phases/preflight.js';
import { prepare } from './phases/prepare.js';
import { sync } from './phases/sync.js';
import { verify } from './phases/verify.js';
import { isDatabaseDir, pgApp, pgDumpNote, pgPreflight } from './pg/index.js';
import type { Ctx, Step } from './types.js';

export function buildSteps(c: Ctx): Step[] {
  const hot = c.strategy === 'hot' && c.database !== null;
  // In a hot migration rsync copies only the files beside the database.
  const copy: Ctx = hot ? { ...c, state: c.state.filter((s) => !isDatabaseDir(s.path)) } : c;
  return [
    ...preflight(c, copy.state),
    ...(hot ? pgPreflight(c) : []),
    ...prepare(c, hot ? { app: pgApp(c).unit } : null),
    ...sync(copy, hot),
    ...cutover(copy, hot),
    ...verify(c, hot),
    ...finalize(c),
    ...(hot ? [pgDumpNote(c)] : []),
  ];
}
