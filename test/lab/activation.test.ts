/**
 * lab: the systemd / NixOS activation stand-ins against the behaviour they model
 * (research §1 switch-to-configuration-ng, §5 systemd; the sources are cited in the stand-ins):
 * wanted units come back on every activation (nixpkgs issue #294312) unless a Condition*= says
 * no, runtime drop-ins last until a reboot, X-RestartIfChanged=false keeps a changed unit
 * running, a reboot boots the boot profile, nixos-rebuild activates, and systemd-run's transient
 * services and timers.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, test } from 'vitest';
import { APP_PY, useLab, type Lab } from './lab.js';
import { topOf } from './system.js';

const HOSTS = [
  { name: 'o001', address: '100.64.0.1' },
  { name: 'h001', address: '100.64.0.13' },
  { name: 'h002', address: '100.64.0.20' },
];
const ADDR: Record<string, string> = Object.fromEntries(HOSTS.map((h) => [h.name, h.address]));
const ctx = useLab({ hosts: HOSTS });

async function sh(lab: Lab, host: string, script: string): Promise<string> {
  const r = await lab.exec(host, script);
  if (r.code !== 0) throw new Error(`${host}: ${script}\nexit ${r.code}: ${r.stderr}${r.stdout}`);
  return r.stdout;
}
const stc = (lab: Lab, host: string, profile: string, action: string) => lab.exec(host, `${topOf(profile)}/bin/switch-to-configuration ${action}`);
const state = async (lab: Lab, host: string, unit: string) => (await lab.exec(host, `systemctl is-active ${unit}`)).stdout.trim();
const show = async (lab: Lab, host: string, unit: string, props: string) => (await sh(lab, host, `systemctl show -p ${props} ${unit}`)).trim().split('\n');
const mainPid = async (lab: Lab, host: string, unit: string) => Number((await sh(lab, host, `systemctl show -P MainPID ${unit}`)).trim());

async function waitFor<T>(what: string, get: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 20_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await get();
    if (ok(v)) return v;
    if (Date.now() > until) throw new Error(`timeout waiting for ${what} (last: ${JSON.stringify(v)})`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function app(lab: Lab, host: string, unit: string, port: number) {
  return lab.defineUnit(host, unit, {
    exec: ['/usr/bin/python3', APP_PY],
    env: { STATE_DIR: `/var/lib/${unit}`, LISTEN: `${ADDR[host]}:${port}` },
    ready: { http: `http://${ADDR[host]}:${port}/alive` },
  });
}

describe('switch-to-configuration and systemd stand-ins', () => {
  test('switch or test of any profile starts a stopped unit that is still wanted (nixpkgs #294312); an unwanted one stays stopped; a failed start is exit 4', async () => {
    const { lab } = ctx;
    await app(lab, 'h001', 'svc', 8301);
    await app(lab, 'h001', 'manual', 8302);
    const units = { svc: { wanted: true }, manual: {} };
    await lab.system('h001', { profiles: { base: { units }, alt: { units } }, active: 'base' });
    expect([await state(lab, 'h001', 'svc'), await state(lab, 'h001', 'manual')]).toEqual(['active', 'inactive']);
    expect((await sh(lab, 'h001', 'readlink /run/current-system; cat /nix/var/nix/profiles/.lab-boot-profile')).split('\n').slice(0, 2)).toEqual([topOf('base'), topOf('base')]);
    for (const [profile, action, boot] of [['base', 'test', 'base'], ['alt', 'test', 'base'], ['alt', 'switch', 'alt'], ['base', 'switch', 'base']] as const) {
      expect((await lab.exec('h001', 'systemctl stop svc')).code).toBe(0);
      expect(await state(lab, 'h001', 'svc')).toBe('inactive');
      const r = await stc(lab, 'h001', profile, action);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr).toContain('the following new units were started: svc.service');
      expect([profile, action, await state(lab, 'h001', 'svc'), await state(lab, 'h001', 'manual')]).toEqual([profile, action, 'active', 'inactive']);
      expect((await sh(lab, 'h001', 'readlink /run/current-system; cat /nix/var/nix/profiles/.lab-boot-profile')).split('\n').slice(0, 2)).toEqual([topOf(profile), topOf(boot)]);
    }
    // a wanted unit that cannot start: s-t-c goes on and exits 4 ("warning: the following units failed")
    await sh(lab, 'h001', 'systemctl stop svc; touch /var/lib/svc/FAIL_START');
    let r = await stc(lab, 'h001', 'base', 'test');
    expect(r.code).toBe(4);
    expect(r.stderr).toContain('warning: the following units failed: svc.service');
    expect(await state(lab, 'h001', 'svc')).toBe('failed');
    await sh(lab, 'h001', 'rm /var/lib/svc/FAIL_START');
    r = await stc(lab, 'h001', 'base', 'test');
    expect([r.code, await state(lab, 'h001', 'svc')]).toEqual([0, 'active']);
  });

  test('a ConditionPathExists=! fence keeps a unit stopped through activations, starts and a reboot; lifting the marker lets the next activation start it', async () => {
    const { lab } = ctx;
    await app(lab, 'h002', 'vw', 8222);
    const fence = '!/var/lib/migen/vw/moved';
    await lab.system('h002', { profiles: { base: { units: { vw: { wanted: true, conditions: [fence], restartIfChanged: false } } } }, active: 'base' });
    expect(await state(lab, 'h002', 'vw')).toBe('active');
    // the runbook's deploy check: the unit file of the active configuration holds the fence
    expect(await sh(lab, 'h002', `f=$(systemctl show -P FragmentPath vw) && echo "$f" && grep -xF 'ConditionPathExists=${fence}' "$f" && grep -x X-RestartIfChanged=false "$f"`))
      .toBe(`/etc/systemd/system/vw.service\nConditionPathExists=${fence}\nX-RestartIfChanged=false\n`);
    await sh(lab, 'h002', 'mkdir -p /var/lib/migen/vw && date > /var/lib/migen/vw/moved && systemctl stop vw');
    for (const action of ['test', 'switch']) {
      const r = await stc(lab, 'h002', 'base', action);
      expect(r.code, r.stderr).toBe(0);
      expect(await show(lab, 'h002', 'vw', 'ActiveState,SubState,Result,ConditionResult')).toEqual(['ActiveState=inactive', 'SubState=dead', 'Result=success', 'ConditionResult=no']);
    }
    // a start by hand is skipped too: exit 0, inactive, not failed; the journal says why
    expect((await lab.exec('h002', 'systemctl start vw')).code).toBe(0);
    expect((await lab.exec('h002', 'systemctl is-failed vw')).code).toBe(1);
    expect(await sh(lab, 'h002', 'journalctl -u vw -n 1')).toBe(`vw.service was skipped because of an unmet condition check (ConditionPathExists=${fence}).\n`);
    const init = lab.hostPid('h002');
    await lab.reboot('h002');
    expect(lab.hostPid('h002')).toBe(init);
    expect(await show(lab, 'h002', 'vw', 'ActiveState,ConditionResult')).toEqual(['ActiveState=inactive', 'ConditionResult=no']);
    await sh(lab, 'h002', 'rm /var/lib/migen/vw/moved');
    expect((await stc(lab, 'h002', 'base', 'test')).code).toBe(0);
    expect(await show(lab, 'h002', 'vw', 'ActiveState,ConditionResult')).toEqual(['ActiveState=active', 'ConditionResult=yes']);
  });

  test('a runtime drop-in fences a unit until the next reboot, whatever the configuration brings', async () => {
    const { lab } = ctx;
    await app(lab, 'h002', 'nw', 8223);
    const vw = { wanted: true, conditions: ['!/var/lib/migen/vw/moved'], restartIfChanged: false };
    await lab.system('h002', { profiles: { base: { units: { vw, nw: { wanted: true } } } }, active: null });
    // as the runbook's fence-new step writes it
    await sh(lab, 'h002', [
      'mkdir -p /run/systemd/system/nw.service.d /var/lib/migen/nw',
      "printf '%s\\n' '# migen: fenced until the copy passed the cutover checks' '[Unit]' ConditionPathExists=/var/lib/migen/nw/ready > /run/systemd/system/nw.service.d/50-migen-fence.conf",
      'systemctl daemon-reload',
    ].join('\n'));
    const r = await stc(lab, 'h002', 'base', 'switch');
    expect(r.code, r.stderr).toBe(0);
    expect([await state(lab, 'h002', 'nw'), await state(lab, 'h002', 'vw')]).toEqual(['inactive', 'active']);
    expect(await sh(lab, 'h002', 'systemctl cat nw')).toBe([
      '# /etc/systemd/system/nw.service', '[Unit]', 'Description=nw (migen lab)', '', '[Service]', 'Environment="STATE_DIR=/var/lib/nw"', 'Environment="LISTEN=100.64.0.20:8223"',
      `ExecStart=/usr/bin/python3 ${APP_PY}`, '', '# /run/systemd/system/nw.service.d/50-migen-fence.conf', '# migen: fenced until the copy passed the cutover checks', '[Unit]', 'ConditionPathExists=/var/lib/migen/nw/ready', '',
    ].join('\n'));
    expect(await show(lab, 'h002', 'nw', 'DropInPaths,ConditionResult')).toEqual(['DropInPaths=/run/systemd/system/nw.service.d/50-migen-fence.conf', 'ConditionResult=no']);
    // the deploy's check looks at the unit file: the drop-in is no fence of the configuration
    expect((await lab.exec('h002', 'f=$(systemctl show -P FragmentPath nw) && grep -qxF ConditionPathExists=/var/lib/migen/nw/ready "$f"')).code).toBe(1);
    await sh(lab, 'h002', 'touch /var/lib/migen/nw/ready && systemctl start nw && systemctl is-active nw && systemctl stop nw && rm /var/lib/migen/nw/ready');
    await lab.reboot('h002');
    expect((await lab.exec('h002', 'ls /run/systemd')).code).not.toBe(0);
    expect([await state(lab, 'h002', 'nw'), await state(lab, 'h002', 'vw')]).toEqual(['active', 'active']);
  });

  test('X-RestartIfChanged=false keeps a changed unit running through a switch; a changed unit without it restarts; an unchanged one is left alone; a removed one stops', async () => {
    const { lab } = ctx;
    for (const [u, port] of [['a', 8311], ['b', 8312], ['c', 8313]] as const) await app(lab, 'h001', u, port);
    const rev2 = ['Environment=REV=2'];
    await lab.system('h001', {
      profiles: {
        base: { units: { svc: { wanted: true }, a: { wanted: true }, b: { wanted: true }, c: { wanted: true } } },
        v2: { units: { a: { wanted: true, restartIfChanged: false, extra: rev2 }, b: { wanted: true, extra: rev2 }, c: { wanted: true } } },
      },
      active: 'base',
    });
    const pids = async () => Object.fromEntries(await Promise.all(['svc', 'a', 'b', 'c'].map(async (u) => [u, await mainPid(lab, 'h001', u)] as const)));
    const p0 = await pids();
    expect(Object.values(p0).every((p) => p > 0)).toBe(true);
    let r = await stc(lab, 'h001', 'v2', 'switch');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain('stopping the following units: b.service, svc.service');
    expect(r.stderr).toContain('NOT restarting the following changed units: a.service');
    expect(r.stderr).toContain('starting the following units: b.service');
    const p1 = await pids();
    expect(p1.a).toBe(p0.a);
    expect(p1.c).toBe(p0.c);
    expect(p1.b).not.toBe(p0.b);
    expect(p1.b).toBeGreaterThan(0);
    expect(p1.svc).toBe(0); // its unit file is gone: stopped (X-StopOnRemoval defaults to true)
    // back: the NEW unit file decides, and base's a has no X-RestartIfChanged=false
    r = await stc(lab, 'h001', 'base', 'switch');
    expect(r.code, r.stderr).toBe(0);
    const p2 = await pids();
    expect(p2.a).not.toBe(p1.a);
    expect(p2.b).not.toBe(p1.b);
    expect(p2.c).toBe(p0.c);
    expect(p2.svc).toBeGreaterThan(0);
  });

  test('nginx routes through an upstream route file; a reboot boots the boot profile with the route file it kept; /var/lib persists, /run does not', async () => {
    const { lab } = ctx;
    await app(lab, 'h001', 'w', 8321);
    await app(lab, 'h002', 'w', 8321);
    await sh(lab, 'h001', 'systemctl start w');
    await sh(lab, 'h002', 'systemctl start w');
    const vhost = (proxyPass: string) => [{ serverName: 'app.example.org', locations: { '/': { proxyPass } } }];
    const route = '/var/lib/migen/nginx/app/0.upstream';
    await lab.system('o001', {
      profiles: {
        base: {
          nginx: { vhosts: vhost('http://migen_app_0'), upstreams: { migen_app_0: [`include ${route};`] } },
          activation: `install -d -m 0755 ${path.dirname(route)}\n[ -e ${route} ] || printf '%s\\n' 'server 100.64.0.13:8321;' > ${route}`,
        },
        direct: { nginx: { vhosts: vhost('http://100.64.0.13:8321') } },
      },
      active: 'base',
    });
    const served = async (n = 10) => {
      const out: string[] = [];
      for (let i = 0; i < n; i++) out.push((await lab.operator(['curl', '-sS', '--max-time', '3', '-H', 'Host: app.example.org', 'http://100.64.0.1/healthz'])).stdout);
      return [...new Set(out)];
    };
    expect(await served()).toEqual(['h001']);
    expect(await sh(lab, 'o001', `cat ${route}; grep -A2 'upstream migen_app_0' /etc/nginx/nginx.conf`)).toBe(`server 100.64.0.13:8321;\n  upstream migen_app_0 {\n    include ${route};\n  }\n`);
    // the runbook's route-new: the route file, then a reload; the old workers go
    await sh(lab, 'o001', [
      "before=$(pgrep -d ' ' -f '^nginx: worker process *$')",
      `printf '%s\\n' 'server 100.64.0.20:8321;' > ${route}.tmp && mv -f ${route}.tmp ${route}`,
      'systemctl reload nginx',
      'for i in $(seq 1 200); do now=" $(pgrep -d \' \' -f \'^nginx: worker process *$\') "; stale=0; for p in $before; do case $now in *" $p "*) stale=1 ;; esac; done; [ "$stale" = 0 ] && exit 0; sleep 0.05; done; exit 1',
    ].join('\n'));
    expect(await served()).toEqual(['h002']);
    // the activation keeps an existing route file
    expect((await stc(lab, 'o001', 'base', 'test')).code).toBe(0);
    expect(await served()).toEqual(['h002']);
    // a reload with a broken configuration fails (ExecReload's nginx -t) and nginx keeps serving
    await sh(lab, 'o001', `cp ${route} /root/route.bak; echo 'server nonsense here;' > ${route}`);
    expect((await lab.exec('o001', 'systemctl reload nginx')).code).toBe(1);
    await sh(lab, 'o001', `mv /root/route.bak ${route}`);
    expect(await served()).toEqual(['h002']);
    // `test` of another profile is not the boot default
    const nginx0 = await mainPid(lab, 'o001', 'nginx');
    const r = await lab.exec('o001', `${topOf('direct')}/bin/switch-to-configuration test`);
    expect(r.code, r.stderr).toBe(0);
    await waitFor('the direct route', () => served(3), (v) => v.length === 1 && v[0] === 'h001');
    await sh(lab, 'o001', 'touch /run/lab-marker /var/lib/lab-marker');
    await lab.reboot('o001');
    expect(await sh(lab, 'o001', 'readlink /run/current-system; ls /run; test -e /var/lib/lab-marker && echo kept')).toBe(`${topOf('base')}\ncurrent-system\nlab-host\nlab-units\nnginx\nnginx.pid\nsshd\nsshd.pid\nkept\n`);
    expect(await served()).toEqual(['h002']);
    expect(await mainPid(lab, 'o001', 'nginx')).not.toBe(nginx0);
  });

  test('nixos-rebuild switch activates the target\'s base profile; boot only records it; a failing activation fails the deploy', async () => {
    const { lab } = ctx;
    const log = path.join(lab.dir, 'operator', 'nixos-rebuild.log');
    await sh(lab, 'h001', 'systemctl stop c');
    let r = await lab.operator(['nixos-rebuild', 'switch', '--flake', '.#h001', '--target-host', 'root@100.64.0.13']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain('the following new units were started: c.service');
    expect(await state(lab, 'h001', 'c')).toBe('active');
    // boot: the boot default changes, nothing is activated
    expect((await stc(lab, 'h001', 'v2', 'switch')).code).toBe(0);
    await sh(lab, 'h001', 'systemctl stop c');
    r = await lab.operator(['nixos-rebuild', 'boot', '--flake', '.#h001', '--target-host', 'root@100.64.0.13']);
    expect(r.code, r.stderr).toBe(0);
    expect(await sh(lab, 'h001', 'cat /nix/var/nix/profiles/.lab-boot-profile; readlink /run/current-system')).toBe(`${topOf('base')}\n${topOf('v2')}\n`);
    expect(await state(lab, 'h001', 'c')).toBe('inactive');
    await lab.system('h002', { profiles: { base: { activation: "echo 'snippet fails' >&2; false" } }, active: null });
    r = await lab.operator(['nixos-rebuild', 'switch', '--flake', '.#h002', '--target-host', 'root@100.64.0.20']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/snippet fails[\s\S]*Failed to run activate script/);
    expect(r.stdout).toBe("Activation script snippet 'lab' failed (1)\n");
    expect(fs.readFileSync(log, 'utf8')).toBe('switch --flake .#h001 --target-host root@100.64.0.13\nboot --flake .#h001 --target-host root@100.64.0.13\nswitch --flake .#h002 --target-host root@100.64.0.20\n');
  });
});

test('units start with every signal at its default, as systemd starts them: KillSignal=SIGINT stops a process that does not handle it', async () => {
  const { lab } = ctx;
  await lab.defineUnit('h002', 'intd', { exec: ['/bin/sleep', '1000'], killSignal: 'SIGINT', stopTimeoutSec: 8 });
  await sh(lab, 'h002', 'systemctl start intd');
  expect(await sh(lab, 'h002', 'grep SigIgn /proc/$(systemctl show -P MainPID intd)/status')).toBe('SigIgn:\t0000000000000000\n');
  const t0 = Date.now();
  await sh(lab, 'h002', 'systemctl stop intd');
  expect(Date.now() - t0).toBeLessThan(4000); // SIGINT ended it; not the SIGKILL after 8 s
  expect(await sh(lab, 'h002', 'journalctl -u intd')).not.toContain('timed out');
});

describe('systemd-run stand-in', () => {
  test('a transient service outlives the ssh session that started it (link cut, client killed); its environment is clean; its output is in its journal', async () => {
    const { lab } = ctx;
    const child = lab.operatorSpawn(['ssh', 'h001', 'systemd-run --unit=outlive --setenv=FOO=bar /bin/sh -c \'echo "started $FOO"; while :; do date +%s%N >> /var/lib/outlive.ticks; sleep 0.05; done\' && echo spawned && exec sleep 300'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    await waitFor('the ssh session to start the unit', async () => out, (o) => o.includes('spawned'));
    await lab.setLink('h001', false);
    child.kill('SIGKILL');
    // and the session's processes on the host, as sshd ends a dead connection
    await sh(lab, 'h001', "pkill -KILL -f '^sleep 300$'; for p in $(pgrep -x sshd); do [ \"$p\" = 1 ] || kill -KILL \"$p\"; done; true");
    const ticks = async () => Number((await sh(lab, 'h001', 'wc -l < /var/lib/outlive.ticks')).trim());
    const n0 = await ticks();
    await waitFor('ticks after the session died', ticks, (n) => n >= n0 + 10);
    expect(await state(lab, 'h001', 'outlive')).toBe('active');
    await lab.setLink('h001', true);
    const env = (await sh(lab, 'h001', 'tr "\\0" "\\n" < /proc/$(systemctl show -P MainPID outlive)/environ | sort')).trim().split('\n');
    expect(env).toEqual(['FOO=bar', 'LANG=C.UTF-8', 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin']);
    expect(await sh(lab, 'h001', 'journalctl -u outlive -n 1')).toBe('started bar\n');
    expect(await sh(lab, 'h001', 'systemctl show -p FragmentPath,UnitFileState outlive')).toBe('FragmentPath=/run/systemd/transient/outlive.service\nUnitFileState=transient\n');
    // a name in use is refused
    const again = await lab.exec('h001', 'systemd-run --unit=outlive true');
    expect([again.code, again.stderr.trim()]).toEqual([1, 'Failed to start transient service unit: Unit outlive.service was already loaded or has a fragment file.']);
    await sh(lab, 'h001', 'systemctl stop outlive');
    expect(await show(lab, 'h001', 'outlive', 'LoadState,ActiveState')).toEqual(['LoadState=not-found', 'ActiveState=inactive']); // inactive transient units are collected
  });

  test('Restart=on-failure restarts after SIGKILL until StartLimitBurst=; clean exits and stops are not restarted; killUnit forGood ends a unit', async () => {
    const { lab } = ctx;
    await sh(lab, 'h001', 'systemd-run -q --unit=crashy -p Restart=on-failure -p RestartSec=100ms -p StartLimitBurst=3 sleep 600');
    let pid = await mainPid(lab, 'h001', 'crashy');
    for (const n of [1, 2]) {
      await lab.killUnit('h001', 'crashy');
      const last = pid;
      pid = await waitFor(`restart ${n}`, () => mainPid(lab, 'h001', 'crashy'), (p) => p > 0 && p !== last);
      expect(await show(lab, 'h001', 'crashy', 'ActiveState,NRestarts,Result,ExecMainStatus')).toEqual(['ActiveState=active', `NRestarts=${n}`, 'Result=signal', 'ExecMainStatus=9']);
    }
    await lab.killUnit('h001', 'crashy'); // the 4th start would exceed the burst of 3
    await waitFor('the start limit', () => state(lab, 'h001', 'crashy'), (s) => s === 'failed');
    expect(await show(lab, 'h001', 'crashy', 'ActiveState,NRestarts,Result,MainPID')).toEqual(['ActiveState=failed', 'NRestarts=2', 'Result=start-limit-hit', 'MainPID=0']);
    expect(await sh(lab, 'h001', 'journalctl -u crashy | grep -c "Scheduled restart job"; journalctl -u crashy -n 2')).toBe('2\ncrashy.service: Start request repeated too quickly.\ncrashy.service: Failed with result \'start-limit-hit\'.\n');
    await sh(lab, 'h001', 'systemctl reset-failed crashy');
    expect(await show(lab, 'h001', 'crashy', 'LoadState')).toEqual(['LoadState=not-found']);

    // a clean exit is no failure: not restarted by on-failure; --wait returns the main process's status
    let r = await lab.exec('h001', "systemd-run --wait --unit=clean -p Restart=on-failure /bin/sh -c 'exit 0'");
    expect([r.code, r.stderr]).toEqual([0, 'Running as unit: clean.service\nFinished with result: success\nMain processes terminated with: code=exited/status=0\n']);
    r = await lab.exec('h001', "systemd-run --wait -q --unit=bad /bin/sh -c 'exit 7'");
    expect(r.code).toBe(7);
    expect(await show(lab, 'h001', 'bad', 'ActiveState,Result,ExecMainStatus')).toEqual(['ActiveState=failed', 'Result=exit-code', 'ExecMainStatus=7']); // failed units stay loaded
    await sh(lab, 'h001', "systemd-run -q --collect --unit=bad2 /bin/sh -c 'exit 7'");
    await waitFor('bad2 collected', () => show(lab, 'h001', 'bad2', 'LoadState'), (v) => v[0] === 'LoadState=not-found');

    // a restart keeps a transient unit (it is not collected between the stop and the start)
    await sh(lab, 'h001', 'systemd-run -q --unit=rs sleep 603');
    const rs0 = await mainPid(lab, 'h001', 'rs');
    await sh(lab, 'h001', 'systemctl restart rs');
    expect(await show(lab, 'h001', 'rs', 'LoadState,ActiveState')).toEqual(['LoadState=loaded', 'ActiveState=active']);
    expect(await mainPid(lab, 'h001', 'rs')).not.toBe(rs0);
    await sh(lab, 'h001', 'systemctl stop rs');

    // a stop is no failure either: Restart=always ends with it (no process of the unit is left to restart it)
    await sh(lab, 'h001', 'systemd-run -q --unit=always -p Restart=always -p RestartSec=100ms sleep 601 && systemctl stop always');
    expect(await sh(lab, 'h001', "pgrep -fc '^sleep 601$|[_]_supervise always' || true")).toBe('0\n');
    await sh(lab, 'h001', 'systemd-run -q --unit=doomed -p Restart=always -p RestartSec=100ms sleep 602');
    await lab.killUnit('h001', 'doomed', { forGood: true });
    expect(await sh(lab, 'h001', "pgrep -fc '^sleep 602$|[_]_supervise doomed' || true")).toBe('0\n');
    expect(await state(lab, 'h001', 'doomed')).toBe('inactive');
  });

  test('a timer starts its service after SEC; stop cancels it; restart re-arms it from now; without a command it triggers an existing service', async () => {
    const { lab } = ctx;
    const now = async () => Number((await sh(lab, 'h001', 'date +%s%3N')).trim());
    const fired = async (f: string) => { const r = await lab.exec('h001', `cat /var/lib/${f}.fired 2>/dev/null`); return r.code === 0 ? Number(r.stdout.trim()) : 0; };
    let t0 = await now();
    await sh(lab, 'h001', "systemd-run -q --unit=tick --on-active=1 /bin/sh -c 'date +%s%3N > /var/lib/tick.fired'");
    expect(await show(lab, 'h001', 'tick.timer', 'ActiveState,SubState,Triggers')).toEqual(['ActiveState=active', 'SubState=waiting', 'Triggers=tick.service']);
    const t = await waitFor('the timer', () => fired('tick'), (v) => v > 0);
    expect(t - t0).toBeGreaterThanOrEqual(1000);
    expect(await show(lab, 'h001', 'tick.timer', 'ActiveState,SubState')).toEqual(['ActiveState=active', 'SubState=elapsed']);

    await sh(lab, 'h001', [
      "systemd-run -q --unit=cancelled --on-active=1 /bin/sh -c 'touch /var/lib/cancelled.fired'",
      'systemctl stop cancelled.timer',
      "systemd-run -q --unit=control --on-active=1.5 /bin/sh -c 'date +%s%3N > /var/lib/control.fired'",
    ].join('\n'));
    await waitFor('the control timer', () => fired('control'), (v) => v > 0);
    expect((await lab.exec('h001', 'test -e /var/lib/cancelled.fired')).code).toBe(1);
    expect((await lab.exec('h001', 'systemctl is-active cancelled.timer')).code).toBe(3);

    t0 = await now();
    await sh(lab, 'h001', "systemd-run -q --unit=rearm --on-active=2 /bin/sh -c 'date +%s%3N > /var/lib/rearm.fired'");
    await waitFor('1 s on the clock', now, (v) => v >= t0 + 1000);
    const tr = await now();
    await sh(lab, 'h001', 'systemctl restart rearm.timer');
    const f = await waitFor('the re-armed timer', () => fired('rearm'), (v) => v > 0);
    expect(f).toBeGreaterThanOrEqual(tr + 2000);

    await app(lab, 'h001', 'trig', 8331);
    await sh(lab, 'h001', 'systemd-run -q --unit=trig --on-active=300ms');
    await waitFor('trig started by its timer', () => state(lab, 'h001', 'trig'), (s) => s === 'active');
    const noCmd = await lab.exec('h001', 'systemd-run --on-active=1');
    expect(noCmd.code).toBe(1);
  });
});
