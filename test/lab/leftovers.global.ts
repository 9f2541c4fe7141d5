/**
 * vitest globalSetup: after the whole suite, no lab created by this run left a network
 * namespace, mount, process or directory behind (findLeftovers per lab id). Every createLab
 * appends its id to the registry file named by MIGEN_LAB_REGISTRY (set here, inherited by the
 * test workers), so labs of other runs on the same machine do not count. Leftovers fail the run
 * (exit code 1) and are listed.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { findLeftovers } from './leftovers.js';

const registry = path.join(os.tmpdir(), `migen-lab-registry-${process.pid}.txt`);

export function setup(): void {
  fs.writeFileSync(registry, '');
  process.env.MIGEN_LAB_REGISTRY = registry;
}

export async function teardown(): Promise<void> {
  let ids: string[] = [];
  try { ids = [...new Set(fs.readFileSync(registry, 'utf8').split('\n').filter(Boolean))]; } catch { /* none */ }
  fs.rmSync(registry, { force: true });
  const left: string[] = [];
  for (const id of ids) left.push(...(await findLeftovers(id)));
  if (left.length) {
    console.error(`lab leftovers after the suite (${ids.length} labs):\n  ${left.join('\n  ')}`);
    process.exitCode = 1;
  } else if (ids.length) {
    console.log(`lab leftovers after the suite: none (${ids.length} labs checked: no namespace, mount, process or directory left)`);
  }
}
