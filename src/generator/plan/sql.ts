// SQL quoting, for the one place that builds SQL: identifiers and literals from the plan (the
// schema constrains them today; quoting keeps that from being what makes them safe).

/** A quoted SQL identifier: "name", embedded double quotes doubled. */
export const ident = (name: string): string => `"${name.replace(/"/g, '""')}"`;

/** A quoted SQL string literal: 'text', embedded single quotes doubled (standard_conforming_strings). */
export const literal = (text: string): string => `'${text.replace(/'/g, "''")}'`;
