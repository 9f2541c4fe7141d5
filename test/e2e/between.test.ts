/**
 * e2e ([10]): between the cutover and `migen finalize` the fleet stays consistent, with the lab's
 * faithful NixOS stand-ins (switch-to-configuration starts every wanted unit, as nixpkgs'
 * switch-to-configuration-ng does; lab.reboot boots the boot profile; test/lab/README.md):
 * 1. vaultwarden cut over (o001 is old host and proxy): o001's vaultwarden stays stopped through a
 *    redeploy of o001 (nixos-rebuild switch of its configuration as the repository has it before
 *    finalize) and through a reboot; vault. routes to h002 after both; writes land on h002 only.
 * 2. The blind spot of the runbooks before [10]: their stop was a bare `systemctl stop` and o001's
 *    configuration carried no fence, so the same redeploy started a second writer on the old copy.
 *    Shown here with the configuration without migen's module and that stop.
 * 3. Two runs touching the same host at once: the second refuses, naming the first (host,
 *    migration, since, pid), and changes nothing.
 * 4. `migen status` as the hosts say it (planned, prepared with a crashed run's locks, cut over,
 *    rolled back), `migen unlock`, and `migen finalize` refusing a rolled-back migration.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { checks, createLab, findLeftovers, startProber, startWriter, type Lab } from '../lab/index.js';
import { crashOperator, MIGEN, makeRoot, migenRun, proxyProfiles, readReport, REPO, sleep, whenJournal } from './helpers.js';
import { VW_DB, VW_DOMAIN, activeOn, defineVaultwarden, locked, resetVaultwarden, servedBy, setupVaultwarden, vaultwardenLabOptions } from './fleet.js';

let lab: Lab;
let root: string;
const summary: string[] = [];

beforeAll(async () => {
  lab = await createLab(vaultwardenLabOptions({}, false));
  root = makeRoot(lab);
  await setupVaultwarden(lab);
}, 60_000);
afterAll(async () => {
  if (summary.length) console.log(`e2e between cutover and finalize (vaultwarden):\n  ${summary.join('\n  ')}`);
  await lab?.teardown();
});

const clients = () => ({
  writer: startWriter(lab, { address: '100.64.0.1', host: VW_DOMAIN, attachEvery: 5, maxMs: 180_000 }),
  prober: startProber(lab, { address: '100.64.0.1', host: VW_DOMAIN, intervalMs: 50, maxMs: 180_000 }),
});
/** `nixos-rebuild switch` of a host from the operator, as every deploy does (the lab's stand-in activates its base profile). */
const redeploy = (host: string) => lab.operator(['nixos-rebuild', 'switch', '--flake', `examples/homelab#${host}`, '--target-host', `root@${host}`]);
const status = (name: string) => lab.operator([process.execPath, MIGEN, 'status', name, '--ssh-config', lab.sshConfig], { cwd: REPO });
const stateLine = async (name: string) => (await status(name)).stdout.split('\n')[0]!;

describe('between the cutover and finalize (vaultwarden, generated runbook)', () => {
  test('migen status: planned before a run', async () => {
    expect(await stateLine('vaultwarden')).toMatch(/^vaultwarden: planned — /);
  }, 30_000);

  test('migen status: prepared, with the locks of a run that died after its preparation; migen unlock lifts them', async () => {
    const run = migenRun(lab, 'vaultwarden', root);
    await whenJournal(root, 'vaultwarden', run, (j) => j.steps.prepared?.status === 'done');
    await crashOperator(lab, run);
    const st = await status('vaultwarden');
    expect(st.stdout).toMatch(/^vaultwarden: prepared — /);
    expect(st.stdout).toMatch(/lock on (o001|h002): run=\S+ migration=vaultwarden since=\S+ pid=\d+ by=\S+/);
    const un = await lab.operator([process.execPath, MIGEN, 'unlock', 'vaultwarden', '--ssh-config', lab.sshConfig], { cwd: REPO });
    expect(un.code, un.stdout + un.stderr).toBe(0);
    expect(await locked(lab)).toEqual([]);
    await resetVaultwarden(lab, root);
  }, 120_000);

  test("cut over; o001's vaultwarden stays stopped through a redeploy and a reboot of o001, vault. keeps routing to h002", async () => {
    const { writer, prober } = clients();
    await sleep(300);
    const r = await migenRun(lab, 'vaultwarden', root).done;
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(await stateLine('vaultwarden')).toMatch(/^vaultwarden: cut over — /);
    expect((await status('vaultwarden')).stdout).toMatch(/\n {2}consistent\n/);

    const deploy = await redeploy('o001');
    expect(deploy.code, deploy.stderr).toBe(0);
    expect(await activeOn(lab, 'vaultwarden', ['o001', 'h002'])).toEqual(['h002']);
    expect((await lab.exec('o001', 'systemctl show -P ConditionResult vaultwarden')).stdout.trim()).toBe('no');
    expect(await servedBy(lab)).toBe('h002');

    await lab.reboot('o001');
    // after the boot o001's nginx serves again (its wanted units started), vaultwarden did not start
    let served = '';
    for (let i = 0; i < 100 && (served = await servedBy(lab)) !== 'h002'; i++) await sleep(100);
    expect(served).toBe('h002');
    expect(await activeOn(lab, 'vaultwarden', ['o001', 'h002'])).toEqual(['h002']);
    expect((await lab.exec('o001', 'systemctl show -P ConditionResult vaultwarden')).stdout.trim()).toBe('no');
    // and once more a switch, after the boot
    expect((await redeploy('o001')).code).toBe(0);
    expect(await activeOn(lab, 'vaultwarden', ['o001', 'h002'])).toEqual(['h002']);

    await sleep(300);
    const acked = await writer.stop();
    const probe = await prober.stop();
    const ids = new Set(await checks.rowIds(lab, 'h002', VW_DB));
    expect(acked.filter((a) => !ids.has(a.id))).toEqual([]);
    // once h002 served, nothing was served by o001 again
    const hosts = probe.samples.filter((s) => s.ok).map((s) => s.host);
    expect(hosts.lastIndexOf('o001')).toBeLessThan(hosts.indexOf('h002'));
    expect(await stateLine('vaultwarden')).toMatch(/^vaultwarden: cut over — /);
    summary.push(`cut over, then o001 redeployed, rebooted and redeployed: vaultwarden active on h002 only, vault. on h002 throughout; ${acked.length} acknowledged writes on h002`);
  }, 180_000);

  test('the blind spot before [10]: a bare stop and a configuration without fences, and the same redeploy starts a second writer', async () => {
    await resetVaultwarden(lab, root);
    const { proxy, profiles } = await proxyProfiles('vaultwarden', ['nginx', 'vaultwarden']);
    // o001 as before migen's module (no fence, restartIfChanged on), h002 with its copy running
    await lab.system(proxy, { profiles: { base: profiles.previous!, previous: profiles.previous! }, active: 'previous' });
    try {
      expect((await lab.exec('o001', 'systemctl stop vaultwarden')).code).toBe(0); // the old runbooks' stop-old
      await defineVaultwarden(lab, 'h002');
      expect((await lab.exec('h002', 'install -d /var/lib/vaultwarden /var/lib/migen/vaultwarden && touch /var/lib/migen/vaultwarden/ready && rm -rf /run/systemd/system/vaultwarden.service.d && systemctl start vaultwarden')).code).toBe(0);
      expect(await activeOn(lab, 'vaultwarden', ['o001', 'h002'])).toEqual(['h002']);
      expect((await redeploy('o001')).code).toBe(0);
      // switch-to-configuration started every wanted unit: the old copy runs again, a second writer
      expect(await activeOn(lab, 'vaultwarden', ['o001', 'h002'])).toEqual(['o001', 'h002']);
      summary.push('without the fence: a redeploy of o001 after the stop started vaultwarden there again (two writers: o001 and h002)');
    } finally {
      await lab.exec('h002', 'systemctl stop vaultwarden');
      await lab.system(proxy, { profiles, active: 'previous' });
      await resetVaultwarden(lab, root);
    }
  }, 120_000);

  test('a second run touching the same hosts refuses, naming the first (host, migration, since, pid); nothing changes', async () => {
    await resetVaultwarden(lab, root);
    const first = migenRun(lab, 'vaultwarden', root);
    await whenJournal(root, 'vaultwarden', first, (j) => j.steps['sync-live']?.status === 'running' || j.steps['sync-live']?.status === 'done');
    // the same migration from another checkout: its own --root, same hosts
    const other = makeRoot(lab, 'repo2');
    const second = await migenRun(lab, 'vaultwarden', other).done;
    expect(second.code, second.stdout + second.stderr).toBe(1);
    expect(second.stderr).toMatch(/(h002|o001) is locked by another run: run=\S+ migration=vaultwarden since=\S+ pid=\d+ by=\S+ \(\/var\/lib\/migen\/lock\)/);
    expect(second.stderr).toMatch(/migen status.*migen unlock NAME/s);
    const r = await first.done;
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(readReport(root, 'vaultwarden').result).toBe('done');
    expect(await locked(lab)).toEqual([]);
    expect(await activeOn(lab, 'vaultwarden', ['o001', 'h002'])).toEqual(['h002']);
    summary.push(`a second run during the first refused: ${/is locked by another run: [^\n]*/.exec(second.stderr)?.[0]}`);
  }, 180_000);

  test('rolled back: migen status says so, and migen finalize refuses (naming --force)', async () => {
    await resetVaultwarden(lab, root);
    await defineVaultwarden(lab, 'h002', { FAIL_START: '1' });
    try {
      const r = await migenRun(lab, 'vaultwarden', root).done;
      expect(r.code, r.stdout + r.stderr).toBe(3);
    } finally {
      await defineVaultwarden(lab, 'h002');
    }
    expect(await stateLine('vaultwarden')).toMatch(/^vaultwarden: rolled back — /);
    // finalize in a copy of the repository (it edits the manifest and regenerates)
    const copy = path.join(lab.dir, 'finalize-repo');
    fs.cpSync(REPO, copy, { recursive: true, filter: (s) => !/\/(node_modules|\.git|\.flake-hunt)(\/|$)/.test(s.slice(REPO.length)) });
    fs.symlinkSync(path.join(REPO, 'node_modules'), path.join(copy, 'node_modules'));
    const manifest = 'examples/homelab/migrations/vaultwarden.yaml';
    const before = fs.readFileSync(path.join(copy, manifest), 'utf8');
    const f = await lab.operator([process.execPath, path.join(copy, 'bin/migen.js'), 'finalize', 'vaultwarden', manifest, '--ssh-config', lab.sshConfig], { cwd: copy });
    expect(f.code).not.toBe(0);
    expect(f.stderr).toMatch(/^migen: refusing to finalize vaultwarden: the hosts say it is rolled back.*--force/s);
    expect(fs.readFileSync(path.join(copy, manifest), 'utf8')).toBe(before);
    summary.push(`rolled back: status "rolled back", finalize refused: ${f.stderr.trim().split('\n')[0]!.slice(0, 160)}`);
  }, 180_000);

  test('teardown leaves nothing behind', async () => {
    await lab.teardown();
    expect(await findLeftovers(lab.id)).toEqual([]);
  });
});
