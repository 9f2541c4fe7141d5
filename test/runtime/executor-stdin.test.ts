// The executor feeds a step's script to `bash -s` on stdin. A command in the script that reads
// stdin (the first ssh of `migen_ssh a ... | migen_ssh b ...`, psql, read) must not swallow the
// rest of the script: found by the hot e2e run, where the schema copy after such a pipeline
// silently never ran and the step still exited 0.
import { describe, expect, it } from 'vitest';
import { SshExecutor } from '../../src/runtime/executor.js';

describe('SshExecutor: the script on stdin', () => {
  const ex = new SshExecutor({ hosts: {}, cwd: process.cwd() });

  it('a command that reads stdin does not eat the rest of the script', async () => {
    const r = await ex.run('operator', 'n=$(cat | wc -c)\necho "stdin held $n bytes"\necho after');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('stdin held 0 bytes\nafter\n');
  });

  it('set -euo pipefail still fails the step, here-documents still work', async () => {
    expect((await ex.run('operator', 'false\necho not reached')).code).toBe(1);
    const r = await ex.run('operator', "cat <<'SQL' | tr a-z A-Z\nselect 1;\nSQL\necho done");
    expect(r.stdout).toBe('SELECT 1;\ndone\n');
  });
});
