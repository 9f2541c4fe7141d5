import { readFileSync } from 'node:fs';
import path from 'node:path';
import type HandlebarsNS from 'handlebars';
import HandlebarsRuntime from 'handlebars/runtime.js';
import { createRequire } from 'node:module';
import { artifact, ROOT } from '../../artifacts.js';

type Handlebars = typeof HandlebarsNS;
const require = createRequire(import.meta.url);

export const TEMPLATES_DIR = path.join(ROOT, 'templates');

/** Escapes a string for a Nix double-quoted string: backslash, quote and the start of an interpolation. */
export function nixString(s: string): string {
  return `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\$\{/g, '\\${').replace(/\n/g, '\\n').replace(/\r/g, '\\r').replace(/\t/g, '\\t')}"`;
}

/** A Nix indented string (''...''), for scripts a reviewer reads: '' and ${ escaped as Nix wants. */
export function nixLines(s: string, indent = '        '): string {
  const body = s.split('\n').map((l) => (l ? `${indent}${l.replace(/''/g, "'''").replace(/\$\{/g, "''${")}` : '')).join('\n');
  return `''\n${body}\n${indent.slice(2)}''`;
}

/** Nix attribute name: bare when it is an identifier, else a quoted string. */
export function nixAttr(s: string): string {
  return /^[A-Za-z_][A-Za-z0-9_'-]*$/.test(s) ? s : nixString(s);
}

let instance: Handlebars | null = null;

/** One private Handlebars instance with migen's helpers (never the global one). */
export function hbs(): Handlebars {
  if (instance) return instance;
  // With precompiled templates only the small runtime is needed (imported, so that the bundle holds
  // it); the compiler serves src/ (tests).
  const base = (precompiledAll() ? HandlebarsRuntime : require('handlebars')) as Handlebars & { default?: Handlebars };
  const h = (base.default ?? base).create();
  h.registerHelper('nix', (v: unknown) => new h.SafeString(nixString(String(v))));
  h.registerHelper('attr', (v: unknown) => new h.SafeString(nixAttr(String(v))));
  h.registerHelper('lines', (v: unknown) => new h.SafeString(nixLines(String(v))));
  h.registerHelper('nixInt', (v: unknown) => {
    if (typeof v !== 'number' || !Number.isInteger(v)) throw new Error(`nixInt: not an integer: ${String(v)}`);
    return new h.SafeString(String(v));
  });
  instance = h;
  return h;
}

const compiled = new Map<string, HandlebarsTemplateDelegate>();

type Spec = Parameters<Handlebars['template']>[0];
let specs: Record<string, Spec> | null | undefined;
/** Templates precompiled at build time (scripts/compile-templates.mjs), when running from dist/. */
function precompiledAll(): Record<string, Spec> | null {
  if (specs === undefined) {
    specs = artifact('templates.cjs') as Record<string, Spec> | null;
  }
  return specs;
}
function precompiled(name: string): Spec | undefined {
  return precompiledAll()?.[name];
}

/** A template by its path under templates/, precompiled when available. */
export function template(name: string): HandlebarsTemplateDelegate {
  let t = compiled.get(name);
  if (!t) {
    const spec = precompiled(name);
    t = spec ? hbs().template(spec) : hbs().compile(readFileSync(path.join(TEMPLATES_DIR, name), 'utf8'), { noEscape: true, strict: true });
    compiled.set(name, t);
  }
  return t;
}

/** Renders templates/<name> with a view model. Markdown/text templates use noEscape; Nix values go through {{nix}}. */
export function renderTemplate(name: string, view: unknown): string {
  return template(name)(view);
}
