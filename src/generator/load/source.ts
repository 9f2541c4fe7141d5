import type { Document, LineCounter, Node } from 'yaml';
import { isMap, isPair, isScalar, isSeq } from 'yaml';

/** A parsed YAML document that can locate any JSON path in its source. */
export interface SourceDoc {
  readonly file: string;
  readonly text: string;
  readonly doc: Document.Parsed;
  readonly lines: LineCounter;
  /** The document as plain data when it was parsed without YAML (a JSON inventory); doc and lines are then built on first use. */
  readonly data?: unknown;
}

export interface Position { readonly line: number; readonly column: number; }

/** Position of the node at `path` (keys and indices); `key: true` points at the key of the last segment. */
export function locate(src: SourceDoc, path: readonly (string | number)[], opts: { key?: boolean } = {}): Position {
  let node: unknown = src.doc.contents;
  let best: number = rangeStart(node) ?? 0;
  for (let i = 0; i < path.length; i++) {
    const seg = path[i];
    const last = i === path.length - 1;
    if (isMap(node)) {
      const pair = node.items.find((p) => isPair(p) && isScalar(p.key) && String(p.key.value) === String(seg));
      if (!pair) break;
      const keyStart = rangeStart(pair.key);
      if (last && opts.key && keyStart !== undefined) { best = keyStart; break; }
      node = pair.value;
      best = rangeStart(node) ?? keyStart ?? best;
    } else if (isSeq(node) && typeof seg === 'number') {
      const item = node.items[seg];
      if (item === undefined) break;
      node = item;
      best = rangeStart(node) ?? best;
    } else break;
  }
  const { line, col } = src.lines.linePos(best);
  return { line, column: col };
}

function rangeStart(node: unknown): number | undefined {
  const r = (node as Node | null | undefined)?.range;
  return r ? r[0] : undefined;
}
