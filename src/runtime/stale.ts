// A runbook runs only the plan it was generated from: refused when an input changed since, or the
// runbook was edited by hand.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import type { RunbookDef } from '../runbook/def.js';

const sha256 = (b: Buffer | string): string => createHash('sha256').update(b).digest('hex');

export function staleInputs(def: RunbookDef, root: string, runbookFile?: string): string[] {
  const problems: string[] = [];
  for (const input of def.inputs) {
    const p = path.resolve(root, input.path);
    if (!existsSync(p)) { problems.push(`${input.kind} ${input.path} is missing`); continue; }
    if (statSync(p).isDirectory()) { problems.push(`${input.kind} ${input.path} was read from a flake: export it (migen inventory > FILE) to run`); continue; }
    if (sha256(readFileSync(p)) !== input.sha256) problems.push(`${input.kind} ${input.path} changed since the runbook was generated`);
  }
  if (runbookFile) {
    const sum = path.resolve(path.dirname(runbookFile), '..', 'migen.sum');
    if (existsSync(sum)) {
      const rel = `runbooks/${path.basename(runbookFile)}`;
      const line = readFileSync(sum, 'utf8').split('\n').find((l) => l.startsWith(`file ${rel} `));
      if (!line) problems.push(`${rel} is not listed in migen.sum`);
      else if (line.split(' ')[2] !== sha256(readFileSync(runbookFile))) problems.push(`${rel} was edited by hand (its sha256 differs from migen.sum)`);
    }
  }
  return problems;
}
