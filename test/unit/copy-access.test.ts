// The copy's access between the hosts (plan/access.ts, access-steps.ts, rsync.ts): per-migration
// keys, accepted only by rsync's daemon (a read-only module) or rrsync -wo (push) for one state directory each, no agent, no ssh_config, installed
// before anything stops and removed after the verification. Table-driven over copy modes.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { hostsOfScript, scriptsOf, type Step } from '../../src/runbook/steps.js';
import type { MigrationPlan } from '../../src/generator/plan/types.js';
import { planOf } from '../helpers/plan.js';

const vw = 'service: vaultwarden\nfrom: o001\nto: h002\nstrategy: warm\nbackup: { none: true }';
const fj = 'service: forgejo\nfrom: h001\nto: h002\nstrategy: warm\nbackup: { none: true }';

const CASES: [string, { given: string; want: { client: string; server: string; mode: 'ro' | 'wo'; paths: string[] } }][] = [
  ['pull (the default): the new host reads the old one', { given: vw, want: { client: 'h002', server: 'o001', mode: 'ro', paths: ['/var/lib/vaultwarden'] } }],
  ['a container: one key per directory, its uid/gid map too', { given: fj, want: { client: 'h002', server: 'h001', mode: 'ro', paths: ['/var/lib/forgejo/data', '/var/lib/forgejo/postgres', '/var/lib/nixos-containers/forgejo/var/lib/nixos'] } }],
  ['push: the old host writes into the new one', { given: `${fj}\nsync: { mode: push }`, want: { client: 'h001', server: 'h002', mode: 'wo', paths: ['/var/lib/forgejo/data', '/var/lib/forgejo/postgres', '/var/lib/nixos-containers/forgejo/var/lib/nixos'] } }],
  ['hot: only the files beside the database', { given: 'service: zitadel\nfrom: h001\nto: h002\nstrategy: hot\nbackup: { none: true }\nstate: [/var/lib/zitadel/postgres, /var/lib/zitadel/keys]\ndatabase: { engine: postgresql, databases: [zitadel] }', want: { client: 'h002', server: 'h001', mode: 'ro', paths: ['/var/lib/zitadel/keys'] } }],
];

const at = (p: MigrationPlan, id: string): number => p.steps.findIndex((s) => s.id === id);
const scripts = (s: Step) => [...scriptsOf(s), ...(s.undo ? [s.undo] : [])].flatMap((x) => ('pipe' in x ? x.pipe : [x]));

describe('copy access', () => {
  it.each(CASES)('%s', async (_, { given, want }) => {
    const p = await planOf(given);
    const a = p.copyAccess!;
    expect({ client: a.client, server: a.server, mode: a.mode, paths: a.keys.map((k) => k.remote) }).toEqual(want);
    for (const k of a.keys) expect(k.local).toBe(k.remote); // the same directory on both sides here (sides.test.ts maps them)
    // each key is confined to its directory, read-only or write-only, with restrict
    a.keys.forEach((k, i) => {
      if (want.mode === 'ro') {
        // rsync's daemon mode, one read-only module of that directory, no chroot (owners mapped by name), no link followed out of it
        const conf = `/var/lib/migen/copy-access/demo/${i}.conf`;
        expect(k.command).toBe(`/run/current-system/sw/bin/rsync --server --daemon --config=${conf} .`);
        expect(k.config!.file).toBe(conf);
        expect(k.config!.text.split('\n')).toEqual(expect.arrayContaining(['use chroot = no', 'numeric ids = no', 'uid = root', '[state]', `path = ${k.remote}`, 'read only = yes']));
        expect(k.config!.text).toMatch(/^refuse options = .*\bcopy-links copy-unsafe-links copy-dirlinks remove-source-files\b/m);
        expect(k.far).toBe(`${a.user}@${a.address}::state/`);
      } else {
        expect(k.command).toBe(`/run/current-system/sw/bin/rrsync -wo ${k.remote}`);
        expect([k.config, k.far]).toEqual([null, `${a.user}@${a.address}:./`]);
      }
    });
    expect(new Set(a.keys.map((k) => k.key)).size).toBe(a.keys.length);
    // a master connection per key: a session on another key's connection would run that key's forced command
    const sockets = a.keys.map((k) => /ControlPath=(\S+)/.exec(k.ssh)![1]);
    expect(new Set(sockets).size).toBe(a.keys.length);
    // every rsync between the hosts goes through a key, with no ssh_config, no agent, to the directory's root
    const rsyncs = p.steps.flatMap(scripts).flatMap((x) => x.script.split('\n').filter((l) => /(^|\$\()rsync /.test(l.trim())).map((l) => ({ on: x.on, l })));
    expect(rsyncs.length).toBeGreaterThan(0);
    for (const { on, l } of rsyncs) {
      expect(on).toBe(a.client);
      expect(l).toMatch(/-e 'ssh -F \/dev\/null -i \/var\/lib\/migen\/copy-keys\/demo\/\d -o IdentitiesOnly=yes -o ForwardAgent=no /);
      expect(l).toContain(a.mode === 'ro' ? `${a.user}@${a.address}::state/` : `${a.user}@${a.address}:./`);
      expect(l).not.toMatch(/ -A | ForwardAgent=yes/);
    }
    // no script opens a plain ssh from one host of the run to another
    for (const x of p.steps.flatMap(scripts)) for (const l of x.script.split('\n')) if (/(^|[;&|(]\s*)ssh /.test(l.trim())) expect(l, l).toContain('-F /dev/null -i /var/lib/migen/copy-keys/');
    // made and proved in prepare, after the server's deploy and before the first copy and stop; removed at the end of verify
    expect(p.steps[at(p, 'copy-keys')]!.phase).toBe('prepare');
    expect(at(p, 'copy-access')).toBeGreaterThan(at(p, `deploy-${a.server}`));
    expect(at(p, 'copy-access-works')).toBeGreaterThan(at(p, 'copy-access'));
    const firstCopy = p.steps.findIndex((s) => s.id === 'sync-live' || s.id === 'final-pass');
    expect(at(p, 'copy-access-works')).toBeLessThan(Math.min(firstCopy, at(p, 'stop-old')));
    expect(hostsOfScript(p.steps[at(p, 'copy-access')]!.undo!)).toEqual([a.server]);
    expect(hostsOfScript(p.steps[at(p, 'copy-keys')]!.undo!)).toEqual([a.client]);
    const verify = p.steps.filter((s) => s.phase === 'verify').map((s) => s.id);
    expect(verify.slice(-2)).toEqual(['copy-access-closed', 'copy-keys-removed']);
  });

  it('relay: nothing goes host to host, so no keys', async () => {
    const p = await planOf(`${vw}\nsync: { mode: relay }`);
    expect(p.copyAccess).toBeNull();
    expect(p.steps.filter((s) => s.id.startsWith('copy-'))).toEqual([]);
  });
});

describe('the server writes exactly one restricted line per key (real bash)', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'migen-access-'));
  const authorize = async (): Promise<{ script: string; file: string; p: MigrationPlan }> => {
    const p = await planOf(fj);
    const step = p.steps.find((s) => s.id === 'copy-access')!;
    const run = (step as Extract<Step, { kind: 'command' }>).run;
    if (!('pipe' in run)) throw new Error('copy-access is a pipe');
    return { script: run.pipe[1].script.replaceAll('/var/lib/migen/', `${dir}/`), file: p.copyAccess!.file.replace('/var/lib/migen/', `${dir}/`), p };
  };
  const bash = (script: string, input: string) => spawnSync('/bin/bash', ['-c', `set -euo pipefail\n${script}`], { input, encoding: 'utf8' });
  const keygen = (n: number): string => {
    const f = path.join(dir, `k${n}`);
    spawnSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'x', '-f', f]);
    return readFileSync(`${f}.pub`, 'utf8');
  };

  it('each key with the forced command of its own directory, in order', async () => {
    const { script, file, p } = await authorize();
    const pubs = [keygen(0), keygen(1), keygen(2)];
    const r = bash(script, pubs.join(''));
    expect([r.status, r.stderr]).toEqual([0, '']);
    const lines = readFileSync(file, 'utf8').trim().split('\n');
    expect(lines.length).toBe(3);
    lines.forEach((l, i) => {
      const k = p.copyAccess!.keys[i]!;
      expect(l).toBe(`restrict,command="${k.command.replace('/var/lib/migen/', `${dir}/`)}" ${pubs[i]!.split(' ').slice(0, 2).join(' ')} migen-demo-${i}`);
      // and the daemon configuration that command reads, byte for byte
      expect(readFileSync(k.config!.file.replace('/var/lib/migen/', `${dir}/`), 'utf8')).toBe(k.config!.text);
    });
  });

  it.each([
    ['a key with shell text in it', 'ssh-ed25519 AAAAC3Nza;touch${IFS}/tmp/pwned x\n'],
    ['another key type', 'ssh-rsa AAAAB3NzaC1yc2E x\n'],
    ['options smuggled before the key', 'command="/bin/sh" ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAA x\n'],
    ['too few keys', 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAA x\n'],
  ])('refuses %s and writes nothing', async (_, input) => {
    const { script, file } = await authorize();
    spawnSync('rm', ['-f', file]);
    const r = bash(script, input);
    expect(r.status).not.toBe(0);
    expect(existsSync(file)).toBe(false);
  });
});
