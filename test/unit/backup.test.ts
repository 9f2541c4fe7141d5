// The pre-migration backup (plan/backup.ts): from consistent copies, with the password the
// inventory knows, and a restore the plan prints. Table-driven: [name, { given, want }].
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Step } from '../../src/runbook/steps.js';
import type { MigrationPlan, ResticBackupPlan } from '../../src/generator/plan/types.js';
import type { Inventory } from '../../src/generator/types.js';
import { changed, planOf } from '../helpers/plan.js';
import { fleet } from '../fixtures/inventory.js';

const vw = 'service: vaultwarden\nfrom: o001\nto: h002\nstrategy: warm';
const fj = 'service: forgejo\nfrom: h001\nto: h002\nstrategy: warm';
const DB = '/var/lib/vaultwarden/db.sqlite3';
const withJob = (repository: string | null, passwordFile: string | null): Inventory => changed((i) => { i.hosts.o001!.backups.restic = { vault: { repository, paths: ['/var/lib/vaultwarden'], passwordFile } }; });

type Want = Partial<Pick<ResticBackupPlan, 'repository' | 'passwordFile' | 'exclude' | 'sqlite' | 'pgDump'>> & { kind: MigrationPlan['backup']['kind']; passwordFrom?: RegExp };
const CASES: [string, { given: string; inv?: Inventory; want: Want }][] = [
  ['the manifest\'s password file', { given: `${vw}\nbackup: { restic: { repository: /backup/o001, passwordFile: /run/agenix/restic } }`, inv: withJob('/backup/o001', '/etc/other'),
    want: { kind: 'restic', passwordFile: '/run/agenix/restic', passwordFrom: /^the manifest/ } }],
  ['none in the manifest: the host\'s job on that repository', { given: `${vw}\nbackup: { restic: { repository: /backup/o001 } }`, inv: withJob('/backup/o001', '/etc/nixos/restic-password'),
    want: { kind: 'restic', passwordFile: '/etc/nixos/restic-password', passwordFrom: /^services\.restic\.backups\.vault\.passwordFile on o001$/ } }],
  ['a job on another repository does not lend its password', { given: `${vw}\nbackup: { restic: { repository: /backup/o001 } }`, inv: withJob('/backup/elsewhere', '/etc/nixos/restic-password'),
    want: { kind: 'restic', passwordFile: null, passwordFrom: /^RESTIC_PASSWORD_FILE or RESTIC_PASSWORD in root's environment on o001/ } }],
  ['SQLite: the live file, its -wal, -shm and -journal skipped, a VACUUM INTO copy backed up', { given: `${vw}\nbackup: { restic: { repository: /backup/o001 } }`,
    want: { kind: 'restic', sqlite: [{ database: DB, snapshot: `/var/lib/migen/backup/demo${DB}` }], exclude: [DB, `${DB}-wal`, `${DB}-shm`, `${DB}-journal`], pgDump: null } }],
  ['a PostgreSQL data directory in a container: pg_dumpall there, at its port, the directory skipped', { given: `${fj}\nbackup: { restic: { repository: /backup/h001 } }`,
    inv: changed((i) => { (i.hosts.h001!.containers.forgejo!.postgresql as { port: number }).port = 5433; }),
    want: { kind: 'restic', passwordFile: '/etc/nixos/restic-password', sqlite: [], exclude: ['/var/lib/forgejo/postgres'], pgDump: { file: '/var/lib/migen/backup/demo/pg_dumpall.sql', dataDirs: ['/var/lib/forgejo/postgres'], container: 'forgejo', port: 5433 } } }],
  ['hot: the live data directory is no consistent copy either: pg_dumpall, the directory skipped', { given: 'service: zitadel\nfrom: h001\nto: h002\nstrategy: hot\ndatabase: { engine: postgresql, databases: [zitadel] }\nbackup: { restic: { repository: /backup/h001 } }',
    want: { kind: 'restic', sqlite: [], exclude: ['/var/lib/zitadel/postgres'], pgDump: { file: '/var/lib/migen/backup/demo/pg_dumpall.sql', dataDirs: ['/var/lib/zitadel/postgres'], container: 'zitadel', port: 5432 } } }],
  ['no backup in the manifest: the host\'s job covering the state, to its local repository, from copies', { given: fj,
    want: { kind: 'restic', repository: '/backup/h001', passwordFile: '/etc/nixos/restic-password', exclude: ['/var/lib/forgejo/postgres'] } }],
  ['a job whose repository migen cannot reach runs as it is', { given: vw, inv: withJob('s3:s3.example.org/bucket', '/etc/nixos/restic-password'), want: { kind: 'job' } }],
  ['backup: none', { given: `${vw}\nbackup: { none: true }`, want: { kind: 'none' } }],
];

describe('the backup', () => {
  it.each(CASES)('%s', async (_, { given, inv, want }) => {
    const p = await planOf(given, inv ?? fleet());
    const b = p.backup;
    expect(b.kind).toBe(want.kind);
    if (b.kind !== 'restic') return;
    const { passwordFrom, kind: _k, ...fields } = want;
    expect(b).toMatchObject(fields);
    if (passwordFrom) expect(b.passwordFrom).toMatch(passwordFrom);
    const step = p.steps.find((s) => s.id === 'backup')!;
    const script = 'run' in step && 'on' in step.run ? step.run.script : '';
    const lines = script.split('\n');
    // restic's line: its output kept for the exit-3 check below (`rc=0; out=$(restic ... 2>&1) || rc=$?`)
    const restic = lines.findIndex((l) => l.startsWith('rc=0; out=$(restic '));
    const resticLine = /^rc=0; out=\$\((restic .*) 2>&1\) \|\| rc=\$\?$/.exec(lines[restic] ?? '')?.[1] ?? '';
    // the copies come first and are checked; restic reads them, not the live files; they are removed after
    for (const s of b.sqlite) {
      const v = lines.findIndex((l) => l.startsWith(`VACUUM INTO '${s.snapshot}'`));
      expect(v).toBeGreaterThan(0);
      expect(v).toBeLessThan(restic);
      expect(lines.findIndex((l) => l.includes(`sqlite3 -readonly ${s.snapshot} 'PRAGMA integrity_check;'`))).toBeLessThan(restic);
    }
    // pg_dumpall asks the server at its own port (the fixture's Forgejo container has 5433; the default would find no socket)
    if (b.pgDump) expect(lines.findIndex((l) => l.includes(`pg_dumpall -p ${b.pgDump!.port} >`))).toBeLessThan(restic);
    if (b.pgDump) expect(b.restore.some((r) => r.includes(`psql -X -q -v ON_ERROR_STOP=1 -p ${b.pgDump!.port} -f `))).toBe(true);
    for (const e of b.exclude) expect(resticLine).toContain(` --exclude ${e} `);
    expect(resticLine).toContain(` --tag ${b.tag} --tag migen-demo `);
    expect(resticLine.endsWith(` ${b.snapshotDir}`)).toBe(true);
    expect(lines.at(-1)).toBe(`rm -rf ${b.snapshotDir}`);
    expect(b.passwordFile === null || resticLine.startsWith(`restic -r ${b.repository} --password-file ${b.passwordFile} backup `)).toBe(true);
    // the restore, printed in the plan
    expect(b.restore[0]).toBe(`restic -r ${b.repository}${b.passwordFile ? ` --password-file ${b.passwordFile}` : ''} restore latest --tag migen-demo --target /var/tmp/migen-restore-demo`);
    for (const s of b.sqlite) expect(b.restore).toContain(`cp -p /var/tmp/migen-restore-demo${s.snapshot} /var/tmp/migen-restore-demo${s.database}`);
  });
});

describe('the plan says which backup restores, and how', () => {
  it('the example\'s vaultwarden plan prints the restore commands', async () => {
    const { readFileSync } = await import('node:fs');
    const md = readFileSync(new URL('../../generated/plans/vaultwarden.md', import.meta.url), 'utf8');
    const section = md.slice(md.indexOf('## Backup'), md.indexOf('## Steps'));
    expect(section).toMatch(/\/var\/lib\/vaultwarden\/db\.sqlite3 as a consistent copy \(VACUUM INTO, then integrity_check\)/);
    expect(section).toContain('```sh\n# on o001\nrestic -r /backup/o001 restore latest --tag migen-vaultwarden --target /var/tmp/migen-restore-vaultwarden\ncp -p /var/tmp/migen-restore-vaultwarden/var/lib/migen/backup/vaultwarden/var/lib/vaultwarden/db.sqlite3 /var/tmp/migen-restore-vaultwarden/var/lib/vaultwarden/db.sqlite3\n```');
  });
});

describe('restic reading the running service (real bash, a stub restic)', () => {
  // The backup step's own script, its restic replaced by a stub that prints what restic prints and
  // exits as it does: 3 when it could not read some source data (restic's "Exit codes").
  const script = async (): Promise<string> => {
    const p = await planOf(`${fj}\nbackup: { restic: { repository: /backup/h001 } }`, fleet());
    const st = p.steps.find((s) => s.id === 'backup') as Extract<Step, { kind: 'command' }>;
    const text = 'on' in st.run ? st.run.script : '';
    return text.slice(text.indexOf('rc=0; out=$('), text.lastIndexOf('\nrm -rf'));
  };
  const run = async (out: string, code: number) => {
    const dir = mkdtempSync(path.join(tmpdir(), 'migen-restic-'));
    writeFileSync(path.join(dir, 'restic'), `#!/bin/sh\ncat >&2 <<'OUT'\n${out}\nOUT\nexit ${code}\n`);
    chmodSync(path.join(dir, 'restic'), 0o755);
    return spawnSync('/bin/bash', ['-c', `set -euo pipefail\n${await script()}\necho after`], { encoding: 'utf8', env: { PATH: `${dir}:/usr/bin:/bin` } });
  };
  const vanished = 'error: Readdirnames /var/lib/forgejo/data/x/objects/tmp_objdir-incoming-FyKWuk failed: readdirent /var/lib/forgejo/data/x/objects/tmp_objdir-incoming-FyKWuk: no such file or directory\nerror: NodeFromFileInfo: xattr.list /var/lib/forgejo/data/x/refs/heads/main.lock: no such file or directory\nWarning: at least one source file could not be read';
  it.each([
    ['files that vanished while it read (a push\'s temporary objects and lock): passes, says so', vanished, 3, 0],
    ['a file it could not open: fails with restic\'s exit 3', `${vanished}\nerror: open /var/lib/forgejo/data/x/config: permission denied`, 3, 3],
    ['exit 3 without a single error line: fails', 'Warning: at least one source file could not be read', 3, 3],
    ['any other failure keeps its code', 'Fatal: unable to open repository', 1, 1],
    ['a clean backup passes', 'snapshot 1234abcd saved', 0, 0],
  ])('%s', async (_, out, code, want) => {
    const r = await run(out, code);
    expect(r.status, r.stdout + r.stderr).toBe(want);
    expect(r.stdout).toContain(out.split('\n')[0]!);
    expect(r.stdout.includes('files vanished while it read the running service')).toBe(want === 0 && code === 3);
    expect(r.stdout.includes('after')).toBe(want === 0);
  });
});
