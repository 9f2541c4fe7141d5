/**
 * The commands a run needs on each host, with real binaries in the lab: o001 and h002 lack
 * sqlite3 (and o001 restic) on their PATH, as a stock NixOS host does (packages.ts hides the
 * machine's). Deployed without the generated module, the committed warm runbook stops in
 * preflight (the backup's restic and sqlite3 on o001), nothing stopped; deployed with it (packages.ts: its environment.systemPackages in
 * /run/current-system/sw/bin), the warm migration's SQLite steps run with those programs.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { makeRoot, migenRun } from '../e2e/helpers.js';
import { APP_PY, checks, createLab, findLeftovers, type Lab } from './index.js';
import { mustRun, runScript, runbookSteps, scriptOf, stepOf } from './steps.js';
import { deployGenerated, hideCommands } from './packages.js';
import type { Step } from '../../src/runbook/steps.js';

const STATE = '/var/lib/vaultwarden';
const DB = `${STATE}/db.sqlite3`;
let lab: Lab;
let steps: Step[];

const must = async (host: string, script: string): Promise<string> => {
  const r = await lab.exec(host, script);
  if (r.code !== 0) throw new Error(`${host}: ${script}: ${r.code} ${r.stderr}`);
  return r.stdout;
};

beforeAll(async () => {
  lab = await createLab({ hosts: [{ name: 'o001', address: '100.64.0.1' }, { name: 'h002', address: '100.64.0.20' }], hostEnv: { o001: { RESTIC_PASSWORD_FILE: '/root/.config/restic/password' } } });
  steps = await runbookSteps('vaultwarden');
  await must('o001', 'install -d -m 0700 /root/.config/restic && head -c 24 /dev/urandom | base64 > /root/.config/restic/password && restic -r /backup/o001 init -q >/dev/null');
  await lab.defineUnit('o001', 'vaultwarden', { exec: ['/usr/bin/python3', APP_PY], env: { STATE_DIR: STATE, LISTEN: '127.0.0.1:8222' }, ready: { http: 'http://127.0.0.1:8222/alive' } });
  await must('o001', 'systemctl start vaultwarden && for i in $(seq 1 20); do curl -fsS -o /dev/null -X POST --data "row $i" http://127.0.0.1:8222/items; done');
  await hideCommands(lab, 'o001', ['sqlite3', 'restic']);
  await hideCommands(lab, 'h002', ['sqlite3']);
}, 120_000);
afterAll(async () => { await lab?.teardown(); });

describe('tools (warm vaultwarden o001 -> h002)', () => {
  test('a host without the generated module lacks them: preflight names what is missing and the fix', async () => {
    for (const h of ['o001', 'h002']) expect((await lab.exec(h, 'p=$(command -v sqlite3) && [ -x "$p" ]')).code, h).toBe(1);
    // before the deploys: what preflight and the backup run (on o001); after them: the rest
    const old = await runScript(lab, scriptOf(stepOf(steps, 'tools-o001')));
    expect([old.code, old.stderr]).toEqual([1, 'missing on o001: restic sqlite3\n']);
    const oldLate = await runScript(lab, scriptOf(stepOf(steps, 'tools-deployed-o001')));
    expect([oldLate.code, oldLate.stderr]).toEqual([1, 'missing on o001: /run/current-system/sw/bin/rsync\n']);
    const neu = await runScript(lab, scriptOf(stepOf(steps, 'tools-deployed-h002')));
    expect([neu.code, neu.stderr]).toEqual([1, 'missing on h002: sqlite3\n']);
    expect(steps.some((x) => x.id === 'tools-h002')).toBe(false); // nothing runs on h002 before its deploy but what every host has
  });

  test('the runbook stops in preflight with that message, nothing stopped, nothing deployed', async () => {
    const root = makeRoot(lab);
    const r = await migenRun(lab, 'vaultwarden', root).done;
    expect(r.code, r.stdout + r.stderr).toBe(1);
    const out = r.stdout + r.stderr;
    expect(out).toContain('o001 lacks commands the runbook runs there: deploy o001 with the generated module first (generated/hosts/o001.nix adds pkgs.restic, pkgs.sqlite to environment.systemPackages)');
    expect(out).toContain('missing on o001: restic sqlite3');
    expect(await lab.exec('o001', 'systemctl is-active --quiet vaultwarden')).toMatchObject({ code: 0 });
    expect(await lab.exec('h002', `test -e ${STATE} || test -e /var/lib/migen/copy-keys`)).toMatchObject({ code: 1 });
    expect(fs.readFileSync(path.join(lab.dir, 'operator', 'nixos-rebuild.log'), 'utf8')).toBe('');
  }, 120_000);

  test('deployed with it, the checks pass and the SQLite steps run with the system profile\'s sqlite3', async () => {
    expect((await deployGenerated(lab, 'o001')).programs).toEqual(expect.arrayContaining(['restic', 'rsync', 'sqlite3']));
    expect((await deployGenerated(lab, 'h002')).programs).toEqual(expect.arrayContaining(['rsync', 'sqlite3']));
    for (const h of ['o001', 'h002']) {
      for (const id of [`tools-${h}`, `tools-deployed-${h}`]) if (steps.some((x) => x.id === id)) await mustRun(lab, stepOf(steps, id));
      expect((await must(h, 'command -v sqlite3')).trim(), h).toBe('/run/current-system/sw/bin/sqlite3');
    }
    // the backup's consistent copy (VACUUM INTO, integrity_check) and restic, on o001
    await mustRun(lab, stepOf(steps, 'backup'));
    // the copy, then the cutover's integrity_check on h002
    for (const id of ['copy-keys', 'copy-access', 'copy-access-works']) await mustRun(lab, stepOf(steps, id));
    await mustRun(lab, stepOf(steps, 'sync-live'), 'run');
    await must('o001', 'systemctl stop vaultwarden');
    await mustRun(lab, stepOf(steps, 'final-pass'));
    const sqliteStep = steps.find((s) => s.id.startsWith('sqlite-'))!;
    expect(sqliteStep.phase).toBe('cutover');
    await mustRun(lab, sqliteStep);
    for (const h of ['o001', 'h002']) expect((await lab.exec(h, '/usr/bin/sqlite3 -version')).code, h).not.toBe(0); // the machine's stays hidden
    expect(await checks.rowCount(lab, 'h002', DB)).toBe(20);
  }, 120_000);

  test('teardown leaves nothing behind', async () => {
    await lab.teardown();
    expect(await findLeftovers(lab.id)).toEqual([]);
  });
});
