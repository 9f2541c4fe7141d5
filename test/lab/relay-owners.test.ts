/**
 * Relay mode (sync.mode relay): the state travels as `tar --numeric-owner` through the operator,
 * so uids arrive as numbers; the owners check compares numbers too. Here the two hosts name the
 * same uid differently (their own /etc/passwd and /etc/group, bind-mounted in each host's mount
 * namespace): o001's vaultwarden is 1500, h002's vaultwarden is 1600 and its 1500 is `other`.
 * The plan's own steps, run in the lab: the copy's owners check passes, where comparing by
 * name (what it did before) fails although every file kept its owner.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { planOf } from '../helpers/plan.js';
import { createLab, findLeftovers, type Lab } from './index.js';
import { mustRun, runScript, scriptOf, stepOf } from './steps.js';
import type { MigrationPlan } from '../../src/generator/plan/types.js';
import type { HostScript } from '../../src/runbook/steps.js';

const STATE = '/var/lib/vaultwarden';
let lab: Lab;
let plan: MigrationPlan;

const must = async (host: string, script: string): Promise<string> => {
  const r = await lab.exec(host, script);
  if (r.code !== 0) throw new Error(`${host}: ${script}: ${r.code} ${r.stderr}`);
  return r.stdout;
};
/** the host's own users: the machine's plus these lines */
const users = (host: string, passwd: string, group: string) => must(host, [
  `{ cat /etc/passwd; printf '%s\\n' ${passwd}; } > /run/lab-passwd && { cat /etc/group; printf '%s\\n' ${group}; } > /run/lab-group`,
  'mount --bind /run/lab-passwd /etc/passwd && mount --bind /run/lab-group /etc/group',
].join('\n'));

beforeAll(async () => {
  lab = await createLab({ hosts: [{ name: 'o001', address: '100.64.0.1' }, { name: 'h002', address: '100.64.0.20' }] });
  plan = await planOf('service: vaultwarden\nfrom: o001\nto: h002\nstrategy: cold\nbackup: { none: true }\nsync: { mode: relay }');
  await users('o001', "'vaultwarden:x:1500:1500::/var/lib/vaultwarden:/bin/false'", "'vaultwarden:x:1500:'");
  await users('h002', "'vaultwarden:x:1600:1600::/var/lib/vaultwarden:/bin/false' 'other:x:1500:1500::/:/bin/false'", "'vaultwarden:x:1600:' 'other:x:1500:'");
  await must('o001', `mkdir -p ${STATE}/attachments && echo db > ${STATE}/db.sqlite3 && echo a > ${STATE}/attachments/1.bin && chown -R vaultwarden:vaultwarden ${STATE} && chmod 0600 ${STATE}/db.sqlite3`);
}, 60_000);
afterAll(async () => { await lab?.teardown(); });

describe('relay copy between hosts whose names for a uid differ', () => {
  test('the owners check compares numbers and passes; by name it would fail', async () => {
    expect((await must('o001', `stat -c %U ${STATE}/db.sqlite3`)).trim()).toBe('vaultwarden');
    await mustRun(lab, stepOf(plan.steps, 'final-pass'));
    // every file kept its number, which h002 calls `other`
    expect((await must('h002', `stat -c '%u:%g %U' ${STATE}/db.sqlite3 ${STATE}/attachments/1.bin`)).trim().split('\n')).toEqual(['1500:1500 other', '1500:1500 other']);
    const owners = stepOf(plan.steps, 'owners');
    const [left, right] = [scriptOf(owners, 'left') as HostScript, scriptOf(owners, 'right') as HostScript];
    const [a, b] = await Promise.all([mustRun(lab, owners, 'left'), mustRun(lab, owners, 'right')]);
    expect(a.stdout.trim()).toMatch(/^[0-9a-f]{64}  -$/);
    expect(b.stdout).toBe(a.stdout);
    // the same listing by name, as before: the copies look different
    const byName = (s: HostScript): HostScript => ({ on: s.on, script: s.script.replace('%U:%G', '%u:%g') });
    const [na, nb] = await Promise.all([runScript(lab, byName(left)), runScript(lab, byName(right))]);
    expect(na.stdout).not.toBe(nb.stdout);
    // and a real difference of owner still shows
    await must('h002', `chown 1600 ${STATE}/attachments/1.bin`);
    expect((await mustRun(lab, owners, 'right')).stdout).not.toBe(a.stdout);
  }, 60_000);

  test('teardown leaves nothing behind', async () => {
    await lab.teardown();
    expect(await findLeftovers(lab.id)).toEqual([]);
  });
});
