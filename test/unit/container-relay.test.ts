// A container's uid/gid map travels with its state (plan/container-map.ts), and a relay copy
// compares owners by number (plan/phases/cutover.ts). The scripts run in real bash.
import { spawnSync } from 'node:child_process';
import { chownSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Step } from '../../src/runbook/steps.js';
import { planOf } from '../helpers/plan.js';

const fj = 'service: forgejo\nfrom: h001\nto: h002\nbackup: { none: true }';
const MAP = '/var/lib/nixos-containers/forgejo/var/lib/nixos';
const bash = (script: string, input = '') => spawnSync('/bin/bash', ['-c', `set -euo pipefail\n${script}`], { input, encoding: 'utf8' });

describe('a container\'s uid/gid map', () => {
  it.each([
    ['warm', true], ['cold', true], ['hot', false],
  ] as const)('%s: copied with the state: %s', async (strategy, copied) => {
    const p = await planOf(`${fj}\nstrategy: ${strategy}${strategy === 'hot' ? '\ndatabase: { engine: postgresql, databases: [forgejo] }' : ''}`);
    expect(p.state.some((s) => s.old === MAP && s.new === MAP)).toBe(copied);
    expect(p.steps.some((s) => s.id === 'container-users')).toBe(copied);
    if (!copied) return;
    expect(p.copyAccess!.keys.map((k) => k.remote)).toContain(MAP);
    // it is no data of the new host: never a reason to refuse the target
    const target = p.steps.find((s) => s.id === 'target-empty') as Extract<Step, { kind: 'check' }>;
    expect('on' in target.run && target.run.script).not.toMatch(/if test -d \/var\/lib\/nixos-containers/);
  });

  const root = mkdtempSync(path.join(tmpdir(), 'migen-cmap-'));
  const users = async () => {
    const p = await planOf(`${fj}\nstrategy: warm`);
    const s = p.steps.find((x) => x.id === 'container-users') as Extract<Step, { kind: 'check' }>;
    if (!('pipe' in s.run)) throw new Error('a pipe');
    const at = (side: string, sc: string) => sc.replaceAll('/var/lib/nixos-containers/', `${root}/${side}/`);
    return { old: at('old', s.run.pipe[0].script), new: at('new', s.run.pipe[1].script) };
  };
  const etc = (side: string, passwd: string | null, group: string | null): void => {
    rmSync(path.join(root, side), { recursive: true, force: true });
    mkdirSync(path.join(root, side, 'forgejo/etc'), { recursive: true });
    if (passwd !== null) writeFileSync(path.join(root, side, 'forgejo/etc/passwd'), passwd);
    if (group !== null) writeFileSync(path.join(root, side, 'forgejo/etc/group'), group);
  };
  const OLD = ['root:x:0:0::/root:/bin/sh\nforgejo:x:986:986::/var/lib/forgejo:/bin/sh\npostgres:x:71:71::/var/lib/postgresql:/bin/sh\n', 'root:x:0:\nforgejo:x:986:\npostgres:x:71:\n'] as const;

  it.each([
    ['the new container never ran (no users yet)', null, null, 0],
    ['it has the same ids', OLD[0], OLD[1], 0],
    ['it has more users, the shared ones with the same ids', `${OLD[0]}extra:x:1234:1234::/:/bin/sh\n`, OLD[1], 0],
    ['a user got another uid', OLD[0].replace('forgejo:x:986', 'forgejo:x:995'), OLD[1], 1],
    ['a group got another gid', OLD[0], OLD[1].replace('forgejo:x:986', 'forgejo:x:990'), 1],
  ] as const)('container-users: %s -> exit %s', async (_, passwd, group, code) => {
    const s = await users();
    etc('old', OLD[0], OLD[1]);
    etc('new', passwd, group);
    const left = bash(s.old);
    expect(left.status).toBe(0);
    const r = bash(s.new, left.stdout);
    expect(r.status, r.stderr).toBe(code);
    if (code) expect(r.stderr).toMatch(/^(passwd|group)\/forgejo:986:99\d$/m);
  });
});

describe('relay mode compares owners by number', () => {
  it('equal for the same uids, whatever their names; different once one differs', async () => {
    // vaultwarden's owner has no fixed uid: its rsync copy maps by name, but tar --numeric-owner does not
    const p = await planOf('service: vaultwarden\nfrom: o001\nto: h002\nstrategy: cold\nbackup: { none: true }\nsync: { mode: relay }');
    expect(p.numericIds).toBe(false);
    const cmp = p.steps.find((s) => s.id === 'owners') as Extract<Step, { kind: 'compare' }>;
    const sides = ['left', 'right'].map((k) => ('on' in cmp[k as 'left'] ? (cmp[k as 'left'] as { script: string }).script : ''));
    for (const sc of sides) expect(sc).toContain("-printf '%P %U:%G %m\\n'");
    const base = mkdtempSync(path.join(tmpdir(), 'migen-relay-'));
    const tree = (side: string, uid: number): string => {
      const d = path.join(base, side, 'var/lib/vaultwarden');
      mkdirSync(path.join(d, 'attachments'), { recursive: true });
      writeFileSync(path.join(d, 'db.sqlite3'), 'x');
      writeFileSync(path.join(d, 'attachments/1.bin'), 'y');
      for (const f of ['', 'db.sqlite3', 'attachments', 'attachments/1.bin']) chownSync(path.join(d, f), uid, uid);
      return sides[side === 'a' ? 0 : 1]!.replaceAll('/var/lib/vaultwarden', d);
    };
    const a = bash(tree('a', 4242)).stdout;
    expect(a).toMatch(/^[0-9a-f]{64}  -\n$/);
    expect(bash(tree('b', 4242)).stdout).toBe(a);
    chownSync(path.join(base, 'b/var/lib/vaultwarden/db.sqlite3'), 4243, 4242);
    expect(bash(sides[1]!.replaceAll('/var/lib/vaultwarden', path.join(base, 'b/var/lib/vaultwarden'))).stdout).not.toBe(a);
  });
});
