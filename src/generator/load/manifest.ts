import { readFileSync } from 'node:fs';
import { LineCounter, parseDocument } from 'yaml';
import { UserError, ValidationError, type Problem } from '../../errors.js';
import type { SourceDoc } from './source.js';

const MAX_BYTES = 1024 * 1024;

/** Reads a manifest as YAML with source positions. Syntax errors become located problems. */
export function loadManifestSource(file: string): SourceDoc {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new UserError('E_READ', `${file}: cannot read the manifest (${(e as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  return parseManifestText(file, text);
}

export function parseManifestText(file: string, text: string, maxBytes: number = MAX_BYTES): SourceDoc {
  if (Buffer.byteLength(text) > maxBytes) {
    throw new ValidationError([{ file, line: 1, column: 1, message: `the manifest is larger than ${maxBytes} bytes; a manifest describes a few migrations and is far smaller` }]);
  }
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, uniqueKeys: true, prettyErrors: false, strict: true });
  const problems: Problem[] = doc.errors.map((err) => {
    const { line, col } = lines.linePos(err.pos[0]);
    return { file, line, column: col, message: `invalid YAML: ${firstLine(err.message)}` };
  });
  if (problems.length > 0) throw new ValidationError(problems.slice(0, 1));
  const src: SourceDoc = { file, text, doc, lines };
  return src;
}

/** The document as plain data (aliases resolved with a bounded count). */
export function manifestData(src: SourceDoc): unknown {
  if (Object.prototype.hasOwnProperty.call(src, 'data')) return src.data;
  try {
    return src.doc.toJS({ maxAliasCount: 50 });
  } catch (e) {
    throw new ValidationError([{ file: src.file, line: 1, column: 1, message: `invalid YAML: ${firstLine((e as Error).message)}` }]);
  }
}

function firstLine(s: string): string {
  return (s.split('\n')[0] ?? s).replace(/ at line \d+, column \d+:?$/, '').trim();
}
