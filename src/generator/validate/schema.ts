import { createRequire } from 'node:module';
import type { ErrorObject, ValidateFunction } from 'ajv';
import type { Problem } from '../../errors.js';
import { locate, type SourceDoc } from '../load/source.js';
import path from 'node:path';
import { artifact, ROOT } from '../../artifacts.js';

const require = createRequire(import.meta.url);

let cache: { manifest?: ValidateFunction; inventory?: ValidateFunction; plan?: ValidateFunction } = {};

export function schemaPath(name: 'manifest' | 'inventory' | 'plan'): string {
  return path.join(ROOT, 'schemas', `${name}.schema.json`);
}

export function compiled(name: 'manifest' | 'inventory' | 'plan'): ValidateFunction {
  const hit = cache[name];
  if (hit) return hit;
  const fn = precompiled(name) ?? compileNow(name);
  cache = { ...cache, [name]: fn };
  return fn;
}

/** The validator compiled at build time (scripts/compile-schemas.mjs), when this runs from dist/. */
function precompiled(name: 'manifest' | 'inventory' | 'plan'): ValidateFunction | null {
  const mod = artifact(`schemas/${name}.cjs`) as ValidateFunction | { default: ValidateFunction } | null;
  if (!mod) return null;
  return typeof mod === 'function' ? mod : mod.default;
}

function compileNow(name: 'manifest' | 'inventory' | 'plan'): ValidateFunction {
  const AjvCtor = require('ajv') as typeof import('ajv').default;
  const ajv = new AjvCtor({ allErrors: true, verbose: true, strict: true, strictRequired: false, useDefaults: false, allowUnionTypes: true });
  ajv.addKeyword({ keyword: 'x-valid', schemaType: 'string' });
  return ajv.compile(require(schemaPath(name)));
}

/** Validates data against a schema; every error is located in the YAML source (when given). */
export function schemaProblems(name: 'manifest' | 'inventory', data: unknown, src: SourceDoc | { file: string }): Problem[] {
  const validate = compiled(name);
  if (validate(data)) return [];
  const errors = pruneErrors(validate.errors ?? []);
  const problems = errors.map((e) => toProblem(e, data, src));
  // One problem per location: the first (most specific) message wins.
  const seen = new Set<string>();
  return problems.filter((p) => {
    const k = `${p.line}:${p.column}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  }).sort((a, b) => a.line - b.line || a.column - b.column);
}

/** The fields of a oneOf whose branches each only require one field ("exactly one of these"), else null. */
function choiceOf(e: ErrorObject): string[] | null {
  if (e.keyword !== 'oneOf' || !Array.isArray(e.schema)) return null;
  const keys = (e.schema as { required?: string[] }[]).map((b) => (Object.keys(b).length === 1 && b.required?.length === 1 ? b.required[0]! : null));
  return keys.every((k): k is string => k !== null) ? keys : null;
}

/** Drops errors that only restate a deeper one (oneOf/anyOf/if wrappers, parent "must match a schema"). */
function pruneErrors(errors: readonly ErrorObject[]): ErrorObject[] {
  // "Exactly one of a, b, c": one error, not one missing field per alternative.
  const choices = errors.filter((e) => choiceOf(e));
  if (choices.length) errors = errors.filter((e) => choiceOf(e) || !choices.some((c) => e.instancePath === c.instancePath && e.schemaPath.startsWith(`${c.schemaPath}/`)));
  const wrappers = new Set(['oneOf', 'anyOf', 'if']);
  const deep = errors.filter((e) => !wrappers.has(e.keyword) || choiceOf(e));
  if (deep.length === 0) return [...errors];
  // A oneOf of "required" alternatives reports one missing property per branch: keep only the first per path.
  const byPath = new Map<string, ErrorObject>();
  for (const e of deep) {
    const k = e.instancePath + (e.keyword === 'required' ? '#required' : `#${e.keyword}#${String((e.params as { additionalProperty?: string }).additionalProperty ?? '')}`);
    if (!byPath.has(k)) byPath.set(k, e);
  }
  return [...byPath.values()];
}

function pointerToPath(ptr: string): string[] {
  if (ptr === '') return [];
  return ptr.slice(1).split('/').map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
}

function toProblem(e: ErrorObject, _data: unknown, src: SourceDoc | { file: string }): Problem {
  const path: (string | number)[] = pointerToPath(e.instancePath).map((s) => (/^\d+$/.test(s) ? Number(s) : s));
  const where = path.length ? path.join('.') : '(document)';
  const valid = (e.parentSchema as { 'x-valid'?: string } | undefined)?.['x-valid'];
  let message: string;
  let atKey = false;
  switch (e.keyword) {
    case 'additionalProperties': {
      const prop = (e.params as { additionalProperty: string }).additionalProperty;
      path.push(prop);
      atKey = true;
      const allowed = Object.keys((e.parentSchema as { properties?: object }).properties ?? {}).sort();
      message = `${path.join('.')}: unknown field ${JSON.stringify(prop)}; allowed here: ${allowed.join(', ') || '(none)'}`;
      break;
    }
    case 'required': {
      const prop = (e.params as { missingProperty: string }).missingProperty;
      message = `${where}: missing required field ${JSON.stringify(prop)}`;
      break;
    }
    case 'propertyNames': {
      const name = (e.params as { propertyName: string }).propertyName;
      path.push(name);
      atKey = true;
      message = `${path.join('.')}: invalid name ${JSON.stringify(name)}`;
      break;
    }
    case 'pattern': {
      const pn = (e as ErrorObject & { propertyName?: string }).propertyName;
      if (pn !== undefined) {
        // Raised inside propertyNames: the name itself is the offending value.
        path.push(pn);
        atKey = true;
        message = `${path.join('.')}: invalid name ${JSON.stringify(pn)}; expected ${valid ?? `a string matching ${(e.params as { pattern: string }).pattern}`}`;
      } else {
        message = `${where}: ${show(e.data)} is not valid; expected ${valid ?? `a string matching ${(e.params as { pattern: string }).pattern}`}`;
      }
      break;
    }
    case 'enum': {
      const allowed = (e.params as { allowedValues: unknown[] }).allowedValues.map((v) => String(v));
      message = `${where}: ${show(e.data)} is not one of ${allowed.join(', ')}`;
      break;
    }
    case 'oneOf': {
      const keys = choiceOf(e) ?? [];
      const given = keys.filter((k) => e.data !== null && typeof e.data === 'object' && Object.prototype.hasOwnProperty.call(e.data, k));
      message = `${where}: give exactly one of ${keys.join(', ')}${given.length > 1 ? `, not ${given.join(' and ')} together` : ''}`;
      break;
    }
    case 'const':
      message = `${where}: ${show(e.data)} is not valid; expected ${valid ?? JSON.stringify((e.params as { allowedValue: unknown }).allowedValue)}`;
      break;
    case 'type':
      message = `${where}: ${show(e.data)} is a ${typeName(e.data)}; expected ${valid ?? `a ${(e.params as { type: string }).type}`}`;
      break;
    default:
      message = `${where}: ${show(e.data)} ${e.message ?? 'is not valid'}${valid ? `; expected ${valid}` : ''}`;
  }
  const pos = 'doc' in src ? locate(src, path, { key: atKey }) : { line: 1, column: 1 };
  return { file: src.file, line: pos.line, column: pos.column, message };
}

function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'list';
  if (typeof v === 'object') return 'mapping';
  return typeof v;
}

export function show(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v.length > 80 ? `${v.slice(0, 77)}...` : v);
  if (v === null || typeof v !== 'object') return String(v);
  const s = JSON.stringify(v);
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
}
