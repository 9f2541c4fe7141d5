// What a hot plan must hold, read from its steps (one database and two): the freeze does no
// per-row work but where it is bounded, passwords travel only in sessions that keep them out of
// the logs, no error is swallowed, a rollback finishes on the old host before it needs the new
// one, the comparison comes after the window and before the move counts as verified.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { prepare } from '../../src/generator/pipeline.js';
import type { MigrationPlan } from '../../src/generator/plan/types.js';
import { hostsOfScript, isPipe, scriptsOf, type Script, type Step } from '../../src/runbook/steps.js';
import { fleet } from '../fixtures/inventory.js';

const dir = mkdtempSync(path.join(tmpdir(), 'migen-pg-'));
const inventory = path.join(dir, 'inventory.json');
writeFileSync(inventory, JSON.stringify(fleet(), null, 2));

async function planOf(dbs: string[]): Promise<MigrationPlan> {
  const f = path.join(dir, `${dbs.join('-')}.yaml`);
  writeFileSync(f, `version: 1\nmigrations:\n  demo:\n    service: zitadel\n    from: h001\n    to: h002\n    strategy: hot\n    backup: { none: true }\n    database: { engine: postgresql, databases: [${dbs.join(', ')}] }\n`);
  return (await prepare([f], { inventory })).plans[0]!.migrations[0]!;
}

const texts = (s: Script): string[] => (isPipe(s) ? s.pipe.map((p) => p.script) : [s.script]);
const allTexts = (s: Step): string[] => [...scriptsOf(s).flatMap(texts), ...(s.undo ? texts(s.undo) : [])];

describe.each([[['zitadel']], [['other', 'zitadel']]])('a hot plan for %j', (dbs) => {
  it('holds its promises', async () => {
    const p = await planOf(dbs);
    const steps = p.steps;
    const at = (id: string): number => steps.findIndex((s) => s.id === id);
    const pg = steps.filter((s) => s.id.startsWith('pg-'));

    // inside the window nothing reads every row: checksums only in the snapshot holders (they run
    // in the background, after the start), exact counts only of tables up to 8 MiB
    for (const s of steps.filter((x) => x.window && !x.id.startsWith('pg-snapshot-'))) {
      for (const t of allTexts(s)) {
        expect(t, s.id).not.toMatch(/hashtext|md5\(string_agg/);
        for (const m of t.matchAll(/count\(\*\) FROM %I\.%I/g)) expect(t.slice(Math.max(0, m.index - 200), m.index), s.id).toMatch(/pg_relation_size\(c\.oid\) <= 8388608/);
      }
    }
    for (const db of dbs) {
      const cmp = at(`pg-compare-${db}`);
      expect(steps[cmp]).toMatchObject({ phase: 'verify', fleet: true, kind: 'check' });
      expect(steps[cmp]!.window).toBeUndefined();
      expect(cmp).toBeGreaterThan(steps.findIndex((s) => s.kind === 'probe' && s.endsWindow));
      expect(cmp).toBeLessThan(at('verified'));
      expect(at(`pg-snapshot-new-${db}`)).toBeLessThan(at('start-new'));
      expect(steps[at(`pg-snapshot-new-${db}`)]!.window).toBe(true);
    }
    // a statement that carries a password or a password hash runs after the settings that keep it out of every log
    for (const s of pg) {
      for (const t of allTexts(s)) {
        const carries = [t.indexOf('PASSWORD :'), t.indexOf('CREATE SUBSCRIPTION'), s.id === 'pg-roles' && t.includes('cat;') ? t.indexOf('cat;') : -1].filter((i) => i >= 0);
        for (const i of carries) {
          for (const setting of ["log_statement = 'none'", 'log_min_duration_statement = -1', "log_min_error_statement = 'panic'", 'auto_explain.log_min_duration = -1', 'pg_stat_statements.track_utility = off', 'log_transaction_sample_rate = 0']) {
            const j = t.indexOf(setting);
            expect(j >= 0 && j < i, `${s.id}: ${setting} before the secret`).toBe(true);
          }
        }
      }
    }
    expect(pg.filter((s) => allTexts(s).some((t) => /PASSWORD :|CREATE SUBSCRIPTION/.test(t))).map((s) => s.id).sort()).toEqual(dbs.flatMap((db) => [`pg-role-${db}`, `pg-subscription-${db}`]).sort());
    // no error swallowed
    for (const s of pg) for (const t of allTexts(s)) expect(t, s.id).not.toMatch(/\|\| (true|:)(\s|;|\)|$)/m);
    // a rollback undoes every step of the old host before the first one that needs the new host
    const undone = steps.filter((s) => s.phase === 'prepare' && s.undo).reverse();
    const firstNew = undone.findIndex((s) => hostsOfScript(s.undo!).includes(p.to.name));
    expect(undone.slice(firstNew).every((s) => hostsOfScript(s.undo!).includes(p.to.name)), undone.map((s) => s.id).join(' ')).toBe(true);
    expect(undone.slice(0, firstNew).map((s) => s.id).sort()).toEqual(dbs.flatMap((db) => [`pg-role-${db}`, `pg-publication-${db}`, `pg-subscription-${db}`]).sort());
    // what an interruption may leave half-made is undone too
    for (const db of dbs) for (const id of [`pg-role-${db}`, `pg-publication-${db}`, `pg-subscription-${db}`]) expect(steps[at(id)]!.undoOnFailure, id).toBe(true);
    // the safety net comes before the first step that changes either host
    expect(at('pg-dumpall')).toBeLessThan(Math.min(...steps.filter((s) => s.phase === 'prepare' && s.id !== 'pg-dumpall' && s.kind === 'command').map((s) => at(s.id))));
    expect(steps.find((s) => s.id === 'pg-dumpall-kept')).toMatchObject({ kind: 'note', text: expect.stringContaining('gunzip -c /var/lib/migen/demo/pg/pg_dumpall.sql.gz | nixos-container run zitadel -- runuser -u postgres -- psql -X -p 5432 -d postgres') });
    // the second writer preflight refuses is the application, not its container: a deploy of the
    // new host (another migration's too) starts the autoStart container, its PostgreSQL the subscriber to be
    expect(steps[at('new-stopped')]!.run).toEqual({ on: 'h002', script: "! systemctl is-active --quiet container@zitadel || nixos-container run zitadel -- bash -c '! systemctl is-active --quiet zitadel'" });
    // large objects are refused in preflight, missing extensions before anything is created
    for (const db of dbs) {
      expect(steps[at(`pg-large-objects-${db}`)]!.phase).toBe('preflight');
      expect(at(`pg-extensions-${db}`)).toBeLessThan(at('pg-roles'));
    }
  });
});
