/**
 * e2e of [12] (per-side facts, routes as nginx reads them): the whole runbook, generated from a
 * copy of the example fleet changed the way a real fleet differs, run by `migen run` in the lab.
 * - o001 on stateVersion 23.11 (Vaultwarden in /var/lib/bitwarden_rs), h002 on 24.11: the run
 *   moves /var/lib/bitwarden_rs to /var/lib/vaultwarden, and Vaultwarden on h002 serves every
 *   acknowledged row through o001's nginx.
 * - vault.joshuabell.xyz proxied through an nginx upstream (`proxyPass = "http://vaultwarden"`,
 *   `upstreams.vaultwarden.servers."127.0.0.1:8222"`): the run cuts the upstream over to h002,
 *   and the cutover's routes-clean check finds no route left on the old port.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { checks, createLab, startWriter, type Lab, type SystemProfile } from '../lab/index.js';
import { APP_PY } from '../lab/lab.js';
import { MIGEN, migenAs, proxyProfiles, REPO, sleep } from './helpers.js';
import { VW_DOMAIN, servedBy, setupVaultwarden, vaultwardenLabOptions } from './fleet.js';

const OLD_STATE = '/var/lib/bitwarden_rs';
const NEW_STATE = '/var/lib/vaultwarden';

/** A committed copy of the repository's example with `change` applied to its inventory, and generated/ regenerated from it. */
function fleetRepo(lab: Lab, sub: string, change: (inv: { hosts: Record<string, Record<string, unknown>> }) => void): string {
  const dir = path.join(lab.dir, sub);
  for (const p of ['flake.nix', 'nix', 'examples/homelab', 'generated']) fs.cpSync(path.join(REPO, p), path.join(dir, p), { recursive: true });
  const file = path.join(dir, 'examples/homelab/inventory.json');
  const inv = JSON.parse(fs.readFileSync(file, 'utf8'));
  change(inv);
  fs.writeFileSync(file, `${JSON.stringify(inv, null, 2)}\n`);
  execFileSync(process.execPath, [MIGEN, 'generate', ...fs.readdirSync(path.join(dir, 'examples/homelab/migrations')).map((f) => `examples/homelab/migrations/${f}`)], { cwd: dir, stdio: 'pipe' });
  const git = (...a: string[]): void => { execFileSync('git', ['-c', 'user.email=t@t', '-c', 'user.name=t', ...a], { cwd: dir, stdio: 'ignore' }); };
  git('init', '-q'); git('add', '-A'); git('commit', '-qm', 'fleet');
  return dir;
}

/** `migen run NAME --yes` with the runbook generated in `root` (not the repository's). */
async function runIn(lab: Lab, root: string, name: string): Promise<{ code: number; out: string }> {
  const r = await migenAs(lab, ['run', name, '--yes', '--root', root, '--ssh-config', lab.sshConfig], { cwd: root }).done;
  return { code: r.code, out: r.stdout + r.stderr };
}

async function must(lab: Lab, host: string, script: string): Promise<void> {
  const r = await lab.exec(host, script);
  if (r.code !== 0) throw new Error(`${host}: ${script}: ${r.stderr}${r.stdout}`);
}

/** o001 serves Vaultwarden from `state` (the fleet helper's setup, its state moved there). */
async function o001ServesFrom(lab: Lab, state: string): Promise<void> {
  await setupVaultwarden(lab);
  if (state === NEW_STATE) return;
  await must(lab, 'o001', `systemctl stop vaultwarden && mv ${NEW_STATE} ${state}`);
  await lab.defineUnit('o001', 'vaultwarden', { exec: ['/usr/bin/python3', APP_PY], env: { STATE_DIR: state, LISTEN: '127.0.0.1:8222' }, ready: { http: 'http://127.0.0.1:8222/alive' } });
  await must(lab, 'o001', 'systemctl start vaultwarden');
}

describe('[12] hosts that differ, the whole runbook in the lab', () => {
  const labs: Lab[] = [];
  afterAll(async () => { for (const l of labs) await l.teardown(); });
  const fresh = async (): Promise<Lab> => { const l = await createLab(vaultwardenLabOptions()); labs.push(l); return l; };

  test('o001 on 23.11 and h002 on 24.11 moves /var/lib/bitwarden_rs to /var/lib/vaultwarden; Vaultwarden on h002 serves the moved rows', async () => {
    const lab = await fresh();
    const root = fleetRepo(lab, 'repo-sv', (inv) => { inv.hosts.o001!.stateVersion = '23.11'; });
    const plan = JSON.parse(fs.readFileSync(path.join(root, 'generated/plans/vaultwarden.json'), 'utf8')).migrations[0];
    expect(plan.state.map((s: { old: string; new: string }) => [s.old, s.new])).toEqual([[OLD_STATE, NEW_STATE]]);
    await o001ServesFrom(lab, OLD_STATE);
    const writer = startWriter(lab, { address: '100.64.0.1', host: VW_DOMAIN, attachEvery: 5, maxMs: 180_000 });
    await sleep(500);
    const r = await runIn(lab, root, 'vaultwarden');
    expect(r.code, r.out).toBe(0);
    await sleep(500);
    const acked = await writer.stop();
    const ids = new Set(await checks.rowIds(lab, 'h002', `${NEW_STATE}/db.sqlite3`));
    expect(acked.length).toBeGreaterThan(10);
    expect(acked.filter((a) => !ids.has(a.id))).toEqual([]);
    expect(await checks.sqliteIntegrity(lab, 'h002', `${NEW_STATE}/db.sqlite3`)).toBe('ok');
    expect((await lab.exec('h002', `test -e ${OLD_STATE}; echo $?`)).stdout.trim()).toBe('1');
    expect(await servedBy(lab)).toBe('h002');
    const served = (await lab.operator(['curl', '-fsS', '--resolve', `${VW_DOMAIN}:443:100.64.0.1`, `https://${VW_DOMAIN}/items`])).stdout.split('\n').filter(Boolean).map(Number);
    for (const a of acked) expect(served).toContain(a.id);
  }, 300_000);

  test('a location through an nginx upstream is cut over: the upstream\'s servers go to h002, no route is left on the old port', async () => {
    const lab = await fresh();
    const root = fleetRepo(lab, 'repo-upstream', (inv) => {
      const ng = inv.hosts.o001!.nginx as { upstreams: Record<string, unknown>; virtualHosts: Record<string, { locations: Record<string, { proxyPass: string | null }> }> };
      ng.upstreams = { vaultwarden: { extraConfig: '', servers: { '127.0.0.1:8222': { backup: false } } } };
      ng.virtualHosts[VW_DOMAIN]!.locations['/']!.proxyPass = 'http://vaultwarden';
    });
    const plan = JSON.parse(fs.readFileSync(path.join(root, 'generated/plans/vaultwarden.json'), 'utf8')).migrations[0];
    expect(plan.routes.moved.map((m: { via: string; upstream: string }) => [m.via, m.upstream])).toEqual([['upstream', 'vaultwarden']]);
    expect(plan.steps.some((s: { id: string; fleet?: boolean }) => s.id === 'routes-clean' && s.fleet)).toBe(true);
    await o001ServesFrom(lab, NEW_STATE);
    // o001's configurations as nixpkgs renders them for that fleet: before migen's module the
    // upstream lists the old server; with it (what the runbook's deploy activates) the upstream
    // includes the route file, which the module's activation creates
    const f = plan.routeFiles[0];
    const { proxy, profiles } = await proxyProfiles('vaultwarden', ['nginx', 'vaultwarden']);
    const upstreamed = (p: SystemProfile, lines: string[]): SystemProfile => ({
      ...p,
      nginx: {
        vhosts: p.nginx!.vhosts.map((v) => (v.serverName === VW_DOMAIN ? { ...v, locations: { ...v.locations, '/': { ...v.locations['/']!, proxyPass: 'http://vaultwarden' } } } : v)),
        upstreams: { ...p.nginx!.upstreams, vaultwarden: lines }, // the other migrations' upstreams (migen_forgejo_0, ...) stay
      },
    });
    const base = { ...upstreamed(profiles.base!, [`include ${f.file};`]), activation: `${profiles.base!.activation ?? ''}\n${plan.routeDefaults}` };
    await lab.system(proxy, { profiles: { base, previous: upstreamed(profiles.previous!, ['server 127.0.0.1:8222;']) }, active: 'previous' });
    expect(await servedBy(lab)).toBe('o001');
    const r = await runIn(lab, root, 'vaultwarden');
    expect(r.code, r.out).toBe(0);
    expect((await lab.exec('o001', `cat ${f.file}`)).stdout.trim()).toBe('server 100.64.0.20:8222;');
    expect(await servedBy(lab)).toBe('h002');
    expect(r.out).toMatch(/no route of o001's running nginx still names o001/);
  }, 300_000);
});
