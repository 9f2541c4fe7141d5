/**
 * The copy's least privilege, with real sshd and rsync: the committed warm runbook's steps
 * (generated/runbooks/migrate-vaultwarden.mjs) make h002's migration key, write its restricted
 * line on o001 and prove it; o001 is deployed with its generated module's part (packages.ts: its
 * sshd reads the copy-access file, rsync in its system profile). The key then runs rsync's daemon
 * mode (rsync 3.5.0 here), one read-only module of /var/lib/vaultwarden: no shell, no pty, no
 * forwarding, no writes, nothing outside, no link followed out of it.
 * The runbook's live passes, final pass and dry-run compare work through it.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { APP_PY, checks, createLab, findLeftovers, type Lab } from './index.js';
import { mustRun, runScript, runbookSteps, scriptOf, stepOf } from './steps.js';
import { deployGenerated } from './packages.js';
import type { Step } from '../../src/runbook/steps.js';

const STATE = '/var/lib/vaultwarden';
const KEY = '/var/lib/migen/copy-keys/vaultwarden/0';
const FILE = '/var/lib/migen/copy-access/vaultwarden/root';
let lab: Lab;
let steps: Step[];
let ssh: string; // the key's ssh command, as rsync's -e has it

const on = (host: string, script: string) => lab.exec(host, script);
const must = async (host: string, script: string): Promise<string> => {
  const r = await on(host, script);
  if (r.code !== 0) throw new Error(`${host}: ${script}: ${r.code} ${r.stderr}`);
  return r.stdout;
};
const write = (n: number) => must('o001', `for i in $(seq 1 ${n}); do curl -fsS -o /dev/null -X POST --data "row $i" "http://127.0.0.1:8222/items$([ $((i % 3)) -eq 0 ] && echo ?attach=1)"; done`);

beforeAll(async () => {
  lab = await createLab({ hosts: [{ name: 'o001', address: '100.64.0.1' }, { name: 'h002', address: '100.64.0.20' }] });
  steps = await runbookSteps('vaultwarden');
  const pass = stepOf(steps, 'final-pass');
  ssh = /-e '([^']+)'/.exec('on' in pass.run ? pass.run.script : '')![1]!;
  await lab.defineUnit('o001', 'vaultwarden', { exec: ['/usr/bin/python3', APP_PY], env: { STATE_DIR: STATE, LISTEN: '127.0.0.1:8222' }, ready: { http: 'http://127.0.0.1:8222/alive' } });
  await must('o001', 'systemctl start vaultwarden');
  await write(30);
  // what must never leave o001 through the key: a file beside the state, and one the state links to
  await must('o001', `install -d -m 0700 /var/lib/secret && echo top-secret-token > /var/lib/secret/token && ln -s /var/lib/secret/token ${STATE}/leak`);
  await deployGenerated(lab, 'h002');
}, 120_000);
afterAll(async () => { await lab?.teardown(); });

describe('the migration key (warm vaultwarden o001 -> h002)', () => {
  test('is made and authorized at prepare; until o001 reads its file, the proof fails and nothing falls back to another key', async () => {
    await mustRun(lab, stepOf(steps, 'copy-keys'));
    await mustRun(lab, stepOf(steps, 'copy-access'));
    expect((await must('h002', `stat -c '%a %U' ${KEY}`)).trim()).toBe('600 root');
    const line = (await must('o001', `cat ${FILE}`)).trim();
    expect(line).toMatch(/^restrict,command="\/run\/current-system\/sw\/bin\/rsync --server --daemon --config=\/var\/lib\/migen\/copy-access\/vaultwarden\/0\.conf \." ssh-ed25519 [A-Za-z0-9+/]+=* migen-vaultwarden-0$/);
    expect(await must('o001', 'cat /var/lib/migen/copy-access/vaultwarden/0.conf')).toContain('[state]\npath = /var/lib/vaultwarden\nread only = yes\n');
    expect(/" (ssh-ed25519 \S+) /.exec(line)![1]).toBe((await must('h002', `cut -d' ' -f1,2 ${KEY}.pub`)).trim());
    // o001 deployed without the generated module: its sshd does not read the file
    const proof = await runScript(lab, scriptOf(stepOf(steps, 'copy-access-works')));
    expect(proof.code).not.toBe(0);
    expect(proof.stderr).toContain("copy key 0 cannot read /var/lib/vaultwarden on o001 through rsync's daemon");
    // h002's own root key (authorized on o001 in the lab) is never tried: -F /dev/null, -i, IdentitiesOnly
    const pass = await runScript(lab, scriptOf(stepOf(steps, 'sync-live')));
    expect(pass.code).not.toBe(0);
    expect(pass.stderr).toMatch(/Permission denied \(publickey\)/);
    expect(await on('h002', `test -e ${STATE}/db.sqlite3`)).toMatchObject({ code: 1 });

    const deployed = await deployGenerated(lab, 'o001');
    expect(deployed.files).toEqual(['/var/lib/migen/copy-access/vaultwarden/%u']);
    expect(deployed.programs).toEqual(expect.arrayContaining(['restic', 'rsync', 'sqlite3']));
    expect(deployed.programs).not.toContain('rrsync');
    await mustRun(lab, stepOf(steps, 'copy-access-works'));
  }, 60_000);

  test('runs no shell, no command, no pty, no forwarding', async () => {
    const k = (args: string) => on('h002', `${ssh} ${args}`);
    // whatever the client asks for, the forced command runs: rsync's daemon greets and, given no request, ends
    const cat = await k(`root@100.64.0.1 'cat /etc/shadow; id' </dev/null`);
    expect(cat.code).not.toBe(0);
    expect(cat.stdout).toMatch(/^@RSYNCD: \d+\.\d+/);
    expect(cat.stdout).not.toMatch(/root:|uid=/);
    const login = await k('-tt root@100.64.0.1 </dev/null');
    expect(login.code).not.toBe(0);
    expect(login.stdout + login.stderr).toMatch(/PTY allocation request failed/);
    expect(login.stdout + login.stderr).not.toMatch(/root@o001|# $/m);
    const fwd = await k('-o ControlMaster=no -o ControlPath=none -W 100.64.0.1:22 root@100.64.0.1 </dev/null');
    expect(fwd.code).not.toBe(0);
    expect(fwd.stderr).toMatch(/Stdio forwarding request failed: Session open refused by peer/);
    // the same request with h002's own root key is served: the refusal is the key's `restrict`
    const root = await on('h002', 'timeout 10 ssh -o ControlMaster=no -o ControlPath=none -W 100.64.0.1:22 root@100.64.0.1 </dev/null | head -n 1');
    expect(root.stdout).toMatch(/^SSH-2\.0-OpenSSH/);
    const fake = await k(`root@100.64.0.1 'rsync --server -e.LsfxCIvu . /etc/' </dev/null`); // a receiving rsync, asked for by hand: the daemon answers instead
    expect(fake.code).not.toBe(0);
    expect(fake.stdout).toMatch(/^@RSYNCD: /);
  });

  test('cannot write, delete or read outside the state directory', async () => {
    const r = (args: string) => on('h002', `mkdir -p /tmp/probe && rsync -e '${ssh}' ${args}`);
    const before = await checks.treeDigest(lab, 'o001', STATE);
    await must('h002', 'echo planted > /tmp/planted');
    expect((await r('/tmp/planted root@100.64.0.1::state/planted')).stderr).toContain('module is read only');
    expect((await r('/tmp/planted root@100.64.0.1:./planted')).code).not.toBe(0); // rsync without the daemon protocol: nothing to talk to
    const remove = await r('-a --remove-source-files root@100.64.0.1::state/ /tmp/probe/');
    expect(remove.code).not.toBe(0);
    expect(remove.stderr).toContain('The server is configured to refuse --remove-source-files');
    // a link to the secret's directory too (rrsync guarded this with --confine-root; the daemon opens each part of a path without following a link)
    await must('o001', `ln -s /var/lib/secret ${STATE}/dirlink`);
    for (const path of ['../secret/token', '/var/lib/secret/token', '/etc/shadow', './leak/..', 'leak/', 'leak/token', 'dirlink/', 'dirlink/token', 'dirlink/../secret/token']) {
      for (const far of [`::state/${path}`, `:${path}`]) {
        const got = await r(`-a root@100.64.0.1${far} /tmp/probe/x/`);
        expect(got.code, far).not.toBe(0);
      }
    }
    expect((await must('h002', 'grep -rl top-secret-token /tmp/probe || true')).trim()).toBe('');
    await must('o001', `rm ${STATE}/dirlink`);
    for (const follow of ['-L', '--copy-links', '--copy-unsafe-links', '-k']) {
      const got = await r(`-a ${follow} root@100.64.0.1::state/ /tmp/probe/`);
      expect(got.code, follow).not.toBe(0);
      expect(got.stderr, follow).toMatch(/The server is configured to refuse/);
    }
    // a plain pull brings the symlink as a symlink, never the file it names
    const ok = await r('-a root@100.64.0.1::state/ /tmp/probe/');
    expect(ok.code, ok.stderr).toBe(0);
    expect((await must('h002', 'readlink /tmp/probe/leak; grep -rl top-secret-token /tmp/probe || true')).trim()).toBe('/var/lib/secret/token');
    expect(await checks.treeDigest(lab, 'o001', STATE)).toEqual(before);
    expect(await on('o001', `test -e ${STATE}/planted`)).toMatchObject({ code: 1 });
  });

  test('the live passes, the final pass and the dry-run compare work through it', async () => {
    const live = stepOf(steps, 'sync-live');
    await mustRun(lab, live, 'run');
    await write(10); // the service keeps writing between passes
    await mustRun(lab, live, 'run');
    expect(Number((await mustRun(lab, live, 'measure')).stdout.trim())).toBeGreaterThanOrEqual(0);
    await must('o001', 'systemctl stop vaultwarden');
    await mustRun(lab, stepOf(steps, 'final-pass'));
    const compare = stepOf(steps, 'copy-identical');
    await mustRun(lab, compare);
    expect(await checks.treeDigest(lab, 'h002', STATE)).toEqual(await checks.treeDigest(lab, 'o001', STATE));
    expect(await checks.sqliteIntegrity(lab, 'h002', `${STATE}/db.sqlite3`)).toBe('ok');
    // a difference after the final pass is listed through the key, and fails the check
    await must('o001', `echo changed >> ${STATE}/rsa_key.pem`);
    const differs = await runScript(lab, scriptOf(compare));
    expect(differs.code).toBe(1);
    expect(differs.stdout).toMatch(/^>f.+ rsa_key\.pem$/m);
    await mustRun(lab, stepOf(steps, 'final-pass'));
    await mustRun(lab, compare);
  }, 60_000);

  test('after the verification o001 no longer accepts it and h002 no longer has it', async () => {
    await must('h002', `install -m 0600 ${KEY} /tmp/saved-key`); // as a thief of the key would
    await mustRun(lab, stepOf(steps, 'copy-access-closed'));
    await mustRun(lab, stepOf(steps, 'copy-keys-removed'));
    expect(await on('o001', `test -e ${FILE}`)).toMatchObject({ code: 1 });
    expect(await on('h002', 'test -e /var/lib/migen/copy-keys/vaultwarden')).toMatchObject({ code: 1 });
    // the key itself no longer opens anything on o001, its master connection closed too
    const r = await on('h002', `rsync --list-only -e '${ssh.replace(KEY, '/tmp/saved-key')}' root@100.64.0.1::state/`);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/Permission denied \(publickey\)/);
  });

  test('teardown leaves nothing behind', async () => {
    await lab.teardown();
    expect(await findLeftovers(lab.id)).toEqual([]);
  });
});
