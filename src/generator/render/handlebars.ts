import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import Handlebars from 'handlebars';

export const TEMPLATES_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../templates');

/** Escapes a string for a Nix double-quoted string: backslash, quote and the start of an interpolation. */
export function nixString(s: string): string {
  return `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\$\{/g, '\\${').replace(/\n/g, '\\n').replace(/\r/g, '\\r').replace(/\t/g, '\\t')}"`;
}

/** Nix attribute name: bare when it is an identifier, else a quoted string. */
export function nixAttr(s: string): string {
  return /^[A-Za-z_][A-Za-z0-9_'-]*$/.test(s) ? s : nixString(s);
}

let instance: typeof Handlebars | null = null;

/** One private Handlebars instance with migen's helpers (never the global one). */
export function hbs(): typeof Handlebars {
  if (instance) return instance;
  const h = Handlebars.create();
  h.registerHelper('nix', (v: unknown) => new h.SafeString(nixString(String(v))));
  h.registerHelper('attr', (v: unknown) => new h.SafeString(nixAttr(String(v))));
  h.registerHelper('nixInt', (v: unknown) => {
    if (typeof v !== 'number' || !Number.isInteger(v)) throw new Error(`nixInt: not an integer: ${String(v)}`);
    return new h.SafeString(String(v));
  });
  instance = h;
  return h;
}

const compiled = new Map<string, HandlebarsTemplateDelegate>();

/** Renders templates/<name> with a view model. Markdown/text templates use noEscape; Nix values go through {{nix}}. */
export function renderTemplate(name: string, view: unknown): string {
  let t = compiled.get(name);
  if (!t) {
    const src = readFileSync(path.join(TEMPLATES_DIR, name), 'utf8');
    t = hbs().compile(src, { noEscape: true, strict: true });
    compiled.set(name, t);
  }
  return t(view);
}
