// Hostile values: each is refused by validation with a clear message, or reaches its destination
// as inert data. Shell scripts from generated runbooks are executed by real bash here.
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../src/errors.js';
import { prepare } from '../../src/generator/pipeline.js';
import { printRunbooks } from '../../src/generator/render/runbook/index.js';
import { renderAll } from '../../src/generator/render/index.js';
import type { Step } from '../../src/generator/plan/types.js';
import { ROOT } from '../helpers/cli.js';

const dir = mkdtempSync(path.join(tmpdir(), 'migen-inject-'));
const inventory = path.join(ROOT, 'examples/homelab/inventory.json');
const base = readFileSync(path.join(ROOT, 'examples/homelab/migrations/forgejo.yaml'), 'utf8').replace('inventory: ../inventory.json', '');

async function tryManifest(text: string): Promise<{ problems: string[]; steps: Step[] }> {
  const f = path.join(dir, `m${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(f, text);
  try {
    const inputs = await prepare([f], { inventory });
    return { problems: [], steps: [...inputs.plans[0]!.migrations[0]!.steps] };
  } catch (e) {
    if (e instanceof ValidationError) return { problems: e.problems.map((p) => `${p.line}:${p.column}: ${p.message}`), steps: [] };
    throw e;
  }
}

describe('refused by validation, with a located message', () => {
  it.each([
    ['ssh target with an option', 'hosts:\n  h002: { ssh: "-oProxyCommand=touch /tmp/x" }\n', /hosts\.h002\.ssh: .* is not valid; expected \[user@\]host/],
    ['ssh target with a command', 'hosts:\n  h002: { ssh: "root@h002;reboot" }\n', /hosts\.h002\.ssh/],
    ['address with shell', 'hosts:\n  h002: { address: "100.64.0.20$(id)" }\n', /expected an IPv4 address/],
    ['host name with a newline', 'proxy: "o001\\nreboot"\n', /proxy: .* is not valid; expected a host name/],
  ])('%s', async (_n, extra, want) => {
    const { problems } = await tryManifest(base.replace('version: 1\n', `version: 1\n${extra}`));
    expect(problems.join('\n')).toMatch(want);
  });

  it.each([
    ['state with $()', 'state: ["/var/lib/$(id)"]', /expected an absolute path/],
    ['state with backticks', 'state: ["/var/lib/`id`"]', /expected an absolute path/],
    ['state with a newline', 'state: ["/var/lib/a\\nb"]', /expected an absolute path/],
    ['state starting with -', 'state: ["-rf"]', /expected an absolute path/],
    ['state with ..', 'state: ["/var/lib/forgejo/../../etc"]', /expected an absolute path/],
    ['unit with ;', 'unit: "forgejo;reboot"', /expected a systemd unit name/],
    ['container with a space', 'container: "a b"', /expected a nixos-container name/],
    ['database name with a quote', 'database: { engine: postgresql, databases: ["z\'; DROP TABLE x; --"] }', /expected a PostgreSQL identifier/],
    ['restic tag with a space', 'backup: { restic: { repository: /backup/h001, tag: "a b" } }', /expected a tag/],
    ['restic repository with $()', 'backup: { restic: { repository: "/backup/$(id)" } }', /expected an absolute path or a restic backend/],
    ['secret name with /', 'secrets: ["../../etc/shadow"]', /expected a secret name/],
  ])('%s', async (_n, field, want) => {
    const text = base.replace(/    backup:\n      restic: .*\n/, '').replace('    strategy: warm\n', `    strategy: warm\n    ${field}\n`);
    const { problems } = await tryManifest(text);
    expect(problems.join('\n')).toMatch(want);
  });

  it.each([['a quote', 'git.joshuabell.xyz\\"'], ['${', 'git${x}.xyz'], ['a leading dash', '-git.xyz'], ['uppercase', 'Git.joshuabell.xyz']])('a domain with %s', async (_n, d) => {
    const { problems } = await tryManifest(base.replace('domains: [git.joshuabell.xyz]', `domains: ["${d}"]`));
    expect(problems.join('\n')).toMatch(/migrations\.forgejo\.domains\.0: .* is not valid; expected a lowercase DNS name/);
  });

  it('a manifest over 1 MiB', async () => {
    const { problems } = await tryManifest(`${base}# ${'x'.repeat(1_100_000)}\n`);
    expect(problems.join('\n')).toMatch(/larger than 1048576 bytes/);
  });
});

/** Runs a step's script with real bash, with a fake curl/ssh on PATH that records its argv. */
function runScript(script: string): { code: number; argv: string[] } {
  const bin = path.join(dir, 'bin');
  mkdirSync(bin, { recursive: true });
  const log = path.join(dir, 'argv.log');
  rmSync(log, { force: true });
  for (const tool of ['curl', 'git']) {
    writeFileSync(path.join(bin, tool), `#!/bin/bash\nfor a in "$@"; do printf '%s\\0' "$a" >> ${JSON.stringify(log)}; done\nprintf '200'\n`);
    chmodSync(path.join(bin, tool), 0o755);
  }
  const r = spawnSync('bash', ['-s'], { input: `set -euo pipefail\n${script}\n`, env: { PATH: `${bin}:/usr/bin:/bin` }, encoding: 'utf8' });
  const argv = existsSync(log) ? readFileSync(log, 'utf8').split('\0').filter(Boolean) : [];
  return { code: r.status ?? 1, argv };
}

describe('inert data: free text reaches bash quoted', () => {
  const marker = path.join(dir, 'pwned');
  const url = `https://git.joshuabell.xyz/$(touch\${IFS}${marker})/\`touch\${IFS}${marker}\`;touch\${IFS}${marker}'"`;

  it('a verify URL with $(), backticks, ; and quotes is one argument to curl, and nothing runs', async () => {
    const text = base.replace('      - http: https://git.joshuabell.xyz/\n', `      - http: ${JSON.stringify(url)}\n`);
    const { problems, steps } = await tryManifest(text);
    expect(problems).toEqual([]);
    const verify = steps.find((s) => s.id === 'verify-1')!;
    expect(verify.kind).toBe('probe');
    const r = runScript((verify as Extract<Step, { kind: 'probe' }>).run.script);
    expect(existsSync(marker)).toBe(false);
    expect(r.argv).toContain(url);
    expect(r.argv).toContain('--resolve');
    expect(r.code).toBe(0);
  });

  it('the same URL in the generated runbook is a JS string with the same text', async () => {
    const text = base.replace('      - http: https://git.joshuabell.xyz/\n', `      - http: ${JSON.stringify(url)}\n`);
    const f = path.join(dir, 'rb.yaml');
    writeFileSync(f, text);
    const inputs = await prepare([f], { inventory });
    const [rb] = await printRunbooks(renderAll(inputs).runbooks);
    const mod = path.join(dir, 'rb.mjs');
    writeFileSync(mod, rb!.content);
    const { runbook } = await import(mod) as { runbook: { steps: { id: string; run?: { script: string } }[] } };
    const script = runbook.steps.find((s) => s.id === 'verify-1')!.run!.script;
    expect(runScript(script).argv).toContain(url);
    expect(existsSync(marker)).toBe(false);
  });
});

describe('path tricks on the old host', () => {
  it('a state directory that is a symlink (to /etc) is refused by preflight before anything copies', async () => {
    const { steps } = await tryManifest(base);
    const check = steps.find((s) => s.id === 'state-real-dirs') as Extract<Step, { kind: 'check' }>;
    expect(check.run.on).toBe('h001');
    // Play the old host: the state paths live under a fake root.
    const fakeRoot = path.join(dir, 'root');
    mkdirSync(path.join(fakeRoot, 'var/lib/forgejo/postgres'), { recursive: true });
    // the container's uid/gid map (both of its /var/lib/ are rewritten below, the inner one too)
    mkdirSync(`${fakeRoot}/var/lib/nixos-containers/forgejo${fakeRoot}/var/lib/nixos`, { recursive: true });
    symlinkSync('/etc', path.join(fakeRoot, 'var/lib/forgejo/data'));
    const script = check.run.script.replaceAll('/var/lib/', `${fakeRoot}/var/lib/`);
    expect(spawnSync('bash', ['-c', `set -euo pipefail\n${script}`]).status).not.toBe(0);
    rmSync(path.join(fakeRoot, 'var/lib/forgejo/data'));
    mkdirSync(path.join(fakeRoot, 'var/lib/forgejo/data'));
    expect(spawnSync('bash', ['-c', `set -euo pipefail\n${script}`]).status).toBe(0);
    rmSync(path.join(fakeRoot, 'var/lib/forgejo/postgres'), { recursive: true });
    expect(spawnSync('bash', ['-c', `set -euo pipefail\n${script}`]).status).not.toBe(0); // missing
  });

  it('a target that already holds data this migration did not copy is refused; its own earlier copy is accepted', async () => {
    const { steps } = await tryManifest(base);
    const check = steps.find((s) => s.id === 'target-empty') as Extract<Step, { kind: 'check' }>;
    const fakeRoot = path.join(dir, 'new');
    mkdirSync(path.join(fakeRoot, 'var/lib/forgejo/data'), { recursive: true });
    writeFileSync(path.join(fakeRoot, 'var/lib/forgejo/data/precious'), 'x');
    const script = check.run.script.replaceAll('/var/lib/', `${fakeRoot}/var/lib/`);
    const refused = spawnSync('bash', ['-c', script], { encoding: 'utf8' });
    expect(refused.status).toBe(1);
    expect(refused.stderr).toMatch(/already holds data that migen did not copy/);
    rmSync(path.join(fakeRoot, 'var/lib/forgejo/data/precious'));
    expect(spawnSync('bash', ['-c', script]).status).toBe(0); // empty: accepted, and marked as ours
    writeFileSync(path.join(fakeRoot, 'var/lib/forgejo/data/copied-by-pass-1'), 'x');
    expect(spawnSync('bash', ['-c', script]).status).toBe(0); // our marker: a rerun continues
  });
});
