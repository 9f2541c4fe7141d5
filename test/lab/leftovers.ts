/**
 * migen lab: what a lab may leave behind. `findLeftovers()` lists every network namespace, mount
 * (in this mount namespace), process (command line, or MIGEN_LAB=<id> in its environment) and
 * /tmp directory whose name contains the lab prefix; empty means clean. Pass a lab id to check
 * one lab only (other test files may have labs running at the same time).
 * `cleanupLeftovers()` removes them (for a CI step after a crashed run).
 */
import fs from 'node:fs';
import { spawnSync } from 'node:child_process';
import { LAB_PREFIX, isAlive, listNetns, mountsMatching, processesMatching } from './lab.js';

export async function findLeftovers(prefix: string = LAB_PREFIX): Promise<string[]> {
  const out: string[] = [];
  for (const ns of listNetns()) if (ns.includes(prefix)) out.push(`netns ${ns}`);
  for (const m of mountsMatching(prefix)) out.push(`mount ${m}`);
  for (const p of processesMatching(prefix)) out.push(`process ${p.pid} ${p.cmd.slice(0, 200)}`);
  for (const d of fs.readdirSync('/tmp')) if (d.includes(prefix)) out.push(`dir /tmp/${d}`);
  return out;
}

export async function cleanupLeftovers(prefix: string = LAB_PREFIX): Promise<void> {
  for (let i = 0; i < 3; i++) {
    const pids = processesMatching(prefix).map((p) => p.pid);
    for (const ns of listNetns()) {
      if (!ns.includes(prefix)) continue;
      const r = spawnSync('ip', ['netns', 'pids', ns], { encoding: 'utf8' });
      pids.push(...(r.stdout ?? '').split(/\s+/).filter(Boolean).map(Number));
    }
    const alive = pids.filter((p) => p !== process.pid && isAlive(p));
    if (!alive.length) break;
    for (const p of alive) try { process.kill(p, 'SIGKILL'); } catch { /* gone */ }
    await new Promise((r) => setTimeout(r, 200));
  }
  for (const ns of listNetns()) if (ns.includes(prefix)) spawnSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
  for (const m of mountsMatching(prefix).reverse()) spawnSync('umount', ['-l', m], { stdio: 'ignore' });
  for (const d of fs.readdirSync('/tmp')) if (d.includes(prefix)) fs.rmSync(`/tmp/${d}`, { recursive: true, force: true });
}
