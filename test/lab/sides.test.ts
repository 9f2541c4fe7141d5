/**
 * lab: the pieces of [12] proved with the plan's own scripts on real hosts (the full runbook runs
 * in test/e2e/w12a.test.ts):
 * - o001 on stateVersion 23.11, h002 on 24.11: the plan's own scripts (live pass, final pass, the
 *   dry run proving the copies equal, the critical file's checksums on each side, SQLite's
 *   integrity_check) move /var/lib/bitwarden_rs on o001 to /var/lib/vaultwarden on h002 with real
 *   rsync over ssh, and the lab's Vaultwarden on h002 serves the moved rows from there;
 * - a route through an nginx upstream and a websocket path whose proxy_pass is in extraConfig:
 *   real nginx on o001 with the configuration the generated module gives nixpkgs (the upstream
 *   includes its route file, the websocket path names migen's upstream), switched by the plan's
 *   switch script, answers from h002 on both paths; the plan's routes-clean check passes after the
 *   switch and fails (naming the stale backend) before it, or when a route the plan does not know
 *   still points at the old port.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, test } from 'vitest';
import { prepare } from '../../src/generator/pipeline.js';
import { switchRoutes } from '../../src/generator/plan/proxy.js';
import type { MigrationPlan } from '../../src/generator/plan/types.js';
import { scriptsOf, type HostScript } from '../../src/runbook/steps.js';
import type { Inventory } from '../../src/generator/types.js';
import { fleet, listener, loc, vhost } from '../fixtures/inventory.js';
import { APP_PY, useLab, type Lab } from './lab.js';
import { rowIds, sqliteIntegrity } from './checks.js';
import { authorizedKeysFiles, installPackages } from './packages.js';

async function planOf(inv: Inventory, body: string): Promise<MigrationPlan> {
  const dir = mkdtempSync(path.join(tmpdir(), 'migen-lab-sides-'));
  writeFileSync(path.join(dir, 'inv.json'), JSON.stringify(inv));
  writeFileSync(path.join(dir, 'm.yaml'), `version: 1\nmigrations:\n  vw:\n${body.trim().split('\n').map((l) => `    ${l}`).join('\n')}\n`);
  return (await prepare([path.join(dir, 'm.yaml')], { inventory: path.join(dir, 'inv.json') })).plans[0]!.migrations[0]!;
}
const parts = (m: MigrationPlan, id: string): HostScript[] => scriptsOf(m.steps.find((s) => s.id === id)!).flatMap((s) => ('pipe' in s ? s.pipe : [s]));
/** Runs a script as the runbook's executor does (bash, set -euo pipefail). */
async function on(lab: Lab, s: HostScript): Promise<{ code: number; out: string }> {
  const r = await lab.exec(s.on, `set -euo pipefail\n${s.script}`);
  return { code: r.code, out: `${r.stdout}${r.stderr}` };
}
/** A step's scripts in order; a pipe's second part reads the first's output, as the executor runs it. */
async function runStep(lab: Lab, m: MigrationPlan, id: string): Promise<void> {
  for (const sc of scriptsOf(m.steps.find((s) => s.id === id)!)) {
    const [a, b] = 'pipe' in sc ? sc.pipe : [sc];
    const r1 = await lab.exec(a.on, `set -euo pipefail\n${a.script}`);
    expect(r1.code, `${id} on ${a.on}: ${r1.stderr}`).toBe(0);
    if (b) { const r2 = await lab.exec(b.on, `set -euo pipefail\n${b.script}`, { input: r1.stdout }); expect(r2.code, `${id} on ${b.on}: ${r2.stderr}`).toBe(0); }
  }
}
const must = async (lab: Lab, s: HostScript): Promise<string> => { const r = await on(lab, s); expect(r.code, `${s.on}: ${s.script}\n${r.out}`).toBe(0); return r.out; };

const hosts = [{ name: 'o001', address: '100.64.0.1' }, { name: 'h002', address: '100.64.0.20' }];
const VW = 'service: vaultwarden\nfrom: o001\nto: h002\nstrategy: warm\nbackup: { none: true }';

describe('state paths per side, with the plan\'s own scripts', () => {
  const ctx = useLab({ hosts });
  test('o001 (23.11) /var/lib/bitwarden_rs arrives as h002 (24.11) /var/lib/vaultwarden; Vaultwarden there serves every row', async () => {
    const { lab } = ctx;
    const inv = fleet();
    (inv.hosts.o001 as { stateVersion: string }).stateVersion = '23.11';
    const m = await planOf(inv, VW);
    expect(m.state.map((s) => [s.old, s.new])).toEqual([['/var/lib/bitwarden_rs', '/var/lib/vaultwarden']]);
    const app = (host: string, dir: string, listen: string) => lab.defineUnit(host, 'vaultwarden', { exec: ['/usr/bin/python3', APP_PY], env: { STATE_DIR: dir, LISTEN: listen }, ready: { http: `http://${listen}/alive` } });
    await app('o001', '/var/lib/bitwarden_rs', '127.0.0.1:8222');
    await app('h002', '/var/lib/vaultwarden', '100.64.0.20:8222');
    await must(lab, { on: 'o001', script: 'systemctl start vaultwarden\nfor i in $(seq 1 30); do curl -fsS -o /dev/null -X POST --data "row $i" "http://127.0.0.1:8222/items$([ $((i % 3)) -eq 0 ] && echo ?attach=1)"; done' });
    // the copy goes through the migration's key, which o001's generated module makes sshd accept
    // for rsync's daemon only (plan/access.ts): its package and sshd's file as a deploy brings them
    installPackages(lab, 'o001', ['rsync']);
    await authorizedKeysFiles(lab, 'o001', [m.copyAccess!.authorizedKeysFiles]);
    for (const id of ['copy-keys', 'copy-access', 'copy-access-works']) await runStep(lab, m, id);
    for (const s of parts(m, 'sync-live')) await must(lab, s); // the live pass
    await must(lab, { on: 'o001', script: 'for i in $(seq 31 40); do curl -fsS -o /dev/null -X POST --data "row $i" http://127.0.0.1:8222/items; done\nsystemctl stop vaultwarden' });
    const written = await rowIds(lab, 'o001', '/var/lib/bitwarden_rs/db.sqlite3');
    expect(written.length).toBe(40);

    // Rewritten at the same size within the second of the live pass (as a SQLite -wal reused
    // after a checkpoint is): the final pass compares times to the nanosecond, so it copies it.
    await must(lab, { on: 'o001', script: 'printf AAAA > /var/lib/bitwarden_rs/same-size && touch -d "2026-12-01 10:00:00.100" /var/lib/bitwarden_rs/same-size' });
    for (const s of parts(m, 'sync-live')) await must(lab, s);
    await must(lab, { on: 'o001', script: 'printf BBBB > /var/lib/bitwarden_rs/same-size && touch -d "2026-12-01 10:00:00.900" /var/lib/bitwarden_rs/same-size' });

    for (const s of parts(m, 'final-pass')) await must(lab, s);
    expect((await lab.exec('h002', 'cat /var/lib/vaultwarden/same-size')).stdout).toBe('BBBB');
    for (const s of parts(m, 'copy-identical')) await must(lab, s);
    // the dry run compares content: the same size and time to the nanosecond, another content, fails it
    await must(lab, { on: 'h002', script: 'printf CCCC > /var/lib/vaultwarden/same-size && touch -d "2026-12-01 10:00:00.900" /var/lib/vaultwarden/same-size' });
    const differs = await on(lab, parts(m, 'copy-identical')[0]!);
    expect(differs.code, differs.out).toBe(1);
    expect(differs.out).toContain('same-size');
    // (which the quick check of a pass cannot see: a pass after removing it copies it again)
    await must(lab, { on: 'h002', script: 'rm /var/lib/vaultwarden/same-size' });
    for (const s of parts(m, 'final-pass')) await must(lab, s);
    for (const s of parts(m, 'copy-identical')) await must(lab, s);
    const [left, right] = parts(m, 'critical--var-lib-vaultwarden-rsa-key-pem');
    expect(left!.script).toContain('/var/lib/bitwarden_rs/rsa_key.pem');
    expect(await must(lab, right!)).toBe(await must(lab, left!));
    for (const s of parts(m, 'sqlite--var-lib-vaultwarden-db-sqlite3')) await must(lab, s);

    expect((await lab.exec('h002', 'test -e /var/lib/bitwarden_rs; echo $?')).stdout.trim()).toBe('1');
    await must(lab, { on: 'h002', script: 'systemctl start vaultwarden' });
    const served = (await lab.exec('h002', 'curl -fsS http://100.64.0.20:8222/items')).stdout.split('\n').filter(Boolean).map(Number);
    expect(served).toEqual(written);
    expect(await sqliteIntegrity(lab, 'h002', '/var/lib/vaultwarden/db.sqlite3')).toBe('ok');

    // the dry run is a real check: a difference on h002's side fails it
    await must(lab, { on: 'h002', script: 'systemctl stop vaultwarden\necho stray > /var/lib/vaultwarden/stray' });
    const diff = await on(lab, parts(m, 'copy-identical')[0]!);
    expect(diff.code).toBe(1);
    expect(diff.out).toContain('stray');
  }, 120_000);
});

/** Answers every GET with "<host> <path>": which backend served, and what it was asked. */
const ECHO = 'import os, http.server as h\nclass H(h.BaseHTTPRequestHandler):\n  def do_GET(s):\n    b = f"{os.environ[\'LAB_HOST\']} {s.path}".encode(); s.send_response(200); s.send_header("Content-Length", str(len(b))); s.end_headers(); s.wfile.write(b)\n  def log_message(s, *a): pass\na, p = os.environ["LISTEN"].rsplit(":", 1)\nh.ThreadingHTTPServer((a, int(p)), H).serve_forever()';

/** The inventory of a proxy as people write it: `/` names the upstream vaultwarden, the websocket path has its proxy_pass in extraConfig. */
function proxied(): Inventory {
  const inv = fleet();
  Object.assign(inv.hosts.o001!, {
    listen: [listener('vaultwarden', 8222, ['127.0.0.1']), listener('vaultwarden', 3012, ['127.0.0.1'])],
    nginx: {
      enable: true,
      upstreams: { vaultwarden: { extraConfig: 'keepalive 4;', servers: { '127.0.0.1:8222': { backup: false, max_fails: 3 } } } },
      virtualHosts: { 'vault.example.org': vhost({ '/': loc('http://vaultwarden'), '/notifications/hub': loc(null, { extraConfig: 'proxy_http_version 1.1;\nproxy_pass http://127.0.0.1:3012;\n' }) }) },
    },
  });
  return inv;
}

/** nginx.conf as nixpkgs renders the generated module's values (upstream NAME { servers; extraConfig }, the location's extraConfig verbatim). */
function nginxConf(m: MigrationPlan, extra: string): string {
  const ups = m.routeFiles.map((f) => `upstream ${f.upstream} { include ${f.file};${f.via === 'upstream' ? ' keepalive 4;' : ''} }`);
  const hub = m.routeEdits.find((e) => e.location === '/notifications/hub')!.planned;
  return `events {}\nhttp {\n  access_log off;\n  ${ups.join('\n  ')}\n  server {\n    listen 100.64.0.1:80;\n    server_name vault.example.org;\n    location / { proxy_pass http://vaultwarden; }\n    location /notifications/hub { ${hub.replace(/\n/g, ' ')} }\n${extra}  }\n}\n`;
}

describe('routes through an upstream and an extraConfig proxy_pass, with real nginx', () => {
  const ctx = useLab({ hosts });
  const get = async (lab: Lab, p: string): Promise<string> => (await lab.operator(['curl', '-sS', '--max-time', '3', '--resolve', 'vault.example.org:80:100.64.0.1', `http://vault.example.org${p}`])).stdout;

  test('the switch moves both paths to h002; routes-clean fails before it and passes after it; an unplanned route to the old port fails it', async () => {
    const { lab } = ctx;
    const m = await planOf(proxied(), VW);
    expect(m.routes.moved.map((r) => [r.location, r.via])).toEqual([['/', 'upstream'], ['/notifications/hub', 'extraConfig']]);
    for (const [host, addr] of [['o001', '127.0.0.1'], ['h002', '100.64.0.20']] as const) {
      for (const port of [8222, 3012]) await lab.defineUnit(host, `echo-${port}`, { exec: ['/usr/bin/python3', '-c', ECHO], env: { LISTEN: `${addr}:${port}` }, ready: { tcp: port } });
      await must(lab, { on: host, script: 'systemctl start echo-8222 echo-3012' });
    }
    const clean = parts(m, 'routes-clean')[0]!;
    const start = async (extra: string): Promise<void> => {
      writeFileSync(lab.hostFile('o001', '/etc/nginx/nginx.conf'), nginxConf(m, extra));
      await must(lab, { on: 'o001', script: `${m.routeDefaults}\nmkdir -p /var/lib/nginx /var/log/nginx\nsystemctl restart nginx || { journalctl -u nginx | tail -n 20; exit 1; }` });
    };
    await lab.defineUnit('o001', 'nginx', { exec: ['/usr/sbin/nginx', '-g', 'daemon off;', '-e', '/var/log/nginx/error.log'], ready: { tcp: 80 } });
    await start('');
    expect(await get(lab, '/x')).toBe('o001 /x');
    expect(await get(lab, '/notifications/hub')).toBe('o001 /notifications/hub');
    const before = await on(lab, clean);
    expect(before.code).toBe(1);
    expect(before.out).toContain('127.0.0.1:8222');

    await must(lab, { on: 'o001', script: switchRoutes(m.routeFiles, 'new') });
    expect(await get(lab, '/x')).toBe('h002 /x');
    expect(await get(lab, '/notifications/hub')).toBe('h002 /notifications/hub');
    expect((await on(lab, clean)).code).toBe(0);

    // a location the inventory did not show (a hand edit on the host) still on the old port
    await must(lab, { on: 'o001', script: switchRoutes(m.routeFiles, 'old') });
    await start('    location /admin { proxy_pass http://127.0.0.1:8222; }\n');
    await must(lab, { on: 'o001', script: switchRoutes(m.routeFiles, 'new') });
    expect(await get(lab, '/x')).toBe('h002 /x');
    const stale = await on(lab, clean);
    expect(stale.code).toBe(1);
    expect(stale.out).toMatch(/a route still names the old backend:\s+.*127\.0\.0\.1:8222/s);
  }, 120_000);
});
