// The journal of a run and its reports, under .migen/<name>/ in the repository the runbook runs
// from. Written atomically after every step.
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Journal, Report } from './types.js';

export interface JournalStore {
  load(): Journal | null;
  save(j: Journal): void;
  saveReport(r: Report): void;
  reportPath(r: Report): string;
}

export class FileJournal implements JournalStore {
  constructor(private readonly dir: string) {}
  private get file(): string { return path.join(this.dir, 'journal.json'); }
  load(): Journal | null {
    return existsSync(this.file) ? (JSON.parse(readFileSync(this.file, 'utf8')) as Journal) : null;
  }
  save(j: Journal): void {
    mkdirSync(this.dir, { recursive: true });
    const tmp = `${this.file}.tmp`;
    writeFileSync(tmp, `${JSON.stringify(j, null, 2)}\n`);
    renameSync(tmp, this.file);
  }
  reportPath(r: Report): string { return path.join(this.dir, `report-${r.runId}.json`); }
  saveReport(r: Report): void {
    mkdirSync(this.dir, { recursive: true });
    writeFileSync(this.reportPath(r), `${JSON.stringify(r, null, 2)}\n`);
    writeFileSync(path.join(this.dir, 'report.json'), `${JSON.stringify(r, null, 2)}\n`);
  }
}
