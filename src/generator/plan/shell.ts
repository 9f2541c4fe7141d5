/**
 * zx's quote() for bash, restated so that `migen plan` does not load zx (about 60 ms of its start):
 * a word of [\w/.\-@:=] stays as it is, anything else becomes one ANSI-C `$'...'` word.
 * test/unit/shell.test.ts holds it equal to zx's own quote() on arbitrary strings and runs the
 * results through real bash.
 */
export function quote(arg: string): string {
  if (arg === '') return "$''";
  if (/^[\w/.\-@:=]+$/.test(arg)) return arg;
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
