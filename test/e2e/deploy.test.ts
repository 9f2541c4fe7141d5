/**
 * e2e: the generated vaultwarden runbook's deploys against the lab's NixOS stand-ins, each host
 * starting on its configuration from before the generated module (test/e2e/deployed.ts):
 * 1. deploy-o001 brings vaultwarden's fence and X-RestartIfChanged=false: the running service is
 *    not restarted by it (same main pid until the cutover stops it); deploy-h002 installs
 *    vaultwarden wanted but fenced: not started (ConditionResult=no).
 * 2. h002's deploy does not carry the generated module: its vaultwarden unit is wanted and has no
 *    fence, yet the runtime drop-in the runbook wrote first keeps it stopped through that
 *    activation, and the runbook refuses in prepare (deployed-h002), before anything stops.
 */
import { afterAll, describe, expect, test } from 'vitest';
import { createLab, findLeftovers, type Lab } from '../lab/index.js';
import { makeRoot, migenRun, readReport, whenJournal } from './helpers.js';
import { activeOn, servedBy, setupVaultwarden, vaultwardenLabOptions } from './fleet.js';

const labs: Lab[] = [];
afterAll(async () => { for (const l of labs) await l.teardown(); });

const pidOf = async (lab: Lab, host: string) => (await lab.exec(host, 'systemctl show -P MainPID vaultwarden')).stdout.trim();
const show = async (lab: Lab, host: string) => (await lab.exec(host, 'systemctl show -p ActiveState,ConditionResult vaultwarden')).stdout.trim().split('\n');

describe("the vaultwarden runbook's deploys", () => {
  test('deploy-o001 does not restart the running vaultwarden; deploy-h002 leaves it fenced; the migration completes', async () => {
    const lab = await createLab(vaultwardenLabOptions({}, false));
    labs.push(lab);
    const root = makeRoot(lab);
    await setupVaultwarden(lab);
    const pid0 = await pidOf(lab, 'o001');
    expect(Number(pid0)).toBeGreaterThan(0);
    const run = migenRun(lab, 'vaultwarden', root);
    await whenJournal(root, 'vaultwarden', run, (j) => j.steps['deploy-o001']?.status === 'done');
    expect(await pidOf(lab, 'o001')).toBe(pid0);
    expect(await show(lab, 'h002')).toEqual(['ActiveState=inactive', 'ConditionResult=no']);
    expect((await lab.exec('o001', 'readlink /run/current-system')).stdout.trim()).toBe('/nix/var/nix/profiles/system');
    const r = await run.done;
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(await activeOn(lab, 'vaultwarden', ['o001', 'h002'])).toEqual(['h002']);
    expect(await servedBy(lab)).toBe('h002');
    // o001's fence holds through another activation of its configuration
    expect((await lab.exec('o001', '/nix/var/nix/profiles/system/bin/switch-to-configuration test')).code).toBe(0);
    expect(await show(lab, 'o001')).toEqual(['ActiveState=inactive', 'ConditionResult=no']);
  }, 120_000);

  test("h002's deploy without the generated module: the runtime fence keeps vaultwarden stopped and the runbook refuses in prepare", async () => {
    const lab = await createLab(vaultwardenLabOptions({}, false));
    labs.push(lab);
    const root = makeRoot(lab);
    await setupVaultwarden(lab, { h002Variant: 'without-migen' });
    const pid0 = await pidOf(lab, 'o001');
    const r = await migenRun(lab, 'vaultwarden', root).done;
    expect(r.code, r.stdout + r.stderr).toBe(1);
    expect(r.stderr).toMatch(/deployed-h002: h002's deploy did not take effect/);
    const report = readReport(root, 'vaultwarden');
    expect(report.steps.find((s) => s.status === 'failed')?.id).toBe('deployed-h002');
    expect(report.steps.some((s) => s.id === 'stop-old')).toBe(false);
    // wanted and unfenced in h002's configuration, held by the drop-in alone
    expect((await lab.exec('h002', 'grep -c ConditionPathExists "$(systemctl show -P FragmentPath vaultwarden)"; ls /etc/systemd/system/multi-user.target.wants/')).stdout).toBe('0\nmachines.target\nvaultwarden.service\n');
    expect(await show(lab, 'h002')).toEqual(['ActiveState=inactive', 'ConditionResult=no']);
    expect(await pidOf(lab, 'o001')).toBe(pid0);
    expect(await servedBy(lab)).toBe('o001');
  }, 120_000);

  test('teardown leaves nothing behind', async () => {
    for (const l of labs.splice(0)) {
      await l.teardown();
      expect(await findLeftovers(l.id)).toEqual([]);
    }
  });
});
