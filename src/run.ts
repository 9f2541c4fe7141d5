import { UserError } from './errors.js';
import type { Opts } from './commands.js';

export async function runCommand(_o: Opts): Promise<number> {
  throw new UserError('E_NOT_YET', 'migen run is not available yet: runbooks arrive with issue [3]');
}
