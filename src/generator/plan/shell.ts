/**
 * Quoting for bash, in the style that needs the fewest escapes: a word of [\w/.\-@:=] stays as it
 * is, a text without quotes or control characters goes in single quotes, anything else becomes
 * one ANSI-C `$'...'` word exactly as zx's quote() writes it (restated here, so that `migen plan`
 * does not load zx). test/unit/shell.test.ts holds it to zx's quote() and runs the results through
 * real bash.
 */
export function quote(arg: string): string {
  if (arg === '') return "''";
  if (/^[\w/.\-@:=]+$/.test(arg)) return arg;
  // eslint-disable-next-line no-control-regex
  if (!/['\u0000-\u001f\u007f]/.test(arg)) return `'${arg}'`;
  return (
    "$'" +
    arg
      .replace(/\\/g, '\\\\')
      .replace(/'/g, "\\'")
      .replace(/\f/g, '\\f')
      .replace(/\n/g, '\\n')
      .replace(/\r/g, '\\r')
      .replace(/\t/g, '\\t')
      .replace(/\v/g, '\\v')
      .replace(/\0/g, '\\0') +
    "'"
  );
}

/** Quotes each value for bash (quote() above); schema-constrained values come out unchanged. */
export const q = (v: string | number): string => quote(String(v));

/** Joins a command from literal words (trusted, written here) and values (quoted). */
export function cmd(strings: TemplateStringsArray, ...values: (string | number | readonly (string | number)[])[]): string {
  let out = strings[0] ?? '';
  values.forEach((v, i) => {
    out += Array.isArray(v) ? (v as (string | number)[]).map(q).join(' ') : q(v as string | number);
    out += strings[i + 1] ?? '';
  });
  return out;
}
