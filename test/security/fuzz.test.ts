// Property-based fuzzing of the manifest and inventory loaders: thousands of random and mutated
// documents. Each one either plans (and renders) or is refused with located problems; nothing
// else may escape (no TypeError, no stack trace). A sample also goes through the real CLI.
import { mkdtempSync, readFileSync, writeFileSync, readdirSync, cpSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { stringify } from 'yaml';
import { describe, expect, it } from 'vitest';
import { UserError, ValidationError } from '../../src/errors.js';
import { prepare } from '../../src/generator/pipeline.js';
import { renderAll } from '../../src/generator/render/index.js';
import { migen, ROOT } from '../helpers/cli.js';

const dir = mkdtempSync(path.join(tmpdir(), 'migen-fuzz-'));
const inventoryText = readFileSync(path.join(ROOT, 'examples/homelab/inventory.json'), 'utf8');
const inventoryFile = path.join(dir, 'inventory.json');
writeFileSync(inventoryFile, inventoryText);
const manifests = readdirSync(path.join(ROOT, 'examples/homelab/migrations')).sort().map((f) => readFileSync(path.join(ROOT, 'examples/homelab/migrations', f), 'utf8'));

const PAYLOADS = ['$(touch /tmp/migen-pwned)', '`id`', '; reboot', 'a\nb', '-oProxyCommand=x', '${builtins.throw "x"}', '"', "''", '../../etc', '/var/lib/../../etc', ' ', '', 'ä', '\u0000', '-', '*', '&&', '|', '>', '/var/lib/x y', 'h002 ', 'H002', '100.64.0.256', 'x'.repeat(300)];
const anyValue = fc.oneof(fc.constantFrom(...PAYLOADS), fc.string(), fc.integer(), fc.boolean(), fc.constant(null), fc.array(fc.string(), { maxLength: 3 }), fc.dictionary(fc.string({ maxLength: 8 }), fc.string(), { maxKeys: 3 }));

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
/** Replaces, deletes or adds a value at a random place in the document. */
function mutate(doc: Json, picks: number[], value: Json, op: number): Json {
  const clone = structuredClone(doc);
  let node: Json = clone;
  for (const p of picks) {
    if (node === null || typeof node !== 'object') break;
    const keys = Array.isArray(node) ? node.map((_, i) => i) : Object.keys(node);
    if (keys.length === 0) break;
    const k = keys[p % keys.length]!;
    const child = (node as Record<string | number, Json>)[k]!;
    if (child === null || typeof child !== 'object' || p % 3 === 0) {
      if (op === 0) (node as Record<string | number, Json>)[k] = value;
      else if (op === 1 && !Array.isArray(node)) delete (node as Record<string, Json>)[k as string];
      else if (!Array.isArray(node)) (node as Record<string, Json>)[`x${p}`] = value;
      else (node as Json[]).push(value);
      return clone;
    }
    node = child;
  }
  return clone;
}

let n = 0;
const counts = { planned: 0, refused: 0 };

async function outcome(text: string, inv = inventoryFile): Promise<'planned' | 'refused'> {
  const file = path.join(dir, `m${n++ % 50}.yaml`);
  writeFileSync(file, text);
  try {
    const inputs = await prepare([file], { inventory: inv });
    // The whole render must succeed for anything that validates (runbooks are rendered in the CLI sample below).
    const { files } = renderAll(inputs);
    expect(files.length).toBeGreaterThan(0);
    counts.planned++;
    return 'planned';
  } catch (e) {
    if (!(e instanceof UserError)) throw e;
    if (e instanceof ValidationError) {
      expect(e.problems.length).toBeGreaterThan(0);
      for (const p of e.problems) {
        expect(p.line).toBeGreaterThanOrEqual(1);
        expect(p.column).toBeGreaterThanOrEqual(1);
        expect(p.message.length).toBeGreaterThan(0);
      }
    }
    counts.refused++;
    return 'refused';
  }
}

describe('fuzzing the loaders', () => {
  it('mutated example manifests: plan or a located refusal, never anything else (2,000 documents)', async () => {
    await fc.assert(fc.asyncProperty(fc.nat(manifests.length - 1), fc.array(fc.nat(), { minLength: 1, maxLength: 5 }), anyValue, fc.nat(2), async (i, picks, value, op) => {
      const { parse } = await import('yaml');
      const doc = parse(manifests[i]!) as Json;
      await outcome(stringify(mutate(doc, picks, value as Json, op)));
    }), { numRuns: 2000, seed: 1234 });
  });

  it('random YAML and random text: refused with a location (500 documents)', async () => {
    await fc.assert(fc.asyncProperty(fc.oneof(fc.string({ maxLength: 200 }), fc.jsonValue().map((v) => stringify(v))), async (text) => {
      await outcome(text);
    }), { numRuns: 500, seed: 99 });
  });

  it('mutated inventories: plan or a located refusal (500 documents)', async () => {
    const inv = JSON.parse(inventoryText) as Json;
    const manifest = path.join(dir, 'fixed.yaml');
    writeFileSync(manifest, manifests[manifests.findIndex((m) => m.includes('service: forgejo'))]!);
    await fc.assert(fc.asyncProperty(fc.array(fc.nat(), { minLength: 1, maxLength: 6 }), anyValue, fc.nat(2), async (picks, value, op) => {
      const f = path.join(dir, `inv${n++ % 20}.json`);
      writeFileSync(f, JSON.stringify(mutate(inv, picks, value as Json, op)));
      try {
        const inputs = await prepare([manifest], { inventory: f });
        renderAll(inputs);
        counts.planned++;
      } catch (e) {
        if (!(e instanceof UserError)) throw e;
        counts.refused++;
      }
    }), { numRuns: 500, seed: 7 });
    console.log(`fuzz: ${counts.planned + counts.refused} documents, ${counts.planned} planned, ${counts.refused} refused with a located error`);
  });

  it('through the CLI: one clear error or success, never a stack trace, never a partial generated/ (20 documents)', async () => {
    const ws = mkdtempSync(path.join(tmpdir(), 'migen-fuzzcli-'));
    cpSync(path.join(ROOT, 'examples/homelab/migrations'), path.join(ws, 'm'), { recursive: true });
    writeFileSync(path.join(ws, 'inventory.json'), inventoryText);
    const ok = migen(['generate', 'm/forgejo.yaml', '--inventory', 'inventory.json'], { cwd: ws });
    expect(ok.code).toBe(0);
    const snapshot = (): string => readdirSync(path.join(ws, 'generated'), { recursive: true }).sort().map((f) => `${f}`).join(',') + readFileSync(path.join(ws, 'generated/migen.sum'), 'utf8');
    const before = snapshot();
    const { parse } = await import('yaml');
    const original = readFileSync(path.join(ws, 'm/forgejo.yaml'), 'utf8');
    const base = parse(original) as Json;
    await fc.assert(fc.asyncProperty(fc.array(fc.nat(), { minLength: 1, maxLength: 5 }), anyValue, fc.nat(2), async (picks, value, op) => {
      writeFileSync(path.join(ws, 'm/forgejo.yaml'), stringify(mutate(base, picks, value as Json, op)));
      const r = migen(['generate', 'm/forgejo.yaml', '--inventory', 'inventory.json'], { cwd: ws });
      expect([0, 1]).toContain(r.code);
      expect(r.stderr).not.toMatch(/\n\s+at .*\.(js|ts):\d+/);
      expect(r.stderr).not.toMatch(/internal error/);
      if (r.code === 1) {
        expect(r.stderr).toMatch(/^migen: (m\/forgejo\.yaml:\d+:\d+: |m\/forgejo\.yaml: )/);
        expect(snapshot()).toBe(before);
      } else {
        // A valid mutation regenerates; put the original back for the next case.
        writeFileSync(path.join(ws, 'm/forgejo.yaml'), original);
        expect(migen(['generate', 'm/forgejo.yaml', '--inventory', 'inventory.json'], { cwd: ws }).code).toBe(0);
      }
    }), { numRuns: 20, seed: 5 });
  }, 240_000);
});
