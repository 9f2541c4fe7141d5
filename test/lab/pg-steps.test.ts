/**
 * The hot path's SQL and steps, as generated (generated/runbooks/migrate-zitadel.mjs), run step by
 * step against two real PostgreSQL 15 servers of the lab (test/lab/pg/zitadel.ts; the steps run
 * through test/lab/pg/steps.ts): every step twice in a row (safe to repeat), the marker password
 * in no server log with every statement logged, plans explained and pg_stat_statements on; the
 * full comparison on the frozen snapshots catching a difference; the rollback after the new host
 * took writes keeping them in a renamed database, before that dropping what the run created; a
 * dump killed half-way; an interrupted run with the new host out of reach leaving nothing on the
 * old one; large objects and DDL during replication refused before anything is frozen.
 */
import fs from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, test } from 'vitest';
import { useLab, type Lab } from './lab.js';
import { MIGEN, REPO } from '../e2e/helpers.js';
import { between, hotPath, mustStep, runScript, runStep, undosOf } from './pg/steps.js';
import { APP_PORT, filesContaining, must, PGDATA, setupZitadel, sql, zitadelLabOptions, type SetupOptions, type ZitadelSetup } from './pg/zitadel.js';
import type { MigrationPlan } from '../../src/generator/plan/types.js';
import type { Step } from '../../src/runbook/steps.js';

let path_: Step[] = [];
let plan: MigrationPlan;
beforeAll(async () => { ({ steps: path_, plan } = await hotPath()); });

function scenario(opts: SetupOptions & { logAll?: boolean } = {}): { readonly lab: Lab; readonly setup: ZitadelSetup } {
  const ctx = useLab(zitadelLabOptions());
  let setup: ZitadelSetup | undefined;
  beforeAll(async () => {
    setup = await setupZitadel(ctx.lab, opts);
    if (opts.logAll) for (const h of ['h001', 'h002']) await logEverything(ctx.lab, h);
  }, 120_000);
  return { get lab() { return ctx.lab; }, get setup() { return setup!; } };
}

/** Every statement, every duration, every plan (auto_explain) and pg_stat_statements on, on that server (from its next start; h001's restarts now). */
async function logEverything(lab: Lab, host: string): Promise<void> {
  fs.appendFileSync(lab.hostFile(host, `${PGDATA}/postgresql.conf`), [
    '# the lab logs everything: what a password must never reach',
    "log_statement = 'all'", 'log_min_duration_statement = 0', "log_min_error_statement = 'debug5'", 'log_connections = on', 'log_duration = on',
    "shared_preload_libraries = 'auto_explain,pg_stat_statements'", 'auto_explain.log_min_duration = 0', 'auto_explain.log_analyze = on', 'pg_stat_statements.track_utility = on', '',
  ].join('\n'));
  if ((await lab.exec(host, 'systemctl is-active -q postgresql')).code === 0) await must(lab, host, 'systemctl restart postgresql');
}

const step = (id: string): Step => { const s = path_.find((x) => x.id === id); if (!s) throw new Error(`no step ${id}`); return s; };

/** Runs steps in order, each twice: both runs must succeed. Returns each step's first run time. */
async function twice(lab: Lab, steps: readonly Step[]): Promise<Record<string, number>> {
  const ms: Record<string, number> = {};
  for (const s of steps) {
    ms[s.id] = (await mustStep(lab, s)).ms;
    const again = await runStep(lab, s);
    expect(again.ok, `${s.id} repeated:\n${again.stderr}\n${again.stdout}`).toBe(true);
  }
  return ms;
}

/** Runs the undos of `done`, newest first, each twice (a rollback repeated after an interruption). */
async function rollBack(lab: Lab, done: readonly Step[]): Promise<string> {
  let out = '';
  for (const s of undosOf(done)) {
    for (let k = 0; k < 2; k++) {
      const r = await runScript(lab, s.undo!);
      expect(r.code, `undo of ${s.id} (run ${k + 1}):\n${r.stderr}\n${r.stdout}`).toBe(0);
      if (k === 0) out += r.stdout;
    }
  }
  return out;
}

/** What this migration could leave on h001 (slots, publications, the replication role, holders) and on h002 (subscriptions). */
async function leftovers(lab: Lab): Promise<Record<string, string>> {
  const h2 = (await lab.exec('h002', 'systemctl is-active -q postgresql')).code === 0;
  return {
    slots: await sql(lab, 'h001', 'postgres', "SELECT coalesce(string_agg(slot_name, ','), '') FROM pg_replication_slots;"),
    publications: await sql(lab, 'h001', 'zitadel', "SELECT coalesce(string_agg(pubname, ','), '') FROM pg_publication;"),
    role: await sql(lab, 'h001', 'postgres', `SELECT count(*) FROM pg_roles WHERE rolname = '${plan.database!.role}';`),
    holders: [await sql(lab, 'h001', 'postgres', "SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE 'migen-snapshot-%';"),
      h2 ? await sql(lab, 'h002', 'postgres', "SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE 'migen-snapshot-%';") : '-'].join(','),
    subscriptions: h2 ? await sql(lab, 'h002', 'postgres', "SELECT coalesce(string_agg(subname, ','), '') FROM pg_subscription;") : '(not running)',
  };
}
const CLEAN = { slots: '', publications: '', role: '0', holders: '0,0', subscriptions: '' };

const readOnly = (lab: Lab): Promise<string> => sql(lab, 'h001', 'zitadel', 'SHOW default_transaction_read_only;');
const appOn = async (lab: Lab, h: string): Promise<boolean> => (await lab.exec(h, 'systemctl is-active -q zitadel')).code === 0;
/** n writes through the application on a host (its HTTP API on the host's loopback; no nginx in these step-by-step labs), returning their ids. */
async function writes(lab: Lab, host: string, n: number): Promise<number[]> {
  const out = await must(lab, host, `for i in $(seq 1 ${n}); do curl -fsS -X POST --data "w$i" http://127.0.0.1:${APP_PORT}/items; done`);
  return out.trim().split('\n').map(Number);
}

describe('hot steps against real PostgreSQL: every step twice, the password in no log', () => {
  const s = scenario({ logAll: true });

  test('every step succeeds when repeated; h002 ends equal to frozen h001, takes writes with continued ids; nothing left; the marker in no log; the dump restores', async () => {
    const { lab, setup } = s;
    const before = await writes(lab, 'h001', 20);
    const ms = await twice(lab, between(path_, null, 'pg-lag-zitadel'));
    // writes while replicating reach h002
    await writes(lab, 'h001', 20);
    await mustStep(lab, step('pg-lag-zitadel'));
    Object.assign(ms, await twice(lab, between(path_, 'stop-old', 'start-new')));
    expect(await readOnly(lab)).toBe('on');
    const maxOld = Number(await sql(lab, 'h001', 'zitadel', 'SELECT max(id) FROM items;'));
    const onNew = await writes(lab, 'h002', 10);
    expect(onNew[0]).toBe(maxOld + 1);
    const compare = await mustStep(lab, step('pg-compare-zitadel'));
    expect(compare.stdout).toMatch(/every table of zitadel equal on h001 and h002 as of the freeze \(2 tables\)/);
    Object.assign(ms, await twice(lab, [step('pg-compare-zitadel'), step('pg-cleanup-zitadel')]));
    expect(await leftovers(lab)).toEqual(CLEAN);
    expect(before.length).toBe(20);
    // h002 holds every row h001 had at the freeze, and its own after
    expect(await sql(lab, 'h002', 'zitadel', `SELECT count(*) FROM items WHERE id <= ${maxOld};`)).toBe(await sql(lab, 'h001', 'zitadel', 'SELECT count(*) FROM items;'));
    // the marker password: in no log line, no pg_stat_statements entry, on either host, while the logs hold every statement
    for (const h of ['h001', 'h002']) {
      expect(filesContaining(path.join(lab.hostDir(h), 'var-log'), setup.marker), h).toEqual([]);
      expect(filesContaining(path.join(lab.hostDir(h), 'var-lib', 'zitadel/postgres/pg_stat_tmp'), setup.marker), h).toEqual([]);
      await sql(lab, h, 'postgres', 'CREATE EXTENSION IF NOT EXISTS pg_stat_statements;');
      expect(await sql(lab, h, 'postgres', `SELECT count(*) FROM pg_stat_statements WHERE query LIKE '%${setup.marker}%';`), h).toBe('0');
    }
    const log1 = await must(lab, 'h001', 'cat /var/log/lab-units/postgresql.log');
    expect(log1).toMatch(/statement: SELECT pg_current_xact_id\(\)/);
    expect(log1).toMatch(/Query Text: SELECT/); // auto_explain explained plans
    expect(log1).toMatch(/statement: SET log_statement = 'none';/); // the session that set the password says so, and nothing after
    expect(log1).not.toMatch(/ALTER ROLE "migen_repl_zitadel" WITH LOGIN REPLICATION PASSWORD/);
    const log2 = await must(lab, 'h002', 'cat /var/log/lab-units/postgresql.log');
    expect(log2).toMatch(/statement: DROP SUBSCRIPTION IF EXISTS/);
    expect(log2).not.toMatch(/CREATE SUBSCRIPTION/);
    expect(log2).not.toMatch(/SCRAM-SHA-256\$/); // the roles' hashes copied to h002 were not logged either
    // the safety net restores: drop the (migrated away) database on h001, restore, the rows as before the migration
    const dump = await must(lab, 'h001', `gzip -t ${plan.fence.dir}/pg/pg_dumpall.sql.gz && stat -c '%a %s' ${plan.fence.dir}/pg/pg_dumpall.sql.gz`);
    expect(dump.trim()).toMatch(/^600 \d+$/);
    await sql(lab, 'h001', 'postgres', 'DROP DATABASE zitadel WITH (FORCE);');
    const restore = (step('pg-dumpall').title.match(/restore: (.*)\)$/) ?? [])[1]!;
    await must(lab, 'h001', `${restore} >/dev/null 2>&1`);
    expect(Number(await sql(lab, 'h001', 'zitadel', 'SELECT count(*) FROM items;'))).toBe(500 + 20);
    console.log(`hot steps (first runs, ms): ${Object.entries(ms).map(([k, v]) => `${k} ${v}`).join(', ')}`);
  }, 300_000);
});

describe('hot steps: the comparison after the start catches a difference; the rollback keeps h002\'s writes', () => {
  const s = scenario();

  test('a row changed on h002 before its snapshot fails pg-compare naming the table; the undos rename h002\'s database with the rows written there, thaw h001, leave nothing', async () => {
    const { lab } = s;
    const done = [...between(path_, null, 'pg-counts-zitadel')];
    for (const x of done) await mustStep(lab, x);
    // a difference the in-window checks cannot see (same row counts), made before h002's snapshot
    await sql(lab, 'h002', 'zitadel', "UPDATE items SET body = 'tampered' WHERE id = 7;");
    const rest = between(path_, 'pg-drop-subscription-zitadel', 'start-new');
    for (const x of rest) await mustStep(lab, x);
    done.push(...rest);
    const onNew = await writes(lab, 'h002', 15);
    const cmp = await runStep(lab, step('pg-compare-zitadel'));
    expect(cmp.ok).toBe(false);
    expect(cmp.stderr).toMatch(/tables of zitadel that differ \(table, rows, checksum\) between h001 \(frozen\) and h002 as of the freeze:\n {2}h001: public\.items 500 -?\d+\n {2}h002: public\.items 500 -?\d+/);
    const out = await rollBack(lab, done);
    // h002's writes are in the renamed database, which a rollback printed how to inspect
    const kept = await sql(lab, 'h002', 'postgres', "SELECT string_agg(datname, ',') FROM pg_database WHERE datname LIKE 'zitadel%';");
    expect(kept).toMatch(/^zitadel_rolled_back_\d{8}_\d{6}$/);
    expect(await sql(lab, 'h002', kept, `SELECT count(*) FROM items WHERE id IN (${onNew.join(',')});`)).toBe(String(onNew.length));
    expect(out).toContain(`they are kept in the database ${kept} on h002`);
    expect(out).toMatch(new RegExp(`inspect: .*psql -p 5432 -d ${kept}`));
    expect((await must(lab, 'h002', `cat ${plan.fence.dir}/pg/rolled-back-writes`)).trim()).toMatch(new RegExp(`^\\S+ zitadel ${kept}$`));
    // h001 serves again, writable, without the replication objects
    expect(await readOnly(lab)).toBe('off');
    expect(await appOn(lab, 'h001')).toBe(true);
    expect((await writes(lab, 'h001', 3)).length).toBe(3);
    expect(await leftovers(lab)).toEqual(CLEAN);
  }, 240_000);
});

describe('hot steps: DDL on h001 just before the freeze; the rollback before the start drops what the run created', () => {
  const s = scenario();

  test('pg-schema-frozen refuses inside the window naming the change; the undos thaw h001 and drop h002\'s copy (not renamed)', async () => {
    const { lab } = s;
    const done = [...between(path_, null, 'pg-freeze-zitadel')];
    for (const x of done.slice(0, -1)) await mustStep(lab, x);
    await must(lab, 'h001', 'psql -X -q -v ON_ERROR_STOP=1 -h /run/postgresql -U zitadel -d zitadel', 'ALTER TABLE items ADD COLUMN note text;');
    await mustStep(lab, done.at(-1)!);
    const drift = await runStep(lab, step('pg-schema-frozen-zitadel'));
    expect(drift.ok).toBe(false);
    expect(drift.stderr).toMatch(/ {2}was: relation public\.items r \(id integer not null default nextval\('items_id_seq'::regclass\), body text not null, n integer not null default 0, created_at timestamp with time zone not null default now\(\)\)\n {2}now: relation public\.items r \(.*, note text\)/);
    await rollBack(lab, done);
    expect(await sql(lab, 'h002', 'postgres', "SELECT count(*) FROM pg_database WHERE datname LIKE 'zitadel%';")).toBe('0');
    expect(await readOnly(lab)).toBe('off');
    expect(await appOn(lab, 'h001')).toBe(true);
    expect(await leftovers(lab)).toEqual(CLEAN);
  }, 180_000);
});

describe('hot steps: large objects, a missing extension and DDL during replication are refused before anything is frozen', () => {
  const s = scenario();

  test('a large object stops pg-large-objects with the fix; an extension h002 lacks stops pg-extensions before anything is created; a column added during replication stops pg-ready and pg-lag (exit 3) naming it; nothing frozen', async () => {
    const { lab } = s;
    await sql(lab, 'h001', 'zitadel', "SELECT lo_from_bytea(0, 'blob');");
    const lo = await runStep(lab, step('pg-large-objects-zitadel'));
    expect([lo.ok, lo.stderr.trim()]).toEqual([false, 'zitadel on h001 holds 1 large objects']);
    expect(step('pg-large-objects-zitadel')).toMatchObject({ failure: expect.stringMatching(/logical replication does not copy.*bytea.*strategy warm/) });
    expect(await leftovers(lab)).toEqual({ ...CLEAN, holders: '0,-', subscriptions: '(not running)' });
    await sql(lab, 'h001', 'zitadel', 'SELECT lo_unlink(oid) FROM pg_largeobject_metadata;');
    // an extension h002's PostgreSQL lacks (its extension directory, in h002's own mount namespace, without pgcrypto)
    await sql(lab, 'h001', 'zitadel', 'CREATE EXTENSION pgcrypto;');
    const ext = '/usr/share/postgresql/15/extension';
    await must(lab, 'h002', `cp -a ${ext} /var/lib/ext-without-pgcrypto && rm /var/lib/ext-without-pgcrypto/pgcrypto.control && mount --bind /var/lib/ext-without-pgcrypto ${ext}`);
    const upToExt = between(path_, null, 'pg-extensions-zitadel');
    for (const x of upToExt.slice(0, -1)) await mustStep(lab, x);
    const missing = await runStep(lab, upToExt.at(-1)!);
    expect([missing.ok, missing.stderr.trim()]).toEqual([false, "zitadel on h001 uses extensions that h002's PostgreSQL does not have: pgcrypto (1.3)"]);
    expect(upToExt.at(-1)).toMatchObject({ failure: expect.stringMatching(/add it on h002 \(services\.postgresql\.extensions.*nothing was created/) });
    expect(await leftovers(lab)).toEqual(CLEAN);
    expect(await sql(lab, 'h002', 'postgres', "SELECT count(*) FROM pg_database WHERE datname = 'zitadel';")).toBe('0');
    await must(lab, 'h002', `umount ${ext}`);
    const done = between(path_, null, 'pg-lag-zitadel');
    for (const x of done) await mustStep(lab, x);
    // DDL on the old side while replicating, and a write that uses it (the subscription cannot apply it)
    await must(lab, 'h001', 'psql -X -q -v ON_ERROR_STOP=1 -h /run/postgresql -U zitadel -d zitadel', "ALTER TABLE events ADD COLUMN source text; INSERT INTO events (item_id, kind, source) VALUES (1, 'x', 'ddl');");
    for (const id of ['pg-ready-zitadel', 'pg-lag-zitadel']) {
      const r = await runStep(lab, step(id));
      expect([id, r.ok, r.code]).toEqual([id, false, 3]);
      expect(r.stderr).toContain('the schema of zitadel on h001 changed since prepare copied it to h002 (DDL during the migration; logical replication does not carry it)');
      expect(r.stderr).toMatch(/ {2}now: relation public\.events r \(.*, source text\)/);
    }
    expect(await readOnly(lab)).toBe('off');
    expect(await appOn(lab, 'h001')).toBe(true);
    await rollBack(lab, done);
    expect(await leftovers(lab)).toEqual(CLEAN);
  }, 180_000);
});

describe('hot steps: interrupted, with h002 out of reach', () => {
  const s = scenario({ seedRows: 500 });

  test('a pg_dumpall killed half-way leaves no dump that passes for complete and completes when repeated; killed during the initial copy with h002 then unreachable, h001\'s undos leave no slot (table-sync ones included), publication or role', async () => {
    const { lab } = s;
    // some 300 MB, so that the dump and the initial copy take seconds
    await sql(lab, 'h001', 'zitadel', "CREATE TABLE blobs (id int PRIMARY KEY, body text NOT NULL); ALTER TABLE blobs ALTER COLUMN body SET STORAGE EXTERNAL; INSERT INTO blobs SELECT g, repeat(md5(g::text), 32) FROM generate_series(1, 300000) g;");
    const pre = between(path_, null, 'pg-large-objects-zitadel');
    for (const x of pre) await mustStep(lab, x);
    const dumpfile = `${plan.fence.dir}/pg/pg_dumpall.sql.gz`;
    const killed = runStep(lab, step('pg-dumpall'));
    await until(async () => (await lab.exec('h001', `test -s ${dumpfile}.tmp`)).code === 0);
    await must(lab, 'h001', 'pkill -KILL -x pg_dumpall && pkill -KILL -x gzip');
    expect((await killed).ok).toBe(false);
    expect((await lab.exec('h001', `test -e ${dumpfile}`)).code).not.toBe(0);
    await mustStep(lab, step('pg-dumpall'));
    expect((await lab.exec('h001', `gzip -t ${dumpfile} && test ! -e ${dumpfile}.tmp`)).code).toBe(0);
    const done = [...pre, ...between(path_, 'pg-wal-level', 'pg-subscription-zitadel')];
    for (const x of done.slice(pre.length)) await mustStep(lab, x);
    // the initial copy runs: a table-sync slot on h001; then h002 drops off the network
    await until(async () => Number(await sql(lab, 'h001', 'postgres', "SELECT count(*) FROM pg_replication_slots WHERE slot_name LIKE 'pg\\_%\\_sync\\_%';")) > 0);
    expect(await sql(lab, 'h001', 'postgres', "SELECT string_agg(slot_name, ',' ORDER BY slot_name) FROM pg_replication_slots;")).toMatch(/^migen_sub_zitadel_zitadel,pg_\d+_sync_\d+_\d+/);
    // migen status reads it back from the hosts: the slots and the WAL they hold, the publication, the role, the subscription
    const st = await lab.operator([process.execPath, MIGEN, 'status', 'zitadel', '--ssh-config', lab.sshConfig], { cwd: REPO, env: { NO_COLOR: '1' } });
    expect(st.code, st.stdout + st.stderr).toBe(1);
    expect(st.stdout).toMatch(/ {2}h001 PostgreSQL: slot migen_sub_zitadel_zitadel \((in)?active, wal_status reserved\) retains [\d.]+ [KMG]?i?B of WAL; slot pg_\d+_sync_\d+_\d+ \((in)?active, wal_status reserved\) retains .* of WAL; publication migen_pub_zitadel in zitadel; replication role migen_repl_zitadel\n {2}h002 PostgreSQL: subscription migen_sub_zitadel_zitadel\n/);
    expect(st.stdout).toMatch(/! replication slot migen_sub_zitadel_zitadel is left on h001 and retains .* of WAL \(until max_slot_wal_keep_size 8GB, then PostgreSQL invalidates it\): migen run zitadel --rollback drops it/);
    await lab.setLink('h002', false);
    // the rollback: newest first, until the first undo that needs h002 (which the runtime could not reach)
    const undos = undosOf(done);
    const onOld = undos.slice(0, undos.findIndex((x) => (x.undo as { on?: string }).on === 'h002'));
    expect(onOld.map((x) => x.id)).toEqual(['pg-subscription-zitadel', 'pg-publication-zitadel', 'pg-role-zitadel']);
    await rollBack(lab, onOld);
    expect({ slots: await sql(lab, 'h001', 'postgres', "SELECT coalesce(string_agg(slot_name, ','), '') FROM pg_replication_slots;"),
      publications: await sql(lab, 'h001', 'zitadel', "SELECT coalesce(string_agg(pubname, ','), '') FROM pg_publication;"),
      role: await sql(lab, 'h001', 'postgres', `SELECT count(*) FROM pg_roles WHERE rolname = '${plan.database!.role}';`) }).toEqual({ slots: '', publications: '', role: '0' });
    // h002 back: the rest of the rollback drops its subscription (without the slot, gone already) and its copy
    await lab.setLink('h002', true);
    await rollBack(lab, undos.slice(onOld.length));
    expect(await leftovers(lab)).toEqual(CLEAN);
    expect(await sql(lab, 'h002', 'postgres', "SELECT count(*) FROM pg_database WHERE datname LIKE 'zitadel%';")).toBe('0');
    const after = await lab.operator([process.execPath, MIGEN, 'status', 'zitadel', '--ssh-config', lab.sshConfig], { cwd: REPO, env: { NO_COLOR: '1' } });
    expect(after.stdout).not.toMatch(/PostgreSQL:/);
  }, 300_000);
});

async function until(cond: () => Promise<boolean>, timeoutMs = 120_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}
