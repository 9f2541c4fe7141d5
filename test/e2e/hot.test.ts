/**
 * e2e: the generated hot runbook generated/runbooks/migrate-zitadel.mjs moves Zitadel's PostgreSQL
 * database from h001 to h002 by logical replication, in a lab with two real PostgreSQL 15 servers
 * configured from the generated NixOS modules (test/lab/pg/zitadel.ts), an application stand-in
 * (test/lab/pg/app.mjs) behind o001's nginx, and a writer posting through the proxy all the time.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { findLeftovers, startProber, startWriter, useLab, type Lab, type Writer } from '../lab/index.js';
import { readReport, REPO, sleep, whenJournal } from './helpers.js';
import {
  DOMAIN, PUB, SUB, filesContaining, longestGap, makeZitadelRoot, must, replicationObjects, runZitadel, setupZitadel, sql, trySql, watchCmdlines,
  zitadelLabOptions, type SetupOptions, type ZitadelSetup,
} from '../lab/pg/zitadel.js';

const labIds: string[] = [];

/** one lab per scenario: o001, h001 (PostgreSQL + app serving), h002 (installed, stopped) */
function scenario(opts: SetupOptions = {}): { readonly lab: Lab; readonly root: string; readonly setup: ZitadelSetup } {
  const ctx = useLab(zitadelLabOptions());
  let root = '';
  let setup: ZitadelSetup | undefined;
  beforeAll(async () => {
    labIds.push(ctx.lab.id);
    setup = await setupZitadel(ctx.lab, opts);
    root = makeZitadelRoot(ctx.lab);
  }, 90_000);
  return { get lab() { return ctx.lab; }, get root() { return root; }, get setup() { return setup!; } };
}

const writerOn = (lab: Lab): Writer => startWriter(lab, { address: '100.64.0.1', host: DOMAIN, intervalMs: 20, maxMs: 240_000, timeoutMs: 3000 });

async function servedBy(lab: Lab): Promise<string> {
  const r = await lab.operator(['curl', '-sS', '--max-time', '3', '-H', `Host: ${DOMAIN}`, 'http://100.64.0.1/healthz']);
  return r.code === 0 ? r.stdout.trim() : `curl exit ${r.code}: ${r.stderr.trim()}`;
}
const appActive = async (lab: Lab): Promise<string[]> => {
  const out: string[] = [];
  for (const h of ['h001', 'h002']) if ((await lab.exec(h, 'systemctl is-active -q zitadel')).code === 0) out.push(h);
  return out;
};
/** the migration's replication role on h001 (pg-role-zitadel creates it, its undo and pg-cleanup drop it) */
const replRoles = (lab: Lab): Promise<string> => sql(lab, 'h001', 'postgres', "SELECT count(*) FROM pg_roles WHERE rolname = 'migen_repl_zitadel';");
/** count and md5 of the rows of a table up to an id, in id order */
const digest = (lab: Lab, host: string, table: string, maxId: number): Promise<string> =>
  sql(lab, host, 'zitadel', `SELECT count(*) || ' ' || coalesce(md5(string_agg(t::text, '|' ORDER BY id)), '-') FROM ${table} t WHERE id <= ${maxId};`);

describe('hot migration (zitadel h001 -> h002, PostgreSQL logical replication) with the generated runbook', () => {
  const s = scenario({ walLevelPending: true });

  test('every acknowledged write is on h002, tables equal, sequences continue, no slot left, the secret nowhere', async () => {
    const { lab, root, setup } = s;
    expect(await servedBy(lab)).toBe('h001');
    expect(await sql(lab, 'h001', 'postgres', 'SHOW wal_level;')).toBe('replica'); // the deployed logical is pending a restart
    const watch = watchCmdlines(setup.marker);
    const writer = writerOn(lab);
    const prober = startProber(lab, { address: '100.64.0.1', host: DOMAIN, intervalMs: 50, maxMs: 240_000 });
    await sleep(800);
    const run = runZitadel(lab, root);
    const r = await run.done;
    await sleep(1500); // writes land on h002
    const acked = await writer.stop();
    const failed = writer.failed;
    const probe = await prober.stop();
    const scan = watch.stop();
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const report = readReport(root, 'zitadel');
    expect(report.result).toBe('done');
    // the pending wal_level was applied by one restart of PostgreSQL on h001
    expect((await must(lab, 'h001', 'grep -c "^-- lab: starting postgresql" /var/log/lab-units/postgresql.log')).trim()).toBe('2');
    expect(await sql(lab, 'h001', 'postgres', 'SHOW wal_level;')).toBe('logical');

    // every acknowledged write is on h002
    const maxOld = Number(await sql(lab, 'h001', 'zitadel', 'SELECT max(id) FROM items;'));
    const maxOldEv = Number(await sql(lab, 'h001', 'zitadel', 'SELECT max(id) FROM events;'));
    const ids = new Set((await sql(lab, 'h002', 'zitadel', 'SELECT id FROM items;')).split('\n').map(Number));
    expect(acked.length).toBeGreaterThan(100);
    expect(acked.filter((a) => !ids.has(a.id)).map((a) => a.id)).toEqual([]);
    // h001 is frozen at the cutover: its tables equal h002's over every row no later write touched
    // (a write updates the item 5 ids back and deletes the event 50 ids back)
    expect(await digest(lab, 'h002', 'items', maxOld - 5)).toBe(await digest(lab, 'h001', 'items', maxOld - 5));
    expect(await digest(lab, 'h002', 'events', maxOldEv - 50)).toBe(await digest(lab, 'h001', 'events', maxOldEv - 50));
    expect(report.steps.find((x) => x.id === 'pg-compare-zitadel')?.status).toBe('done');
    // sequences: the first insert on h002 after the cutover succeeded and continued h001's ids
    const onNew = acked.filter((a) => a.id > maxOld);
    expect(onNew.length).toBeGreaterThan(10);
    const firstNew = onNew[0]!;
    expect(firstNew.id).toBe(maxOld + 1);
    // Nothing sent after the window's end fails: the route switch returned only once no nginx worker of
    // the old configuration accepted connections (inside the window, writes may reach h002 through
    // a new worker while an old one still answers 502 from the stopped h001: that is downtime).
    const windowEnd = Date.parse(report.window.endedAt!);
    expect(failed.filter((f) => f.t - f.ms > windowEnd)).toEqual([]);
    expect(failed.filter((f) => /duplicate key/.test(String(f.err)))).toEqual([]);
    const appLog = await must(lab, 'h002', 'cat /var/log/lab-units/zitadel.log');
    expect(appLog).not.toMatch(/duplicate key/);
    expect(Number(await sql(lab, 'h002', 'zitadel', "SELECT last_value FROM pg_sequences WHERE sequencename = 'items_id_seq';"))).toBeGreaterThan(maxOld);
    // h001 stays read-only (until finalize); h002 takes writes
    expect(await trySql(lab, 'h001', 'zitadel', 'SHOW default_transaction_read_only;')).toEqual({ code: 0, out: 'on' });

    // no replication slot (nor publication, nor subscription) left
    expect(await replicationObjects(lab)).toEqual({ publications: '', slots: '', subscriptions: '', readOnly: 'on' });
    expect(await replRoles(lab)).toBe('0');

    // one app serving, through the proxy, from h002
    expect(await appActive(lab)).toEqual(['h002']);
    expect(await servedBy(lab)).toBe('h002');
    const hosts = probe.samples.filter((x) => x.ok).map((x) => x.host);
    expect(hosts.lastIndexOf('h001')).toBeLessThan(hosts.indexOf('h002'));

    // the backup ran before anything else changed
    const snaps = await lab.exec('h001', 'restic -r /backup/h001 snapshots --json --tag pre-migration');
    expect(snaps.code, snaps.stderr).toBe(0);
    // the state and the consistent copies' directory ([12]): a complete pg_dumpall, none of the running server's files
    expect((JSON.parse(snaps.stdout) as { paths: string[] }[]).map((x) => x.paths)).toEqual([['/var/lib/migen/backup/zitadel', '/var/lib/zitadel/postgres']]);
    const files = (await lab.exec('h001', 'restic -r /backup/h001 ls latest')).stdout.split('\n');
    expect(files).toContain('/var/lib/migen/backup/zitadel/pg_dumpall.sql');
    expect(files.filter((f) => f.startsWith('/var/lib/zitadel/postgres/'))).toEqual([]);
    expect((await lab.exec('h001', 'restic -r /backup/h001 dump latest /var/lib/migen/backup/zitadel/pg_dumpall.sql | tail -n 3')).stdout).toContain('PostgreSQL database cluster dump complete');

    // the replication password: in no command line seen during the run, no output, journal,
    // report, generated file, and not in PostgreSQL's logs
    expect(scan.scans).toBeGreaterThan(50);
    expect(scan.hits).toEqual([]);
    expect(r.stdout + r.stderr).not.toContain(setup.marker);
    expect(filesContaining(path.join(root, '.migen'), setup.marker)).toEqual([]);
    expect(fs.readdirSync(path.join(root, '.migen', 'zitadel')).length).toBeGreaterThanOrEqual(2);
    expect(filesContaining(path.join(REPO, 'generated'), setup.marker)).toEqual([]);
    for (const h of ['h001', 'h002']) expect(filesContaining(path.join(lab.hostDir(h), 'var-log'), setup.marker)).toEqual([]);

    // the write-unavailable window the writer saw around the cutover
    const w0 = Date.parse(report.window.startedAt!);
    const w1 = Date.parse(report.window.endedAt!);
    const gap = longestGap(acked, w0, w1);
    const restartGap = longestGap(acked, -Infinity, w0 - 2000);
    if (process.env.E2E_DEBUG) {
      const t0 = Date.parse(report.startedAt);
      console.log(JSON.stringify({ t0: report.startedAt, w: report.window, gap: { ...gap, from: gap.from - t0, to: gap.to - t0 },
        failed: failed.map((f) => `${f.t - t0} ${f.status ?? ''} ${String(f.err).slice(0, 80)}`).slice(0, 40),
        steps: report.steps.map((x) => `${x.id}:${x.ms}`).join(' ') }, null, 1));
    }
    // the writer's outage lies within the runbook's window (give or take a request's round trip)
    expect(gap.ms).toBeGreaterThan(500);
    expect(gap.ms).toBeLessThan(report.window.ms! + 1000);
    expect(gap.from).toBeGreaterThanOrEqual(w0 - 500);
    console.log(
      `e2e hot zitadel h001 -> h002: runbook ${(r.ms / 1000).toFixed(1)} s; write-unavailable window (writer, longest gap between acknowledged writes around the cutover) ${gap.ms} ms ` +
        `(last id on h001 ${gap.beforeId}, first on h002 ${gap.afterId}); downtime window (report) ${report.window.ms} ms; prober's longest outage ${probe.longestOutageMs} ms; ` +
        `${acked.length} acknowledged writes all on h002 (${onNew.length} made on h002 after the cutover), ${failed.length} refused/timed out; ` +
        `longest gap before the cutover (the wal_level restart) ${restartGap.ms} ms; command lines scanned ${scan.scans} times; ` +
        `steps: ${report.steps.filter((x) => x.ms > 300).map((x) => `${x.id} ${x.ms} ms`).join(', ')}`,
    );
  }, 180_000);
});

describe('hot: a table without a primary key', () => {
  const s = scenario();

  test('is refused before anything is created: no publication, subscription or slot; nothing stopped', async () => {
    const { lab, root } = s;
    await must(lab, 'h001', 'psql -X -q -v ON_ERROR_STOP=1 -h /run/postgresql -U zitadel -d zitadel', 'CREATE TABLE audit_log (at timestamptz NOT NULL DEFAULT now(), what text);');
    const r = await runZitadel(lab, root).done;
    expect(r.code, r.stdout + r.stderr).toBe(1);
    expect(r.stdout + r.stderr).toContain('public.audit_log');
    const report = readReport(root, 'zitadel');
    expect(report.result).toBe('failed');
    expect(report.steps.at(-1)).toMatchObject({ id: 'pg-identity-zitadel', status: 'failed' });
    expect(await replicationObjects(lab)).toEqual({ publications: '', slots: '', subscriptions: '(h002 postgresql not running)', readOnly: 'off' });
    expect((await lab.exec('h002', 'systemctl is-active -q container@zitadel')).code).not.toBe(0);
    expect(await appActive(lab)).toEqual(['h001']);
    expect(await servedBy(lab)).toBe('h001');
    expect((await lab.exec('h001', 'restic -r /backup/h001 snapshots --json')).stdout.trim()).toBe('[]');
  }, 60_000);
});

describe('hot: the subscription cannot apply (a conflicting row on h002)', () => {
  const s = scenario();

  test('the readiness step fails on the apply/sync errors (never reported as caught up), the publication and subscription are dropped', async () => {
    const { lab, root } = s;
    const writer = writerOn(lab);
    await sleep(300);
    const run = runZitadel(lab, root);
    // the schema is on h002, the subscription not yet: a row that h001 has too
    await whenJournal(root, 'zitadel', run, (j) => j.steps['pg-schema-zitadel']?.status === 'done');
    await sql(lab, 'h002', 'zitadel', "INSERT INTO items (id, body) VALUES (1, 'conflict');");
    const r = await run.done;
    await sleep(500);
    const acked = await writer.stop();
    expect(r.code, r.stdout + r.stderr).toBe(1);
    const report = readReport(root, 'zitadel');
    expect(report.result).toBe('failed');
    expect(report.steps.find((x) => x.status === 'failed')?.id).toBe('pg-ready-zitadel');
    expect(report.steps.some((x) => x.id.startsWith('pg-lag') || x.id === 'stop-old')).toBe(false);
    expect(r.stdout + r.stderr).toMatch(/the subscription reports [1-9]\d* apply\/sync errors/);
    expect(report.steps.filter((x) => x.status === 'undone').map((x) => x.id)).toEqual(['pg-subscription-zitadel', 'pg-publication-zitadel', 'pg-role-zitadel', 'pg-database-zitadel']);
    expect(await replicationObjects(lab)).toEqual({ publications: '', slots: '', subscriptions: '', readOnly: 'off' });
    expect(await replRoles(lab)).toBe('0');
    // the app never stopped on h001
    expect(await appActive(lab)).toEqual(['h001']);
    expect(longestGap(acked).ms).toBeLessThan(1500);
    expect(acked.at(-1)!.t).toBeGreaterThan(Date.now() - 1500);
  }, 120_000);
});

describe('hot: rollback before the freeze (the cutover is not confirmed)', () => {
  const s = scenario();

  test('the subscription and publication are dropped, nothing else changes, the app keeps running on h001', async () => {
    const { lab, root } = s;
    const writer = writerOn(lab);
    await sleep(300);
    const r = await runZitadel(lab, root, { yes: false }).done;
    await sleep(500);
    const acked = await writer.stop();
    expect(r.code, r.stdout + r.stderr).toBe(1);
    const report = readReport(root, 'zitadel');
    expect(report.result).toBe('failed');
    expect(r.stderr).toContain('stopped at the confirmation prompt; nothing was stopped');
    expect(report.steps.some((x) => x.id === 'stop-old')).toBe(false); // refused before it ran
    expect(report.steps.find((x) => x.id === 'pg-ready-zitadel')?.status).toBe('done');
    expect(report.steps.filter((x) => x.status === 'undone').map((x) => x.id)).toEqual(['pg-subscription-zitadel', 'pg-publication-zitadel', 'pg-role-zitadel', 'pg-database-zitadel']);
    expect(await replicationObjects(lab)).toEqual({ publications: '', slots: '', subscriptions: '', readOnly: 'off' });
    expect(await replRoles(lab)).toBe('0');
    expect(await appActive(lab)).toEqual(['h001']);
    expect(await servedBy(lab)).toBe('h001');
    expect(longestGap(acked).ms).toBeLessThan(1500);
    expect(writer.failed).toEqual([]);
  }, 120_000);
});

describe('hot: rollback after the freeze (the app cannot start on h002)', () => {
  const s = scenario({ h002AppEnv: { APP_BROKEN: '1' } });

  test('h001 is thawed and serves again, writes succeed there, exit 3', async () => {
    const { lab, root } = s;
    const writer = writerOn(lab);
    await sleep(300);
    const run = runZitadel(lab, root);
    const r = await run.done;
    const ended = Date.now();
    await sleep(1500);
    const acked = await writer.stop();
    expect(r.code, r.stdout + r.stderr).toBe(3);
    const report = readReport(root, 'zitadel');
    expect(report.result).toBe('rolled-back');
    expect(report.steps.find((x) => x.status === 'failed')?.id).toBe('start-new');
    const undone = report.steps.filter((x) => x.status === 'undone').map((x) => x.id);
    // newest first: the window's groups (start and route, the snapshots, the freeze, the stop, the guards), then prepare's
    expect(undone).toEqual(['route-new', 'start-new', 'pg-snapshot-new-zitadel', 'pg-snapshot-old-zitadel', 'pg-freeze-zitadel', 'stop-old',
      'guard-routes', 'guard-new', 'guard-old', 'pg-subscription-zitadel', 'pg-publication-zitadel', 'pg-role-zitadel', 'pg-database-zitadel']);
    expect(await replicationObjects(lab)).toEqual({ publications: '', slots: '', subscriptions: '', readOnly: 'off' });
    expect(await replRoles(lab)).toBe('0');
    // no snapshot holder left on either host; h002's copy kept under another name (the app was started there: it may have written)
    for (const h of ['h001', 'h002']) expect(await sql(lab, h, 'postgres', "SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE 'migen-snapshot-%';"), h).toBe('0');
    expect(await sql(lab, 'h002', 'postgres', "SELECT string_agg(datname, ',') FROM pg_database WHERE datname LIKE 'zitadel%';")).toMatch(/^zitadel_rolled_back_\d{8}_\d{6}$/);
    expect(await appActive(lab)).toEqual(['h001']);
    expect(await servedBy(lab)).toBe('h001');
    // writes after the rollback are acknowledged by h001 and are there
    const after = acked.filter((a) => a.t > ended);
    expect(after.length).toBeGreaterThan(10);
    const onOld = new Set((await sql(lab, 'h001', 'zitadel', `SELECT id FROM items WHERE id >= ${after[0]!.id};`)).split('\n').map(Number));
    expect(after.filter((a) => !onOld.has(a.id))).toEqual([]);
    const w0 = Date.parse(report.window.startedAt!);
    console.log(`e2e hot zitadel rollback after the freeze: writes unavailable for ${longestGap(acked, w0, ended).ms} ms (stop on h001 to the first write after the thaw); run ${(r.ms / 1000).toFixed(1)} s`);
  }, 120_000);
});

describe('hot: labs', () => {
  afterAll(() => {});
  test('every lab was torn down and left nothing behind', async () => {
    expect(labIds.length).toBe(5);
    for (const id of labIds) expect(await findLeftovers(id)).toEqual([]);
  });
});
