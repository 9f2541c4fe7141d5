// What a semantic rule sees and returns.
import type { Inventory, Manifest, MigrationSpec } from '../types.js';
import type { Preset } from '../model/catalog.js';
import type { Finding } from '../model/routes.js';

export interface Ctx { readonly manifest: Manifest; readonly inventory: Inventory; readonly name: string; readonly m: MigrationSpec; readonly p: Preset | null }
export type Rule = (c: Ctx) => Finding[];

export const at = (c: Ctx, ...rest: (string | number)[]): (string | number)[] => ['migrations', c.name, ...rest];
