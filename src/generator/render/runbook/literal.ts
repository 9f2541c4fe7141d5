// Prints plain data as a JavaScript literal a reviewer can read: every string in the quote style
// that needs the fewest escapes (multi-line scripts as template literals, String.raw when they
// hold backslashes, so bash reads exactly as it runs). Pure and deterministic.

const escapeLineTerminators = (s: string): string => s.replace(/\r/g, '\\r').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');

function quoted(s: string, q: "'" | '"'): string {
  return `${q}${escapeLineTerminators(s.replace(/\\/g, '\\\\').replace(new RegExp(q, 'g'), `\\${q}`))}${q}`;
}
const template = (s: string): string => `\`${s.replace(/\\/g, '\\\\').replace(/`/g, '\\`').replace(/\$\{/g, '\\${')}\``;
/** String.raw keeps backslashes as written; it cannot hold a backtick, `${`, or end in a backslash. */
const rawOk = (s: string): boolean => !s.includes('`') && !s.includes('${') && !s.endsWith('\\') && !/[\r\u2028\u2029]/.test(s);

const count = (s: string, re: RegExp): number => (s.match(re) ?? []).length;

export function jsString(s: string): string {
  if (s.includes('\n')) return s.includes('\\') && rawOk(s) ? `String.raw\`${s}\`` : template(s);
  const slashes = count(s, /\\/g);
  const single = slashes + count(s, /'/g);
  const double = slashes + count(s, /"/g);
  const tmpl = slashes + count(s, /`|\$\{/g);
  if (single <= double && single <= tmpl) return quoted(s, "'");
  if (double <= tmpl) return quoted(s, '"');
  return template(s);
}

const IDENT = /^[A-Za-z_$][A-Za-z0-9_$]*$/;
const key = (k: string): string => (IDENT.test(k) ? k : jsString(k));

export interface LiteralOptions {
  /** A comment printed above an array element, when it returns one. */
  readonly comment?: (path: readonly (string | number)[], value: unknown) => string | null;
}

export function jsLiteral(value: unknown, opts: LiteralOptions = {}, indent = '', path: (string | number)[] = []): string {
  const inner = `${indent}  `;
  if (value === null) return 'null';
  if (typeof value === 'string') return jsString(value);
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (Array.isArray(value)) {
    if (value.length === 0) return '[]';
    if (value.every((v) => typeof v !== 'object' || v === null)) return `[${value.map((v) => jsLiteral(v, opts, inner, path)).join(', ')}]`;
    const items = value.map((v, i) => {
      const c = opts.comment?.([...path, i], v);
      return `${c ? `${inner}// ${c.replace(/\n/g, ' ')}\n` : ''}${inner}${jsLiteral(v, opts, inner, [...path, i])},`;
    });
    return `[\n${items.join('\n')}\n${indent}]`;
  }
  if (typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined);
    if (entries.length === 0) return '{}';
    return `{\n${entries.map(([k, v]) => `${inner}${key(k)}: ${jsLiteral(v, opts, inner, [...path, k])},`).join('\n')}\n${indent}}`;
  }
  throw new Error(`jsLiteral: cannot print ${typeof value}`);
}
