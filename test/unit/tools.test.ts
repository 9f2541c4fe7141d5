// The commands each host's steps run (plan/tools.ts): read from the scripts, declared by the
// generated module, checked by preflight. Table-driven: [name, { given, want }].
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { commandsIn } from '../../src/generator/plan/tools.js';
import type { Step } from '../../src/runbook/steps.js';
import { planOf } from '../helpers/plan.js';

const SCRIPTS: [string, { given: string; want: string[] }][] = [
  ['a command at the start of a line', { given: 'sqlite3 -readonly /x "PRAGMA integrity_check;"', want: ['sqlite3'] }],
  ['in a command substitution', { given: 'test "$(sqlite3 -readonly /x q)" = ok', want: ['sqlite3'] }],
  ['after a pipe and after &&', { given: 'cat /x | rsync -a a b && restic backup /x', want: ['restic', 'rsync'] }],
  ['after if/then and in a condition', { given: 'if dig +short x; then curl -s y; fi', want: ['curl', 'dig'] }],
  ['after runuser --', { given: 'runuser -u vaultwarden -- sqlite3 /x .dump', want: ['sqlite3'] }],
  ['inside a container: not the host\'s', { given: 'nixos-container run forgejo -- git fsck && rsync -a a b', want: ['rsync'] }],
  ['a word in a string is no command', { given: "echo 'rsync: some files vanished'; echo \"restic is slow\"", want: [] }],
  ['a longer name is another command', { given: 'mysqlite3 x; rsyncd --daemon; git-upload-pack', want: [] }],
  ['a manifest verify command', { given: 'test -n "$(dig +short +time=2 +tries=1 @127.0.0.1 nixos.org)"', want: ['dig'] }],
];

describe('commands in a script', () => {
  it.each(SCRIPTS)('%s', (_, { given, want }) => expect(commandsIn(given)).toEqual(want));
});

const vw = 'service: vaultwarden\nfrom: o001\nto: h002\nstrategy: warm\nbackup: { restic: { repository: /backup/o001 } }';
const PLANS: [string, { given: string; want: Record<string, { commands: string[]; packages: string[] }> }][] = [
  ['warm vaultwarden: the old host backs up, snapshots SQLite and serves rsync (its daemon mode, at the path the forced command names); the new one copies and checks SQLite', {
    given: vw,
    want: { h002: { commands: ['curl', 'rsync', 'sqlite3'], packages: ['rsync', 'sqlite'] }, o001: { commands: ['/run/current-system/sw/bin/rsync', 'curl', 'restic', 'rsync', 'sqlite3'], packages: ['restic', 'rsync', 'sqlite'] } },
  }],
  ['cold adguardhome, verified with dig on the new host', {
    given: 'service: adguardhome\nfrom: h003\nto: h002\nstrategy: cold\nbackup: { none: true }\nverify: [{ command: \'test -n "$(dig +short @127.0.0.1 nixos.org)"\', on: new }]',
    want: { h002: { commands: ['dig', 'rsync'], packages: ['dnsutils', 'rsync'] }, h003: { commands: ['/run/current-system/sw/bin/rsync', 'rsync'], packages: ['rsync'] } },
  }],
  ['pushed by the old host: rrsync on the new one', {
    given: 'service: adguardhome\nfrom: h003\nto: h002\nstrategy: cold\nbackup: { none: true }\nsync: { mode: push }',
    want: { h002: { commands: ['rrsync', 'rsync'], packages: ['rrsync', 'rsync'] }, h003: { commands: ['rsync'], packages: ['rsync'] } },
  }],
  ['relayed through the operator: no rsync, no rrsync', {
    given: 'service: adguardhome\nfrom: h003\nto: h002\nstrategy: cold\nbackup: { none: true }\nsync: { mode: relay }',
    want: {},
  }],
];

describe('the commands of each host', () => {
  it.each(PLANS)('%s', async (_, { given, want }) => {
    const p = await planOf(given);
    expect(Object.fromEntries(p.tools.map((t) => [t.host, { commands: t.commands, packages: t.packages }]))).toEqual(want);
    // Per host, one preflight check right after every host answered, of what the steps before
    // the deploys run there; one after the deploys took effect, of the rest (what the generated
    // module brings); together they cover every command.
    const ids = p.steps.map((s) => s.id);
    const reach = ids.filter((i) => i.startsWith('reach-')).length;
    expect(ids.slice(0, reach).every((i) => i.startsWith('reach-'))).toBe(true);
    const early = ids.slice(reach).filter((i, k) => ids.slice(reach, reach + k + 1).every((x) => x.startsWith('tools-')));
    const lastDeploy = Math.max(...ids.map((i, k) => (/^(deployed|fenced)-|^routes-(?!clean)/.test(i) ? k : -1)));
    const late = ids.filter((i) => i.startsWith('tools-deployed-'));
    for (const l of late) expect(ids.indexOf(l)).toBeGreaterThan(lastDeploy);
    for (const l of late) expect(ids.indexOf(l)).toBeLessThan(ids.indexOf('prepared'));
    const checked = new Map<string, string[]>();
    for (const st of p.steps.filter((x) => x.id.startsWith('tools-'))) {
      const host = st.id.replace(/^tools-(deployed-)?/, '');
      const script = 'run' in st && 'on' in st.run ? st.run.script : '';
      const cmds = [...(/for c in ([^;]*); do/.exec(script)?.[1]?.split(' ') ?? []), ...(script.includes('rrsync') ? ['rrsync'] : []), ...[...script.matchAll(/test -x (\/\S+\/rsync) /g)].map((m) => m[1]!)];
      checked.set(host, [...(checked.get(host) ?? []), ...cmds].sort());
    }
    expect(Object.fromEntries([...checked].sort())).toEqual(Object.fromEntries(Object.entries(want).map(([h, w]) => [h, w.commands])));
    expect(early.every((i) => i.startsWith('tools-') && !i.startsWith('tools-deployed-'))).toBe(true);
  });
});

describe('the preflight check (real bash, a PATH of stubs)', () => {
  const bin = mkdtempSync(path.join(tmpdir(), 'migen-tools-'));
  const run = (script: string, pathDirs: string): ReturnType<typeof spawnSync> =>
    spawnSync('/bin/bash', ['-c', `set -euo pipefail\n${script}`], { encoding: 'utf8', env: { PATH: pathDirs }, stdio: ['ignore', 'pipe', 'pipe'] });

  it('fails naming every missing command and the fix; passes once they are on the PATH', async () => {
    const p = await planOf(vw);
    // before the deploys: what the backup runs on o001; after them: rsync's other end (the module's rsync, at the forced command's path)
    const early = p.steps.find((s) => s.id === 'tools-o001') as Extract<Step, { kind: 'check' }>;
    const late = p.steps.find((s) => s.id === 'tools-deployed-o001') as Extract<Step, { kind: 'check' }>;
    expect(early.phase).toBe('preflight');
    expect(late.phase).toBe('prepare');
    expect(early.failure).toMatch(/^o001 lacks commands the runbook runs there: deploy o001 with the generated module first \(generated\/hosts\/o001\.nix adds pkgs\.restic, pkgs\.sqlite to environment\.systemPackages\): nixos-rebuild switch --flake \S+#o001'? --target-host root@o001$/);
    expect(late.failure).toMatch(/generated\/hosts\/o001\.nix adds pkgs\.rsync to environment\.systemPackages/);
    const rrsync = path.join(bin, 'sw', 'rsync'); // the daemon's rsync at its absolute path
    const local = (st: Extract<Step, { kind: 'check' }>) => ('on' in st.run ? st.run.script : '').replaceAll('/run/current-system/sw/bin/rsync', rrsync);
    const missing = run(local(early), '/nonexistent');
    expect(missing.status).toBe(1);
    expect(missing.stderr).toBe('missing on o001: restic sqlite3\n');
    expect(run(local(late), '/nonexistent').stderr).toBe(`missing on o001: curl rsync ${rrsync}\n`);
    for (const c of ['curl', 'restic', 'sqlite3']) { writeFileSync(path.join(bin, c), '#!/bin/sh\n'); chmodSync(path.join(bin, c), 0o755); }
    expect([run(local(early), bin).status, run(local(early), bin).stderr]).toEqual([0, '']);
    expect(run(local(late), bin).stderr).toBe(`missing on o001: rsync ${rrsync}\n`);
    writeFileSync(path.join(bin, 'rsync'), '#!/bin/sh\n'); chmodSync(path.join(bin, 'rsync'), 0o755);
    spawnSync('mkdir', ['-p', path.dirname(rrsync)]);
    writeFileSync(rrsync, '#!/bin/sh\n'); chmodSync(rrsync, 0o755);
    const ok = run(local(late), bin);
    expect([ok.status, ok.stderr]).toEqual([0, '']);
  });
});
