// Runs a step's scripts: bash over ssh on a host (or on the operator's machine), and a pipe of two
// hosts as two ssh processes, the first's output the second's input. Connection reuse keeps
// cutover steps free of handshakes; host keys are always checked against known_hosts.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { RunbookHost } from '../runbook/def.js';
import { isPipe, type HostScript, type Script } from '../runbook/steps.js';

export interface ExecResult { readonly code: number; readonly stdout: string; readonly stderr: string; readonly ms: number; readonly on?: string }
export interface ExecOptions { readonly stream?: (chunk: string) => void; readonly signal?: AbortSignal; readonly forwardAgent?: boolean }

export interface Executor {
  run(script: Script, opts?: ExecOptions): Promise<ExecResult>;
  close(): Promise<void>;
}

/** Every script runs under these settings: a failing command fails the step. */
export const PRELUDE = 'set -euo pipefail';

/**
 * The script as `bash -s` reads it from stdin: one brace group, parsed whole before it runs,
 * with stdin from /dev/null. Otherwise the first command that reads stdin (psql, read, an ssh)
 * swallows the rest of the script, which then never runs while the step still exits 0.
 */
export function stdinScript(prelude: string, script: string): string {
  return `${prelude}\n{\n${script}\n} </dev/null\n`;
}

/** One word for any POSIX shell (the remote login shell parses ssh's command line). */
export const shellWord = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

type Zx = typeof import('zx').$;

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

  private env(): NodeJS.ProcessEnv { return { ...process.env, ...this.o.env }; }

  /** The process of one host's script; `readsStdin`: it reads a pipe, so it travels on ssh's command line instead of stdin. */
  private spawn($: Zx, s: HostScript, opts: ExecOptions, readsStdin: boolean) {
    const base = { nothrow: true, quiet: true, cwd: this.o.cwd, env: this.env(), signal: opts.signal };
    // cd /: the login directory may not be readable by the users steps switch to (runuser).
    const prelude = s.on === 'operator' ? PRELUDE : `${PRELUDE}\ncd /`;
    if (s.on === 'operator') {
      return readsStdin ? $(base)`bash -c ${`${prelude}\n${s.script}`}` : $({ ...base, input: stdinScript(prelude, s.script) })`bash -s`;
    }
    const host = this.o.hosts[s.on];
    if (!host) return null;
    const ssh = this.sshArgs(opts.forwardAgent);
    return readsStdin
      ? $(base)`ssh ${ssh} ${host.ssh} ${`bash -c ${shellWord(`${prelude}\n${s.script}`)}`}`
      : $({ ...base, input: stdinScript(prelude, s.script) })`ssh ${ssh} ${host.ssh} bash -s`;
  }

  async run(script: Script, opts: ExecOptions = {}): Promise<ExecResult> {
    const { $ } = await import('zx');
    const started = Date.now();
    const parts = isPipe(script) ? script.pipe : [script];
    const procs = [];
    for (const [i, part] of parts.entries()) {
      const p = this.spawn($, part, opts, i > 0);
      if (!p) return { code: 255, stdout: '', stderr: `unknown host ${part.on}`, ms: 0, on: part.on };
      procs.push(p);
    }
    const last = procs.length > 1 ? procs[0]!.pipe(procs[1]!) : procs[0]!;
    if (opts.stream) last.stdout.on('data', (d: Buffer) => opts.stream!(d.toString()));
    const results = await Promise.all([...procs.slice(0, -1), last]);
    const code = (r: (typeof results)[number]): number => r.exitCode ?? (r.signal ? 128 : 1);
    // As bash's pipefail: the last part that failed decides, and the report names its host.
    const failed = results.map((r, i) => ({ r, i })).filter(({ r }) => code(r) !== 0).pop();
    const r = failed?.r ?? results[results.length - 1]!;
    return {
      code: code(r), stdout: results[results.length - 1]!.stdout, stderr: results.map((x) => x.stderr).join(''), ms: Date.now() - started,
      on: parts[failed?.i ?? parts.length - 1]!.on,
    };
  }

  async close(): Promise<void> {
    const { $ } = await import('zx');
    // Close the shared connections, then remove their sockets.
    await Promise.all(Object.values(this.o.hosts).map((h) => $({ nothrow: true, quiet: true, env: this.env() })`ssh ${this.sshArgs()} -O exit ${h.ssh}`));
    rmSync(this.controlDir, { recursive: true, force: true });
  }
}
