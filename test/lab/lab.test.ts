import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, test } from 'vitest';
import { checks } from './index.js';
import { activateAndSettle, APP_PY, createLab, useLab, type Lab } from './lab.js';
import { startProber, startWriter } from './clients.js';
import { findLeftovers } from './leftovers.js';

const HOSTS = [
  { name: 'o001', address: '100.64.0.1' },
  { name: 'h001', address: '100.64.0.13' },
  { name: 'h002', address: '100.64.0.20' },
];
const ADDR: Record<string, string> = Object.fromEntries(HOSTS.map((h) => [h.name, h.address]));
const DB = '/var/lib/vault/db.sqlite3';

const ctx = useLab({ hosts: HOSTS });

async function ssh(lab: Lab, target: string, script: string, extra: string[] = []) {
  return lab.operator(['ssh', '-F', lab.sshConfig, ...extra, target, script]);
}

async function curlVia(lab: Lab, host: string, url: string) {
  return lab.operator(['curl', '-sS', '--noproxy', '*', '--max-time', '3', '-H', `Host: ${host}`, url]);
}

/** which host answers each of n requests through the proxy, each on a fresh connection */
async function servedN(lab: Lab, vhost: string, n: number): Promise<string[]> {
  const out: string[] = [];
  for (let i = 0; i < n; i++) out.push((await curlVia(lab, vhost, 'http://100.64.0.1/healthz')).stdout);
  return out;
}

function defineVault(lab: Lab, host: string) {
  return lab.defineUnit(host, 'vault', {
    exec: ['/usr/bin/python3', APP_PY],
    env: { STATE_DIR: '/var/lib/vault', LISTEN: `${ADDR[host]}:8222` },
    ready: { http: `http://${ADDR[host]}:8222/healthz` },
  });
}

describe('lab', () => {
  test('operator reaches every host over ssh with strict host key checking; a wrong key is refused', async () => {
    const { lab } = ctx;
    const cfg = fs.readFileSync(lab.sshConfig, 'utf8');
    expect(cfg).toMatch(/StrictHostKeyChecking yes/);
    expect(cfg).not.toMatch(/StrictHostKeyChecking (no|accept-new)/);
    for (const h of HOSTS) {
      const byName = await ssh(lab, h.name, 'echo "$(hostname) $MIGEN_LAB $(command -v systemctl)"');
      expect(byName.stderr).toBe('');
      expect(byName.stdout.trim()).toBe(`${h.name} ${lab.id} /usr/local/sbin/systemctl`);
      const byAddr = await ssh(lab, `root@${h.address}`, 'hostname');
      expect(byAddr.stdout.trim()).toBe(h.name);
    }
    // the operator PATH's ssh wrapper uses the lab config, and the runbook env carries it
    expect(lab.operatorEnv.MIGEN_SSH_CONFIG).toBe(lab.sshConfig);
    expect((await lab.operator(['ssh', 'h002', 'hostname'])).stdout.trim()).toBe('h002');

    // a known_hosts that holds h002's key for h001's name and address: refused
    const known = fs.readFileSync(path.join(lab.dir, 'operator', 'known_hosts'), 'utf8').split('\n');
    const h002Key = known.find((l) => l.startsWith('h002,'))!.split(' ').slice(1).join(' ');
    const bad = path.join(lab.dir, 'operator', 'known_hosts.bad');
    fs.writeFileSync(bad, `h001,100.64.0.13 ${h002Key}\n`);
    const wrong = await ssh(lab, 'h001', 'echo should-not-run', ['-o', `UserKnownHostsFile=${bad}`]);
    expect(wrong.code).toBe(255);
    expect(wrong.stdout).toBe('');
    expect(wrong.stderr).toMatch(/Host key verification failed|HOST IDENTIFICATION HAS CHANGED/);
    // an unknown host key: refused too (never accepted on first use)
    fs.writeFileSync(bad, '');
    const unknown = await ssh(lab, 'h001', 'echo should-not-run', ['-o', `UserKnownHostsFile=${bad}`]);
    expect(unknown.code).toBe(255);
    expect(unknown.stdout).toBe('');
    // key auth only: without the key, login fails
    const nokey = await ssh(lab, 'h001', 'true', ['-o', 'IdentityFile=/dev/null', '-o', 'PubkeyAuthentication=no']);
    expect(nokey.code).toBe(255);
  });

  test('each host sees only its own /var/lib, processes and lab directories', async () => {
    const { lab } = ctx;
    for (const h of HOSTS) {
      const r = await lab.exec(h.name, `echo ${h.name} > /var/lib/marker-${h.name}; mkdir -p /backup/${h.name}`);
      expect(r.code).toBe(0);
    }
    for (const h of HOSTS) {
      const viaSsh = await ssh(lab, h.name, `ls /var/lib; ls /backup; ls -A ${lab.dir}/hosts | wc -l; ps -e -o comm= | sort -u | tr '\\n' ' '`);
      const lines = viaSsh.stdout.trim().split('\n');
      expect(lines).toEqual([`marker-${h.name}`, h.name, '0', expect.stringMatching(/^(bash|ps|sort|sshd|tr| )+$/)]);
    }
    expect(fs.readFileSync(path.join(lab.hostDir('h001'), 'var-lib', 'marker-h001'), 'utf8')).toBe('h001\n');
    for (const h of HOSTS) await lab.exec(h.name, `rm -f /var/lib/marker-${h.name}; rm -rf /backup/${h.name}`);
  });

  test('a unit starts, answers, stops; systemctl exit codes; broken starts fail', async () => {
    const { lab } = ctx;
    await defineVault(lab, 'h001');
    const sc = (args: string) => ssh(lab, 'h001', `systemctl ${args}`);
    let r = await sc('is-active vault');
    expect([r.code, r.stdout.trim()]).toEqual([3, 'inactive']);
    r = await sc('start vault.service');
    expect(r.code, r.stderr).toBe(0);
    r = await sc('is-active vault');
    expect([r.code, r.stdout.trim()]).toEqual([0, 'active']);
    r = await sc('show -p ActiveState --value vault');
    expect(r.stdout).toBe('active\n');
    expect((await sc('status vault')).code).toBe(0);
    r = await lab.operator(['curl', '-sS', '--max-time', '3', 'http://100.64.0.13:8222/healthz']);
    expect(r.stdout).toBe('h001');
    r = await lab.exec('h001', 'ls /var/lib/vault; grep -c "BEGIN PRIVATE KEY" /var/lib/vault/rsa_key.pem; stat -c %a /var/lib/vault/rsa_key.pem');
    expect(r.stdout.split('\n')).toEqual(expect.arrayContaining(['attachments', 'db.sqlite3', 'rsa_key.pem', '1', '600']));
    r = await lab.exec('h001', "sqlite3 /var/lib/vault/db.sqlite3 'PRAGMA journal_mode;'");
    expect(r.stdout.trim()).toBe('wal');

    const t0 = Date.now();
    expect((await sc('stop vault')).code).toBe(0);
    expect(Date.now() - t0).toBeLessThan(3000); // the app exits on SIGTERM
    r = await sc('is-active vault');
    expect([r.code, r.stdout.trim()]).toEqual([3, 'inactive']);
    expect((await sc('show -p ActiveState --value vault')).stdout).toBe('inactive\n');
    expect((await sc('is-failed vault')).code).toBe(1);
    r = await lab.operator(['curl', '-sS', '--max-time', '2', 'http://100.64.0.13:8222/healthz']);
    expect(r.code).not.toBe(0);
    expect((await lab.exec('h001', 'cat /var/log/lab-units/vault.log')).stdout).toMatch(/listening on 100\.64\.0\.13:8222/);

    // broken start
    await lab.exec('h001', 'touch /var/lib/vault/FAIL_START');
    r = await sc('start vault');
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/Job for vault\.service failed/);
    r = await sc('is-failed vault');
    expect([r.code, r.stdout.trim()]).toEqual([0, 'failed']);
    expect((await sc('is-active vault')).code).toBe(3);
    expect((await sc('status vault')).code).toBe(3);
    await lab.exec('h001', 'rm /var/lib/vault/FAIL_START');
    expect((await sc('restart vault')).code).toBe(0);
    expect((await sc('is-active vault')).code).toBe(0);

    // unknown unit
    r = await sc('start nope');
    expect(r.code).toBe(5);
    expect((await sc('status nope')).code).toBe(4);

    // a unit with `user` runs as that user, with a clean environment plus its own
    await lab.defineUnit('h001', 'whoami', { exec: ['/bin/sh', '-c', 'echo "$(id -un) $FOO $LAB_HOST ${SSH_CONNECTION:-no-ssh}"; exec sleep 1000'], user: 'nobody', env: { FOO: 'bar baz' } });
    r = await lab.exec('h001', 'systemctl start whoami && sleep 0.1 && journalctl -u whoami -n 1 && systemctl stop whoami');
    expect([r.code, r.stdout]).toEqual([0, 'nobody bar baz h001 no-ssh\n']);

    // container@ units, and a unit that ignores SIGTERM is killed after 10 s
    await lab.defineUnit('h002', 'container@box', { exec: ['/bin/bash', '-c', 'trap "" TERM; echo box up; while :; do sleep 0.1; done'] });
    r = await ssh(lab, 'h002', 'systemctl start container@box && systemctl is-active container@box.service && journalctl -u container@box');
    expect(r.stdout).toMatch(/^active\n[\s\S]*box up/);
    const t1 = Date.now();
    r = await ssh(lab, 'h002', 'systemctl stop container@box; echo $?; systemctl is-active container@box; echo $?; pgrep -c sleep || true');
    const took = Date.now() - t1;
    expect(r.stdout.trim().split('\n')).toEqual(['0', 'inactive', '3', '0']);
    expect(took).toBeGreaterThanOrEqual(9500);
    expect(took).toBeLessThan(14000);
  }, 60_000);

  test('nginx on o001 routes a vhost to h001; switch-to-configuration of another profile routes it to h002', async () => {
    const { lab } = ctx;
    await defineVault(lab, 'h002');
    expect((await lab.exec('h002', 'systemctl start vault')).code).toBe(0);
    expect((await lab.exec('h001', 'systemctl start vault')).code).toBe(0);
    const other = { serverName: 'other.example.org', locations: { '/': { proxyPass: 'http://100.64.0.13:8095' }, '/static': { proxyPass: null } } };
    await lab.nginx(
      'o001',
      {
        base: [{ serverName: 'vault.example.org', locations: { '/': { proxyPass: 'http://100.64.0.13:8222' } } }, other],
        cutover: [{ serverName: 'vault.example.org', locations: { '/': { proxyPass: 'http://100.64.0.20:8222' } } }, other],
      },
      'base',
    );
    expect((await curlVia(lab, 'vault.example.org', 'http://100.64.0.1/healthz')).stdout).toBe('h001');
    expect((await ssh(lab, 'o001', 'systemctl is-active nginx; readlink /run/current-system')).stdout).toBe('active\n/nix/var/nix/profiles/system\n');

    // Like nixpkgs' (a reload is `kill -HUP` of the master), the stand-in returns once nginx has
    // been told; for 100 ms or more the old workers still accept. Once no old worker accepts, every
    // new connection gets the new route.
    let r = await ssh(lab, 'o001', activateAndSettle('/nix/var/nix/profiles/system/specialisation/cutover/bin/switch-to-configuration'));
    expect(r.code, r.stderr).toBe(0);
    expect(await servedN(lab, 'vault.example.org', 20)).toEqual(Array(20).fill('h002'));
    // the other vhost kept its backend (port included)
    expect((await ssh(lab, 'o001', 'grep -A1 "server_name other.example.org" /etc/nginx/nginx.conf; grep -c "proxy_pass http://100.64.0.13:8095;" /etc/nginx/nginx.conf')).stdout).toMatch(/\n1\n$/);
    r = await curlVia(lab, 'other.example.org', 'http://100.64.0.1/static');
    expect(r.stdout).toMatch(/404/);

    // and back (rollback) with the base profile
    r = await ssh(lab, 'o001', activateAndSettle('/nix/var/nix/profiles/system/bin/switch-to-configuration', 'switch'));
    expect(r.code, r.stderr).toBe(0);
    expect(await servedN(lab, 'vault.example.org', 20)).toEqual(Array(20).fill('h001'));
    expect((await ssh(lab, 'o001', 'switch-to-configuration 2>/dev/null; /nix/var/nix/profiles/system/bin/switch-to-configuration bogus')).code).toBe(1);

    // nixos-rebuild is a recording stand-in on the operator's PATH
    r = await lab.operator(['nixos-rebuild', 'switch', '--flake', '.#o001', '--target-host', 'root@o001']);
    expect(r.code).toBe(0);
    expect(fs.readFileSync(path.join(lab.dir, 'operator', 'nixos-rebuild.log'), 'utf8')).toBe('switch --flake .#o001 --target-host root@o001\n');
  });

  test('writer and prober work through the proxy and measure an outage', async () => {
    const { lab } = ctx;
    // this test's own starting point: vault routes to h001, which serves
    expect((await ssh(lab, 'o001', activateAndSettle('/nix/var/nix/profiles/system/bin/switch-to-configuration'))).code).toBe(0);
    expect((await lab.exec('h001', 'systemctl start vault')).code).toBe(0);
    expect(await servedN(lab, 'vault.example.org', 5)).toEqual(Array(5).fill('h001'));
    const base = { address: '100.64.0.1', host: 'vault.example.org', maxMs: 20_000 };
    const writer = startWriter(lab, { ...base, attachEvery: 5 });
    const prober = startProber(lab, base);
    await new Promise((r) => setTimeout(r, 700));
    expect((await lab.exec('h001', 'systemctl stop vault')).code).toBe(0);
    await new Promise((r) => setTimeout(r, 600));
    expect((await lab.exec('h001', 'systemctl start vault')).code).toBe(0);
    await new Promise((r) => setTimeout(r, 500));
    const acked = await writer.stop();
    const probe = await prober.stop();

    expect(acked.length).toBeGreaterThan(20);
    expect(writer.failed.length).toBeGreaterThan(0); // during the stop
    const ids = await checks.rowIds(lab, 'h001', DB);
    const have = new Set(ids);
    expect(acked.filter((a) => !have.has(a.id))).toEqual([]);
    expect(await checks.sqliteIntegrity(lab, 'h001', DB)).toBe('ok');
    const files = Object.keys(await checks.treeDigest(lab, 'h001', '/var/lib/vault/attachments'));
    expect(files.length).toBe(acked.filter((a) => a.attach).length);

    expect(probe.samples.length).toBeGreaterThan(20);
    expect(Object.keys(probe.hosts)).toEqual(['h001']);
    expect(probe.failures).toBeGreaterThan(0);
    expect(probe.longestOutageMs).toBeGreaterThanOrEqual(450);
    expect(probe.longestOutageMs).toBeLessThan(4000);
  });

  test('h002 pulls the state from h001 with rsync over ssh; h001 stays untouched', async () => {
    const { lab } = ctx;
    for (const h of ['h001', 'h002']) expect((await lab.exec(h, 'systemctl stop vault')).code).toBe(0);
    const before = await checks.treeDigest(lab, 'h001', '/var/lib/vault');
    expect(Object.keys(before)).toEqual(expect.arrayContaining(['db.sqlite3', 'rsa_key.pem']));
    // h002 has a different database of its own, replaced by the pull
    expect((await checks.treeDigest(lab, 'h002', '/var/lib/vault'))['rsa_key.pem']).not.toBe(before['rsa_key.pem']);
    const r = await ssh(lab, 'h002', [
      'set -e',
      'rsync -aHAX -x --delete --numeric-ids -e ssh root@100.64.0.13:/var/lib/vault/ /var/lib/vault/',
      'rsync -n -c -i -aHAX --delete -e ssh root@h001:/var/lib/vault/ /var/lib/vault/ | wc -l', // nothing left to copy
      'ssh o001 hostname', // host-to-host by name
    ].join('\n'));
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('0\no001\n');
    expect(await checks.treeDigest(lab, 'h002', '/var/lib/vault')).toEqual(before);
    expect(await checks.treeDigest(lab, 'h001', '/var/lib/vault')).toEqual(before);
    expect(await checks.sqliteIntegrity(lab, 'h002', DB)).toBe('ok');
    expect(await checks.rowIds(lab, 'h002', DB)).toEqual(await checks.rowIds(lab, 'h001', DB));
    expect(await checks.sqliteIntegrity(lab, 'h002', '/var/lib/nope.sqlite3')).toMatch(/no such file/);
  });

  test('two labs with the same addresses run at once without clashing; small /var/lib', async () => {
    const { lab } = ctx;
    const lab2 = await createLab({ hosts: HOSTS, diskMiB: { h001: 8 } });
    try {
      expect(lab2.id).not.toBe(lab.id);
      for (const l of [lab, lab2]) {
        const r = await ssh(l, 'root@100.64.0.13', 'echo $MIGEN_LAB');
        expect(r.stdout.trim()).toBe(l.id);
      }
      // lab1's known host keys do not match lab2's hosts at the same address
      const cross = await lab2.operator(['ssh', '-F', lab.sshConfig, 'root@100.64.0.13', 'true']);
      expect(cross.code).toBe(255);
      // lab2's h001 has an 8 MiB /var/lib
      const r = await lab2.exec('h001', 'df -k --output=size /var/lib | tail -1; dd if=/dev/zero of=/var/lib/big bs=1M count=16 2>&1; echo rc=$?');
      expect(Number(r.stdout.split('\n')[0])).toBe(8192);
      expect(r.stdout).toMatch(/No space left on device[\s\S]*rc=1/);
      expect((await lab.exec('h001', 'test -d /var/lib/vault && echo lab1-state')).stdout).toBe('lab1-state\n');
      expect((await lab2.exec('h001', 'ls /var/lib')).stdout).toBe('big\n');
    } finally {
      await lab2.teardown();
    }
    expect(await findLeftovers(lab2.id)).toEqual([]);
    // lab 1 is unaffected by lab 2's teardown
    expect((await ssh(lab, 'h001', 'hostname')).stdout).toBe('h001\n');
  });

  test('teardown removes everything and is idempotent', async () => {
    const { lab } = ctx;
    expect(await findLeftovers(lab.id)).not.toEqual([]);
    const pids = ['o001', 'h001', 'h002'].map((h) => lab.hostPid(h));
    const t0 = Date.now();
    await lab.teardown();
    const took = Date.now() - t0;
    await lab.teardown();
    expect(await findLeftovers(lab.id)).toEqual([]);
    for (const p of pids) expect(fs.existsSync(`/proc/${p}/cmdline`) && fs.readFileSync(`/proc/${p}/cmdline`, 'utf8').includes(lab.id)).toBe(false);
    expect(fs.existsSync(lab.dir)).toBe(false);
    expect(took).toBeLessThan(5000);
  });
});
