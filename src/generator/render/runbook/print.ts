// Prints a runbook module with ts-morph: the statements are built as structures by a pure
// function and printed once through one in-memory project with fixed formatting. Loaded only by
// commands that write or check runbooks (the TypeScript compiler costs half a second).
import { IndentationText, Project, QuoteKind, StructureKind, type OptionalKind, type SourceFileStructure } from 'ts-morph';
import { hostsOfScript, scriptsOf, type Step } from '../../../runbook/steps.js';
import type { RunbookDef } from '../../../runbook/def.js';
import type { RunbookSource } from './source.js';
import { jsLiteral, type LiteralOptions } from './literal.js';

/** The module as data: an import, the runbook literal, and the direct-run guard. */
export function runbookStructure(def: RunbookDef, comment: LiteralOptions['comment']): OptionalKind<SourceFileStructure> {
  return {
    statements: [
      { kind: StructureKind.ImportDeclaration, moduleSpecifier: 'node:url', namedImports: ['pathToFileURL'] },
      "/** @type {import('migen/runtime').RunbookDef} */",
      `export const runbook = ${jsLiteral(def, { comment })};`,
      (w) => {
        w.blankLine();
        w.writeLine('// Run directly (node generated/runbooks/migrate-NAME.mjs); `migen run NAME` imports `runbook` instead.');
        w.write('if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href)').block(() => {
          w.writeLine("const { main } = await import('migen/runtime');");
          w.writeLine('process.exitCode = await main(runbook, process.argv.slice(2));');
        });
      },
    ],
  };
}

/** The comment above each step: its number, phase, hosts and title. */
function stepComment(steps: readonly Step[]): LiteralOptions['comment'] {
  return (path) => {
    if (path.length !== 2 || path[0] !== 'steps') return null;
    const s = steps[path[1] as number]!;
    const hosts = scriptsOf(s).map((x) => hostsOfScript(x).join(' | ')).join(', ') || '-';
    return `${Number(path[1]) + 1}. ${s.phase} on ${hosts}${s.window ? ' [downtime]' : ''}: ${s.title}`;
  };
}

let project: Project | null = null;

export function printRunbook(src: RunbookSource): string {
  const { m, def } = src;
  project ??= new Project({ useInMemoryFileSystem: true, manipulationSettings: { indentationText: IndentationText.TwoSpaces, quoteKind: QuoteKind.Single, useTrailingCommas: true } });
  const sf = project.createSourceFile(`migrate-${m.name}.mjs`, runbookStructure(def, stepComment(def.steps)), { overwrite: true });
  const lines = [
    '#!/usr/bin/env node',
    `// ${src.header}`,
    `// Migration ${m.name}: ${m.serviceTitle}, ${m.strategy}, ${m.from.name} -> ${m.to.name}. Review generated/plans/${m.name}.md.`,
    `// Run: npx migen run ${m.name} [--dry-run] [--resume] [--yes] [--no-rollback], or nix run .#migrate-${m.name}`,
    '// Every step below names its host and the literal bash it runs there (with set -euo pipefail);',
    '// steps with an undo are undone in reverse order when a step fails. Fields at their default',
    '// (window: false, undo: null, ...) are left out.',
    '// @ts-check',
    '',
  ];
  const text = `${lines.join('\n')}${sf.getFullText()}`;
  project.removeSourceFile(sf);
  return text;
}
