import { quote } from 'zx/core';

/** Quotes each value for bash with zx's quote(); schema-constrained values come out unchanged. */
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
