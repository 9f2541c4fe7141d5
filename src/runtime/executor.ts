// Runs a step's bash on a host over ssh (or on the operator's machine). Connection reuse keeps
// cutover steps free of handshakes; host keys are always checked against known_hosts.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { RunbookHost } from './types.js';

export interface ExecResult { readonly code: number; readonly stdout: string; readonly stderr: string; readonly ms: number }
export interface ExecOptions { readonly stream?: (chunk: string) => void; readonly signal?: AbortSignal; readonly forwardAgent?: boolean }

export interface Executor {
  run(on: string, script: string, opts?: ExecOptions): Promise<ExecResult>;
  close(): Promise<void>;
}

/** Every remote script runs under these settings: a failing command fails the step. */
export const PRELUDE = 'set -euo pipefail';

/**
 * The script as `bash -s` reads it from stdin: one brace group, parsed whole before it runs,
 * with stdin from /dev/null. Otherwise the first command that reads stdin (an ssh in
 * `migen_ssh a ... | migen_ssh b ...`, psql, read) swallows the rest of the script, which then
 * never runs while the step still exits 0.
 */
export function stdinScript(prelude: string, script: string): string {
  return `${prelude}\n{\n${script}\n} </dev/null\n`;
}

export interface SshOptions {
  readonly hosts: Readonly<Record<string, RunbookHost>>;
  /** An ssh_config file (e.g. a lab's); default: the user's. Also read from MIGEN_SSH_CONFIG. */
  readonly sshConfig?: string;
  readonly cwd: string;
  readonly env?: NodeJS.ProcessEnv;
}

export class SshExecutor implements Executor {
  private readonly controlDir = mkdtempSync(path.join(tmpdir(), 'migen-ssh-'));
  constructor(private readonly o: SshOptions) {}

  sshArgs(forwardAgent = false): string[] {
    const cfg = this.o.sshConfig ?? this.o.env?.MIGEN_SSH_CONFIG ?? process.env.MIGEN_SSH_CONFIG;
    return [
      ...(cfg ? ['-F', cfg] : []),
      '-o', 'BatchMode=yes',
      '-o', 'StrictHostKeyChecking=yes',
      '-o', 'ControlMaster=auto',
      '-o', `ControlPath=${this.controlDir}/%C`,
      '-o', 'ControlPersist=300',
      '-o', 'ConnectTimeout=10',
      '-o', 'ServerAliveInterval=5',
      '-o', 'ServerAliveCountMax=3',
      ...(forwardAgent ? ['-A'] : []),
    ];
  }

  async run(on: string, script: string, opts: ExecOptions = {}): Promise<ExecResult> {
    const { $, quote } = await import('zx');
    const started = Date.now();
    let p;
    if (on === 'operator') {
      // Operator scripts can reach hosts with the runbook's ssh settings: migen_ssh HOST 'command'.
      const targets = Object.values(this.o.hosts).map((h) => `    ${quote(h.name)}) t=${quote(h.ssh)} ;;`).join('\n');
      const prelude = [
        PRELUDE,
        'migen_ssh() {',
        '  local t',
        '  case "$1" in',
        targets,
        '    *) echo "migen_ssh: unknown host $1" >&2; return 2 ;;',
        '  esac',
        `  ssh ${this.sshArgs().map(quote).join(' ')} "$t" "$2"`,
        '}',
      ].join('\n');
      p = $({ input: stdinScript(prelude, script), nothrow: true, quiet: true, cwd: this.o.cwd, env: { ...process.env, ...this.o.env }, signal: opts.signal })`bash -s`;
    } else {
      const host = this.o.hosts[on];
      if (!host) return { code: 255, stdout: '', stderr: `unknown host ${on}`, ms: 0 };
      // cd /: the login directory may not be readable by the users steps switch to (runuser).
      p = $({ input: stdinScript(`${PRELUDE}\ncd /`, script), nothrow: true, quiet: true, cwd: this.o.cwd, env: { ...process.env, ...this.o.env }, signal: opts.signal })`ssh ${this.sshArgs(opts.forwardAgent)} ${host.ssh} bash -s`;
    }
    if (opts.stream) p.stdout.on('data', (d: Buffer) => opts.stream!(d.toString()));
    const r = await p;
    return { code: r.exitCode ?? (r.signal ? 128 : 1), stdout: r.stdout, stderr: r.stderr, ms: Date.now() - started };
  }

  async close(): Promise<void> {
    const { $ } = await import('zx');
    // Close the shared connections, then remove their sockets.
    await Promise.all(Object.values(this.o.hosts).map((h) => $({ nothrow: true, quiet: true, env: { ...process.env, ...this.o.env } })`ssh ${this.sshArgs()} -O exit ${h.ssh}`));
    rmSync(this.controlDir, { recursive: true, force: true });
  }
}
