// The plan of one migration `demo` from a manifest body (indented under migrations.demo) and an
// inventory (default: the fixture fleet), through the real pipeline.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { prepare } from '../../src/generator/pipeline.js';
import type { MigrationPlan } from '../../src/generator/plan/types.js';
import type { Inventory } from '../../src/generator/types.js';
import { fleet } from '../fixtures/inventory.js';

const dir = mkdtempSync(path.join(tmpdir(), 'migen-plan-'));
let n = 0;

export async function planOf(body: string, inv: Inventory = fleet()): Promise<MigrationPlan> {
  const k = n++;
  const inventory = path.join(dir, `inv${k}.json`);
  writeFileSync(inventory, JSON.stringify(inv));
  const f = path.join(dir, `m${k}.yaml`);
  writeFileSync(f, `version: 1\nmigrations:\n  demo:\n${body.trim().split('\n').map((l) => `    ${l}`).join('\n')}\n`);
  return (await prepare([f], { inventory })).plans[0]!.migrations[0]!;
}

/** An inventory changed by `f`. */
export const changed = (f: (i: Inventory) => void): Inventory => { const i = fleet(); f(i); return i; };
