// The executor feeds a step's script to `bash -s` on stdin. A command in the script that reads
// stdin (the first ssh of `migen_ssh a ... | migen_ssh b ...`, psql, read) must not swallow the
// rest of the script: found by the hot e2e run, where the schema copy after such a pipeline
// silently never ran and the step still exited 0.
import { describe, expect, it } from 'vitest';
import { SshExecutor } from '../../src/runtime/executor.js';

describe('SshExecutor: the script on stdin', () => {
  const ex = new SshExecutor({ hosts: {}, cwd: process.cwd() });

  it('a command that reads stdin does not eat the rest of the script', async () => {
    const r = await ex.run({ on: 'operator', script: 'n=$(cat | wc -c)\necho "stdin held $n bytes"\necho after' });
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('stdin held 0 bytes\nafter\n');
  });

  it('set -euo pipefail still fails the step, here-documents still work', async () => {
    expect((await ex.run({ on: 'operator', script: 'false\necho not reached' })).code).toBe(1);
    const r = await ex.run({ on: 'operator', script: "cat <<'SQL' | tr a-z A-Z\nselect 1;\nSQL\necho done" });
    expect(r.stdout).toBe('SELECT 1;\ndone\n');
  });

  it('a pipe runs as two processes, the output of the first the input of the second; either failing fails it', async () => {
    const pipe = (a: string, b: string) => ex.run({ pipe: [{ on: 'operator', script: a }, { on: 'operator', script: b }] });
    let r = await pipe("printf 'a\\nb\\n'\necho c", "read -r first\necho \"first=$first rest=$(tr '\\n' ' ')\"");
    expect([r.code, r.stdout]).toEqual([0, 'first=a rest=b c \n']);
    r = await pipe('echo x; exit 3', 'cat >/dev/null');
    expect(r.code).toBe(3);
    r = await pipe('echo x', 'cat >/dev/null; exit 4');
    expect(r.code).toBe(4);
    // the reading end's script is on its command line: a heredoc inside it still works
    r = await pipe('echo data', "cat <<'EOF'\nheredoc\nEOF\ncat");
    expect(r.stdout).toBe('heredoc\ndata\n');
  });
});
