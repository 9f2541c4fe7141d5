import { cpSync, mkdtempSync, readFileSync, readdirSync, writeFileSync, existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { migen, ROOT } from '../helpers/cli.js';

/** A copy of the example manifests and inventory, with its own output directory. */
function workspace(): { dir: string; run: (...args: string[]) => ReturnType<typeof migen>; manifests: string[] } {
  const dir = mkdtempSync(path.join(tmpdir(), 'migen-gen-'));
  cpSync(path.join(ROOT, 'examples/homelab/migrations'), path.join(dir, 'm/migrations'), { recursive: true });
  cpSync(path.join(ROOT, 'examples/homelab/inventory.json'), path.join(dir, 'm/inventory.json'));
  const manifests = readdirSync(path.join(dir, 'm/migrations')).sort().map((f) => `m/migrations/${f}`);
  return { dir, manifests, run: (...args) => migen(args, { cwd: dir }) };
}

const snapshot = (dir: string): Record<string, string> => {
  const out: Record<string, string> = {};
  const walk = (d: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p); else out[path.relative(dir, p)] = readFileSync(p, 'utf8');
    }
  };
  walk(dir);
  return out;
};

describe('generate and check', () => {
  it('generate twice yields identical bytes; the second writes nothing', () => {
    const w = workspace();
    expect(w.run('generate', ...w.manifests).code).toBe(0);
    const first = snapshot(path.join(w.dir, 'generated'));
    const again = w.run('generate', ...w.manifests);
    expect(again.stdout).toBe('migen: generated/ is up to date\n');
    expect(snapshot(path.join(w.dir, 'generated'))).toEqual(first);
    expect(Object.keys(first)).toContain('hosts/o001.nix');
    expect(first['migen.sum']!.split('\n').filter((l) => l.startsWith('file ')).length).toBe(Object.keys(first).length - 1);
  });

  it('check passes on fresh output and names each hand-edited file', () => {
    const w = workspace();
    w.run('generate', ...w.manifests);
    expect(w.run('check', ...w.manifests).code).toBe(0);
    for (const f of ['hosts/o001.nix', 'plans/forgejo.md', 'default.nix']) {
      const p = path.join(w.dir, 'generated', f);
      const before = readFileSync(p, 'utf8');
      writeFileSync(p, before.replace('100.64.0.20', '100.64.0.99') + '\n');
      const r = w.run('check', ...w.manifests);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(`edited by hand: generated/${f}\n`);
      writeFileSync(p, before);
    }
    expect(w.run('check', ...w.manifests).code).toBe(0);
  });

  it('check reports stale, missing and extra files; generate repairs them', () => {
    const w = workspace();
    w.run('generate', ...w.manifests);
    const m = path.join(w.dir, 'm/migrations/forgejo.yaml');
    writeFileSync(m, readFileSync(m, 'utf8').replace('strategy: warm', 'strategy: cold'));
    rmSync(path.join(w.dir, 'generated/plans/vaultwarden.md'));
    writeFileSync(path.join(w.dir, 'generated/notes.txt'), 'mine');
    const r = w.run('check', ...w.manifests);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('stale: generated/plans/forgejo.md');
    expect(r.stderr).toContain('missing: generated/plans/vaultwarden.md');
    expect(r.stderr).not.toContain('notes.txt'); // not migen's: left alone
    w.run('generate', ...w.manifests);
    expect(w.run('check', ...w.manifests).code).toBe(0);
    expect(readFileSync(path.join(w.dir, 'generated/notes.txt'), 'utf8')).toBe('mine');
  });

  it('removes files it no longer produces', () => {
    const w = workspace();
    w.run('generate', ...w.manifests);
    expect(existsSync(path.join(w.dir, 'generated/hosts/newvps.nix'))).toBe(true);
    rmSync(path.join(w.dir, 'm/migrations/headscale.yaml'));
    const r = w.run('generate', ...w.manifests.filter((f) => !f.includes('headscale')));
    expect(r.stdout).toContain('- generated/hosts/newvps.nix');
    expect(existsSync(path.join(w.dir, 'generated/hosts/newvps.nix'))).toBe(false);
    expect(existsSync(path.join(w.dir, 'generated/plans/headscale.md'))).toBe(false);
  });

  it('writes nothing when validation fails', () => {
    const w = workspace();
    w.run('generate', ...w.manifests);
    const before = snapshot(path.join(w.dir, 'generated'));
    const m = path.join(w.dir, 'm/migrations/forgejo.yaml');
    writeFileSync(m, readFileSync(m, 'utf8').replace('strategy: warm', 'strategy: warm\n    state: ["/var/lib/$(id)"]'));
    const r = w.run('generate', ...w.manifests);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/forgejo\.yaml:\d+:\d+: migrations\.forgejo\.state\.0/);
    expect(snapshot(path.join(w.dir, 'generated'))).toEqual(before);
  });

  it('every generated file starts with a DO NOT EDIT header naming its manifests and the command', () => {
    const w = workspace();
    w.run('generate', ...w.manifests);
    const files = snapshot(path.join(w.dir, 'generated'));
    for (const [f, text] of Object.entries(files)) {
      const head = text.slice(0, 600);
      expect(head, f).toMatch(/DO NOT EDIT: generated by migen from m\/migrations\/\w+\.yaml/);
      expect(head, f).toMatch(/Regenerate with: npx migen generate m\/migrations\//);
    }
  });
});
