/**
 * e2e of issue [13], the whole generated hot runbook (generated/runbooks/migrate-zitadel.mjs) run
 * by `migen run` in the lab of test/lab/pg/zitadel.ts (two real PostgreSQL 15 servers, the
 * application stand-in behind o001's nginx):
 * - the write-unavailable window, as a client writing through the proxy sees it, with a 100 MiB
 *   and a 1 GiB database: under 2 s both (within 20% of each other: test/lab/pg-window.test.ts,
 *   which has both windows at the same moment);
 * - a rollback after the new application took writes keeps them in the renamed database on h002;
 * - killed after the subscription was created, h002 then unreachable, --rollback: no slot,
 *   publication or role left on h001 (and the rest once h002 is back);
 * - every hot step of the operator's part killed while it runs, then --resume: it runs again and
 *   the migration completes (the window's steps run on the coordinator, which never repeats a
 *   step: a restarted coordinator rolls back; test/lab/pg-steps.test.ts repeats each of them);
 * - the marker password in neither server's log with every statement logged;
 * - a large object, and a column added on h001 during replication, refused with a clear message,
 *   nothing frozen.
 * The window runs on the fleet (the coordinator started with systemd-run on h002, the lab's
 * stand-in for it: test/lab/README.md).
 */
import fs from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, test } from 'vitest';
import { startWriter, useLab, type Lab, type Writer } from '../lab/index.js';
import { fillDatabase } from '../lab/pg/data.js';
import { DOMAIN, filesContaining, longestGap, makeZitadelRoot, must, PGDATA, replicationObjects, runZitadel, setupZitadel, sql, zitadelLabOptions, type SetupOptions, type ZitadelSetup } from '../lab/pg/zitadel.js';
import { TARGETS_NOTE, WINDOW_MAX_MS } from '../lab/pg/targets.js';
import { crashOperator, readJournal, readReport, sleep, whenJournal, type MigenRun } from './helpers.js';

const ROLE = 'migen_repl_zitadel';

function scenario(opts: SetupOptions & { mib?: number; logAll?: boolean } = {}): { readonly lab: Lab; readonly root: string; readonly setup: ZitadelSetup } {
  const ctx = useLab(zitadelLabOptions());
  let root = '';
  let setup: ZitadelSetup | undefined;
  beforeAll(async () => {
    setup = await setupZitadel(ctx.lab, opts);
    if (opts.mib) await fillDatabase(ctx.lab, opts.mib);
    if (opts.logAll) for (const h of ['h001', 'h002']) await logEverything(ctx.lab, h);
    root = makeZitadelRoot(ctx.lab);
  }, 300_000);
  return { get lab() { return ctx.lab; }, get root() { return root; }, get setup() { return setup!; } };
}

async function logEverything(lab: Lab, host: string): Promise<void> {
  fs.appendFileSync(lab.hostFile(host, `${PGDATA}/postgresql.conf`), ["log_statement = 'all'", 'log_min_duration_statement = 0', "log_min_error_statement = 'debug5'", "shared_preload_libraries = 'auto_explain'", 'auto_explain.log_min_duration = 0', ''].join('\n'));
  if ((await lab.exec(host, 'systemctl is-active -q postgresql')).code === 0) await must(lab, host, 'systemctl restart postgresql');
}

const writerOn = (lab: Lab): Writer => startWriter(lab, { address: '100.64.0.1', host: DOMAIN, intervalMs: 20, maxMs: 600_000, timeoutMs: 3000 });

/** What h001 keeps of the migration: slots, publications, the replication role. */
async function onOld(lab: Lab): Promise<{ slots: string; publications: string; role: string }> {
  return {
    slots: await sql(lab, 'h001', 'postgres', "SELECT coalesce(string_agg(slot_name, ','), '') FROM pg_replication_slots;"),
    publications: await sql(lab, 'h001', 'zitadel', "SELECT coalesce(string_agg(pubname, ','), '') FROM pg_publication;"),
    role: await sql(lab, 'h001', 'postgres', `SELECT count(*) FROM pg_roles WHERE rolname = '${ROLE}';`),
  };
}

const windows: Record<number, number> = {};

describe('[13] the write freeze does not grow with the data', () => {
  for (const mib of [100, 1024]) {
    describe(`${mib} MiB`, () => {
      const s = scenario({ mib });
      test('the migration completes; the client\'s longest write gap around the window', async () => {
        const { lab, root } = s;
        const writer = writerOn(lab);
        await sleep(500);
        const r = await runZitadel(lab, root).done;
        await sleep(1000);
        const acked = await writer.stop();
        expect(r.code, r.stdout + r.stderr).toBe(0);
        const report = readReport(root, 'zitadel');
        const gap = longestGap(acked, Date.parse(report.window.startedAt!) - 500, Date.parse(report.window.endedAt!));
        windows[mib] = gap.ms;
        expect(report.steps.find((x) => x.id === 'pg-compare-zitadel')?.status).toBe('done');
        console.log(`e2e [13] ${mib} MiB: write-unavailable window (client) ${gap.ms} ms; report window ${report.window.ms} ms; comparison after the start ${report.steps.find((x) => x.id === 'pg-compare-zitadel')?.ms} ms; run ${(r.ms / 1000).toFixed(1)} s; steps ${report.steps.filter((x) => x.ms > 150).map((x) => `${x.id} ${x.ms}`).join(', ')}`);
      }, 900_000);
    });
  }
  // The two runs here are one after the other (each ~20-40 s), so what else loads this machine in
  // between counts as a difference (955 vs 1164 ms, 22%, in a loaded CI rehearsal; 1413 vs 648 ms
  // when run at once, the small run's window falling into the big one's pg_dumpall). Their ratio
  // says nothing about the product; test/lab/pg-window.test.ts compares the two sizes with the
  // windows at the same moment, the client writing through the proxy, and asserts the 20%.
  test(`both under ${WINDOW_MAX_MS / 1000} s (${TARGETS_NOTE})`, () => {
    const [a, b] = [windows[100]!, windows[1024]!];
    expect(a).toBeLessThan(WINDOW_MAX_MS);
    expect(b).toBeLessThan(WINDOW_MAX_MS);
  });
});

describe('[13] a rollback after h002 took writes keeps them', () => {
  const s = scenario({ h002AppEnv: { HEALTHZ_FAIL_HOST: DOMAIN } });
  test('the verification fails after the start: exit 3, h002\'s writes are in zitadel_rolled_back_* on h002, h001 serves again', async () => {
    const { lab, root } = s;
    const writer = writerOn(lab);
    await sleep(300);
    const r = await runZitadel(lab, root).done;
    await sleep(1000);
    const acked = await writer.stop();
    expect(r.code, r.stdout + r.stderr).toBe(3);
    expect(readReport(root, 'zitadel').steps.find((x) => x.status === 'failed')?.id).toBe('verify-1');
    const kept = await sql(lab, 'h002', 'postgres', "SELECT string_agg(datname, ',') FROM pg_database WHERE datname LIKE 'zitadel%';");
    expect(kept).toMatch(/^zitadel_rolled_back_\d{8}_\d{6}$/);
    // every acknowledged write (its body names it: w<seq>-...) is on h001 or, made while h002 served, in the kept database
    const seqs = async (host: string, db: string): Promise<Set<string>> => new Set((await sql(lab, host, db, "SELECT split_part(body, '-', 1) FROM items WHERE body LIKE 'w%';")).split('\n'));
    const [old, keptRows] = [await seqs('h001', 'zitadel'), await seqs('h002', kept)];
    expect(acked.filter((a) => !old.has(`w${a.seq}`) && !keptRows.has(`w${a.seq}`)).map((a) => a.seq)).toEqual([]);
    expect(acked.filter((a) => !old.has(`w${a.seq}`)).length).toBeGreaterThan(5);
    expect(r.stdout).toContain(`they are kept in the database ${kept} on h002`);
    expect(await onOld(lab)).toEqual({ slots: '', publications: '', role: '0' });
    expect(await sql(lab, 'h001', 'zitadel', 'SHOW default_transaction_read_only;')).toBe('off');
  }, 300_000);
});

describe('[13] killed after the subscription, h002 then unreachable, --rollback', () => {
  const s = scenario({ mib: 300 });
  test('nothing of the migration left on h001; the rest once h002 is back', async () => {
    const { lab, root } = s;
    const run = runZitadel(lab, root);
    await whenJournal(root, 'zitadel', run, (j) => j.steps['pg-subscription-zitadel']?.status === 'done', 600_000);
    await crashOperator(lab, run);
    await lab.setLink('h002', false);
    const rb = await runZitadel(lab, root, { extra: ['--rollback'] }).done;
    expect(rb.code, rb.stdout + rb.stderr).toBe(4); // h002's part could not be undone
    expect(await onOld(lab)).toEqual({ slots: '', publications: '', role: '0' });
    await lab.setLink('h002', true);
    const again = await runZitadel(lab, root, { extra: ['--rollback'] }).done;
    expect(again.code, again.stdout + again.stderr).toBe(3);
    expect(await replicationObjects(lab)).toEqual({ publications: '', slots: '', subscriptions: '', readOnly: 'off' });
    expect(await sql(lab, 'h002', 'postgres', "SELECT count(*) FROM pg_database WHERE datname LIKE 'zitadel%';")).toBe('0');
  }, 900_000);
});

const OPERATOR_HOT = ['pg-identity-zitadel', 'pg-large-objects-zitadel', 'pg-dumpall', 'pg-wal-level', 'pg-headroom-old', 'pg-start-new', 'pg-headroom-new', 'pg-extensions-zitadel', 'pg-roles',
  'pg-database-zitadel', 'pg-schema-zitadel', 'pg-role-zitadel', 'pg-connect-zitadel', 'pg-publication-zitadel', 'pg-subscription-zitadel', 'pg-ready-zitadel', 'pg-checkpoint-old', 'pg-checkpoint-new', 'pg-lag-zitadel', 'pg-cleanup-zitadel'];

describe('[13] every hot step killed while it runs, then --resume', () => {
  const s = scenario({ mib: 50 });
  test('each one runs again and the migration completes', async () => {
    const { lab, root } = s;
    const writer = writerOn(lab);
    let run: MigenRun = runZitadel(lab, root);
    const repeated: string[] = [];
    for (const id of OPERATOR_HOT) {
      await whenJournal(root, 'zitadel', run, (j) => j.steps[id]?.status === 'running', 600_000);
      await crashOperator(lab, run);
      if (readJournal(root, 'zitadel')!.steps[id]?.status === 'running') repeated.push(id);
      run = runZitadel(lab, root, { extra: ['--resume'] });
    }
    const r = await run.done;
    await writer.stop();
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(repeated).toEqual(OPERATOR_HOT);
    expect(readJournal(root, 'zitadel')!.steps['pg-compare-zitadel']?.status).toBe('done');
    expect(await replicationObjects(lab)).toEqual({ publications: '', slots: '', subscriptions: '', readOnly: 'on' });
    expect((await onOld(lab)).role).toBe('0');
  }, 900_000);
});

describe('[13] the marker password with every statement logged', () => {
  const s = scenario({ logAll: true });
  test('in neither server\'s log', async () => {
    const { lab, root, setup } = s;
    const r = await runZitadel(lab, root).done;
    expect(r.code, r.stdout + r.stderr).toBe(0);
    for (const h of ['h001', 'h002']) {
      const log = await must(lab, h, 'cat /var/log/lab-units/postgresql.log');
      expect(log, h).toMatch(/LOG: {2}statement: /);
      expect(filesContaining(path.join(lab.hostDir(h), 'var-log'), setup.marker), h).toEqual([]);
    }
  }, 300_000);
});

describe('[13] refused before anything is frozen', () => {
  describe('a large object', () => {
    const s = scenario();
    test('exit 1 at pg-large-objects, with the fix; nothing created, the app never stopped', async () => {
      const { lab, root } = s;
      await sql(lab, 'h001', 'zitadel', "SELECT lo_from_bytea(0, 'blob');");
      const r = await runZitadel(lab, root).done;
      expect(r.code, r.stdout + r.stderr).toBe(1);
      expect(r.stderr).toMatch(/zitadel on h001 holds large objects, which logical replication does not copy: store them in bytea columns/);
      expect(readReport(root, 'zitadel').steps.at(-1)).toMatchObject({ id: 'pg-large-objects-zitadel', status: 'failed' });
      expect(await onOld(lab)).toEqual({ slots: '', publications: '', role: '0' });
      expect((await lab.exec('h001', 'systemctl is-active -q zitadel')).code).toBe(0);
    }, 120_000);
  });
  describe('a column added on h001 during replication', () => {
    const s = scenario({ mib: 100 });
    test('exit 1 in sync naming the change; everything the run created undone; h001 never frozen', async () => {
      const { lab, root } = s;
      const writer = writerOn(lab);
      const run = runZitadel(lab, root);
      await whenJournal(root, 'zitadel', run, (j) => j.steps['pg-subscription-zitadel']?.status === 'done', 600_000);
      await must(lab, 'h001', 'psql -X -q -v ON_ERROR_STOP=1 -h /run/postgresql -U zitadel -d zitadel', 'ALTER TABLE items ADD COLUMN note text;');
      const r = await run.done;
      const acked = await writer.stop();
      expect(r.code, r.stdout + r.stderr).toBe(1);
      expect(r.stderr).toContain('the schema of zitadel on h001 changed since prepare copied it to h002 (DDL during the migration; logical replication does not carry it)');
      expect(r.stderr).toMatch(/now: relation public\.items r \(.*, note text\)/);
      const report = readReport(root, 'zitadel');
      expect(['pg-ready-zitadel', 'pg-lag-zitadel']).toContain(report.steps.find((x) => x.status === 'failed')?.id);
      expect(report.steps.some((x) => x.id === 'stop-old')).toBe(false);
      expect(await onOld(lab)).toEqual({ slots: '', publications: '', role: '0' });
      expect(longestGap(acked).ms).toBeLessThan(1500);
    }, 900_000);
  });
});
