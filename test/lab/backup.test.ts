/**
 * The pre-migration backup restores: the committed warm runbook's backup step
 * (generated/runbooks/migrate-vaultwarden.mjs) runs on o001 while a writer keeps writing to its
 * Vaultwarden (the lab's service: SQLite in WAL mode, attachments beside it), with Debian's restic
 * against a local repository, offline, the password from the host's environment as the plan says.
 * The plan's restore commands (generated/plans/vaultwarden.json) then give a database that passes
 * integrity_check and holds every row acknowledged before the backup started.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { repoRoot } from '../helpers/nix.js';
import { APP_PY, checks, createLab, findLeftovers, startWriter, type Lab } from './index.js';
import { mustRun, runScript, runbookSteps, stepOf } from './steps.js';
import { deployGenerated } from './packages.js';

const STATE = '/var/lib/vaultwarden';
const DB = `${STATE}/db.sqlite3`;
const ROOT = '/var/tmp/migen-restore-vaultwarden';
let lab: Lab;

const must = async (host: string, script: string): Promise<string> => {
  const r = await lab.exec(host, script);
  if (r.code !== 0) throw new Error(`${host}: ${script}: ${r.code} ${r.stderr}`);
  return r.stdout;
};
const until = async (what: string, ok: () => boolean): Promise<void> => {
  for (let i = 0; i < 3000 && !ok(); i++) await new Promise((r) => setTimeout(r, 10));
  if (!ok()) throw new Error(`timeout: ${what}`);
};

beforeAll(async () => {
  lab = await createLab({ hosts: [{ name: 'o001', address: '100.64.0.1' }, { name: 'h002', address: '100.64.0.20' }], hostEnv: { o001: { RESTIC_PASSWORD_FILE: '/root/.config/restic/password' } } });
  await must('o001', 'install -d -m 0700 /root/.config/restic && head -c 24 /dev/urandom | base64 > /root/.config/restic/password && restic -r /backup/o001 init -q >/dev/null');
  await lab.defineUnit('o001', 'vaultwarden', { exec: ['/usr/bin/python3', APP_PY], env: { STATE_DIR: STATE, LISTEN: '100.64.0.1:8222' }, ready: { http: 'http://100.64.0.1:8222/alive' } });
  await must('o001', 'systemctl start vaultwarden');
  await deployGenerated(lab, 'o001');
}, 120_000);
afterAll(async () => { await lab?.teardown(); });

describe('the backup of the warm vaultwarden migration', () => {
  test('taken while the service writes, it restores to a sound database with every row acknowledged before it', async () => {
    const plan = (JSON.parse(fs.readFileSync(path.join(repoRoot, 'generated/plans/vaultwarden.json'), 'utf8')) as { migrations: { backup: { restore: string[]; passwordFile: string | null; snapshotDir: string } }[] }).migrations[0]!.backup;
    expect(plan.passwordFile).toBeNull(); // the example names none: the host's environment (hostEnv) holds it
    const writer = startWriter(lab, { address: '100.64.0.1', port: 8222, host: 'vault.joshuabell.xyz', intervalMs: 5, attachEvery: 4, maxMs: 120_000 });
    await until('100 acknowledged writes', () => writer.acked.length >= 100);
    // uncheckpointed pages in the -wal while the backup runs: the live file alone is not the database
    expect(Number((await must('o001', `stat -c %s ${DB}-wal`)).trim())).toBeGreaterThan(0);
    const started = Date.now();
    const before = writer.acked.filter((a) => a.t < started);
    const backup = stepOf(await runbookSteps('vaultwarden'), 'backup');
    await mustRun(lab, backup);
    const during = writer.acked.length;
    await until('writes after the backup', () => writer.acked.length > during + 10);
    const acked = await writer.stop();
    expect(acked.length).toBeGreaterThan(before.length);

    // what restic holds: the state without the live database, and the consistent copy
    const snaps = JSON.parse(await must('o001', 'restic -r /backup/o001 snapshots --json --tag migen-vaultwarden')) as { paths: string[]; tags: string[] }[];
    expect(snaps.map((s) => [s.paths.sort(), s.tags.sort()])).toEqual([[[plan.snapshotDir, STATE], ['migen-vaultwarden', 'pre-migration']]]);
    const files = (await must('o001', 'restic -r /backup/o001 ls latest --tag migen-vaultwarden')).split('\n');
    expect(files.filter((f) => f.startsWith(`${DB}`))).toEqual([]);
    expect(files).toContain(`${plan.snapshotDir}${DB}`);
    expect(await lab.exec('o001', `test -e ${plan.snapshotDir}`)).toMatchObject({ code: 1 }); // removed after the backup

    // the plan's restore, as printed
    for (const c of plan.restore) {
      const r = await runScript(lab, { on: 'o001', script: c });
      expect(r.code, `${c}\n${r.stderr}`).toBe(0);
    }
    const restored = `${ROOT}${DB}`;
    expect(await checks.sqliteIntegrity(lab, 'o001', restored)).toBe('ok');
    expect(await lab.exec('o001', `test -e ${restored}-wal || test -e ${restored}-shm`)).toMatchObject({ code: 1 });
    const ids = new Set(await checks.rowIds(lab, 'o001', restored));
    expect(before.length).toBeGreaterThanOrEqual(100);
    expect(before.filter((a) => !ids.has(a.id))).toEqual([]);
    // the files beside the database came along: every attachment of a row the copy holds
    const attached = acked.filter((a) => a.attach && ids.has(a.id));
    expect(attached.length).toBeGreaterThan(10);
    const tree = await checks.treeDigest(lab, 'o001', `${ROOT}${STATE}`);
    for (const a of attached) expect(tree[`attachments/${a.id}.bin`], `attachment ${a.id}`).toBeDefined();
    expect(tree['rsa_key.pem']).toBe((await checks.treeDigest(lab, 'o001', STATE))['rsa_key.pem']);
    // the restored copy is owned like the live one
    expect((await must('o001', `stat -c '%u:%g %a' ${restored}`)).trim()).toBe((await must('o001', `stat -c '%u:%g %a' ${DB}`)).trim());
    console.log(`backup restored: ${ids.size} rows, ${before.length} acknowledged before the backup all present; ${acked.length} acknowledged in all`);
  }, 180_000);

  test('teardown leaves nothing behind', async () => {
    await lab.teardown();
    expect(await findLeftovers(lab.id)).toEqual([]);
  });
});
