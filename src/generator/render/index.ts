// Every generated file as pure data, from the plans and the inputs' hashes; emit writes them
// (and migen.sum). Paths are relative to the output directory.
import type { Inputs } from '../pipeline.js';
import type { OutFile } from '../types.js';
import { headerText, type Header } from './header.js';
import { renderHostModules } from './nix/index.js';
import { renderMigrationJson, renderMigrationMarkdown } from './plan/index.js';
import { runbookSources, type RunbookSource } from './runbook/source.js';

export type { OutFile } from '../types.js';

/** Every file but the runbooks, and the runbooks' sources (printed with ts-morph by printRunbooks, which only generate and check load). */
export function renderAll(inputs: Inputs): { files: OutFile[]; runbooks: RunbookSource[] } {
  const header: Header = { manifests: inputs.manifests.map((m) => m.path), digest: inputs.hashes.digest };
  const files: OutFile[] = [];
  for (const plan of inputs.plans) {
    const h = headerText({ manifests: [plan.manifest], digest: header.digest });
    for (const m of plan.migrations) {
      files.push({ path: `plans/${m.name}.md`, content: renderMigrationMarkdown(m, `<!-- ${h} -->\n`) });
      files.push({ path: `plans/${m.name}.json`, content: renderMigrationJson(plan, m, h) });
    }
  }
  files.push(...renderHostModules(inputs.plans, header));
  return { files, runbooks: runbookSources(inputs, header) };
}
