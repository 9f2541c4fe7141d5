/**
 * migen lab: load clients that run inside the lab's operator network namespace (the host
 * addresses exist only there) and talk to the service through the proxy host, by Host header.
 *
 * - writer: `POST /items` every `intervalMs` (default 20), sequentially, bounded by `maxMs` /
 *   `maxCount`; records every acknowledged id (201) with its time. `stop()` lets the request in
 *   flight finish, so every acknowledgement the client saw is in the list.
 * - prober: `GET /healthz` every `intervalMs` (default 50), records each sample (ok/fail, which
 *   host answered, time). `stop()` returns the samples and the longest unavailability window:
 *   from the first failing sample of a run of failures to the next successful sample (or the last
 *   sample when none succeeded afterwards), in ms.
 * - dnsProber: an A query every `intervalMs` to each of `servers` in turn (a resolver with
 *   fallback servers); ok when one answers; `host` = the server address that answered.
 * - nameClient: resolves `name` the same way every `intervalMs`, then GETs /healthz from the
 *   address it got: where a client that goes by the name really lands (`host` = the serving
 *   lab host, `answer` = the address, `server` = the DNS server that answered).
 * All are small node scripts (client-runner.mjs) started with lab.operatorSpawn; with `from: HOST`
 * in a lab host's network namespace instead (an application that listens on that host's loopback,
 * behind its own nginx, reached without the nginx).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Lab } from './lab.js';

const RUNNER = path.join(path.dirname(fileURLToPath(import.meta.url)), 'client-runner.mjs');

export interface ClientOptions {
  /** proxy address, e.g. '100.64.0.1' */
  address: string;
  /** run in this lab host's network namespace (default: the operator's), e.g. address '127.0.0.1' */
  from?: string;
  /** Host header = the vhost's server_name, e.g. 'vault.example.org' */
  host: string;
  port?: number; // default 80
  intervalMs?: number;
  maxMs?: number; // default 60 000
  maxCount?: number;
  timeoutMs?: number; // per request, default 2000 (writer) / 1000 (prober)
}
export interface WriterOptions extends ClientOptions {
  /** every n-th write asks for an attachment file (?attach=1) */
  attachEvery?: number;
}

export interface AckedWrite { id: number; t: number; ms: number; seq: number; attach: boolean }
export interface FailedRequest { t: number; ms: number; status?: number; err?: string; seq?: number }
export interface ProbeSample { t: number; ok: boolean; ms: number; host?: string; status?: number; err?: string }
export interface ProbeResult { samples: ProbeSample[]; longestOutageMs: number; hosts: Record<string, number>; failures: number }

export interface Line { t: number; ok: boolean; ms: number; done?: boolean; [k: string]: unknown }

/** a client script (default client-runner.mjs) in the operator namespace, printing one JSON line per request */
export class Runner {
  readonly child: ChildProcess;
  readonly lines: Line[] = [];
  private buf = '';
  private stderr = '';
  readonly exited: Promise<void>;

  constructor(lab: Lab, mode: string, opts: object, script = RUNNER) {
    const { from, ...args } = { mode, ...opts } as { from?: string; mode: string };
    const cmd = [process.execPath, script, JSON.stringify(args)];
    // nsenter -n alone execs the command: SIGTERM reaches the client, and the lab's teardown finds it in the host's netns
    this.child = from
      ? spawn('nsenter', ['-t', String(lab.hostPid(from)), '-n', '--', ...cmd], { stdio: ['ignore', 'pipe', 'pipe'] })
      : lab.operatorSpawn(cmd, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child.stdout!.setEncoding('utf8').on('data', (d: string) => {
      this.buf += d;
      let i: number;
      while ((i = this.buf.indexOf('\n')) >= 0) {
        const l = this.buf.slice(0, i);
        this.buf = this.buf.slice(i + 1);
        if (l.trim()) this.lines.push(JSON.parse(l) as Line);
      }
    });
    this.child.stderr!.setEncoding('utf8').on('data', (d: string) => (this.stderr += d));
    this.exited = new Promise((resolve, reject) => {
      this.child.on('error', reject);
      this.child.on('close', (code, sig) => {
        if (code !== 0 && sig !== 'SIGTERM') reject(new Error(`lab client ${mode} exited ${code ?? sig}: ${this.stderr}`));
        else resolve();
      });
    });
    this.exited.catch(() => {}); // reported by stop() / done, never as an unhandled rejection
  }

  async stop(): Promise<Line[]> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGTERM');
    await this.exited;
    return this.lines.filter((l) => !l.done);
  }
}

export interface Writer {
  /** acknowledged writes so far (live view) */
  readonly acked: AckedWrite[];
  readonly failed: FailedRequest[];
  /** resolves when the writer stopped on its own (maxMs / maxCount) */
  readonly done: Promise<void>;
  stop(): Promise<AckedWrite[]>;
}

export function startWriter(lab: Lab, opts: WriterOptions): Writer {
  const r = new Runner(lab, 'writer', { intervalMs: 20, ...opts });
  return {
    get acked() { return r.lines.filter((l) => l.ok && !l.done) as unknown as AckedWrite[]; },
    get failed() { return r.lines.filter((l) => !l.ok && !l.done) as unknown as FailedRequest[]; },
    done: r.exited,
    async stop() {
      const lines = await r.stop();
      return lines.filter((l) => l.ok) as unknown as AckedWrite[];
    },
  };
}

export interface Prober {
  readonly samples: ProbeSample[];
  readonly done: Promise<void>;
  stop(): Promise<ProbeResult>;
}

export function summarizeProbes(samples: ProbeSample[]): ProbeResult {
  let longest = 0;
  let failStart: number | undefined;
  const hosts: Record<string, number> = {};
  let failures = 0;
  for (const s of samples) {
    if (s.ok) {
      if (s.host) hosts[s.host] = (hosts[s.host] ?? 0) + 1;
      if (failStart !== undefined) longest = Math.max(longest, s.t - failStart);
      failStart = undefined;
    } else {
      failures++;
      failStart ??= s.t - s.ms; // when the failing request was sent
    }
  }
  const last = samples[samples.length - 1];
  if (failStart !== undefined && last) longest = Math.max(longest, last.t - failStart);
  return { samples, longestOutageMs: longest, hosts, failures };
}

export function startProber(lab: Lab, opts: ClientOptions): Prober {
  const r = new Runner(lab, 'prober', { intervalMs: 50, timeoutMs: 1000, ...opts });
  return {
    get samples() { return r.lines.filter((l) => !l.done) as unknown as ProbeSample[]; },
    done: r.exited,
    async stop() {
      return summarizeProbes((await r.stop()) as unknown as ProbeSample[]);
    },
  };
}

export interface DnsProberOptions {
  /** server addresses, asked in this order (port 53) */
  servers: string[];
  /** the name to resolve (an A record) */
  name: string;
  intervalMs?: number; // default 100
  maxMs?: number;
  timeoutMs?: number; // per server, default 300
}

export function startDnsProber(lab: Lab, opts: DnsProberOptions): Prober {
  const r = new Runner(lab, 'dns', { intervalMs: 100, timeoutMs: 300, ...opts });
  return {
    get samples() { return r.lines.filter((l) => !l.done) as unknown as ProbeSample[]; },
    done: r.exited,
    async stop() {
      return summarizeProbes((await r.stop()) as unknown as ProbeSample[]);
    },
  };
}

export interface NameClientOptions extends DnsProberOptions {
  /** port of the service on the resolved address (GET /healthz, Host: name), default 80 */
  port?: number;
}
export interface NameSample extends ProbeSample { answer?: string; server?: string }
export interface NameClient {
  readonly samples: NameSample[];
  readonly done: Promise<void>;
  stop(): Promise<ProbeResult & { samples: NameSample[] }>;
}

export function startNameClient(lab: Lab, opts: NameClientOptions): NameClient {
  const r = new Runner(lab, 'name', { intervalMs: 100, timeoutMs: 1000, ...opts });
  return {
    get samples() { return r.lines.filter((l) => !l.done) as unknown as NameSample[]; },
    done: r.exited,
    async stop() {
      return summarizeProbes((await r.stop()) as unknown as NameSample[]) as ProbeResult & { samples: NameSample[] };
    },
  };
}

/** aliases matching the brief's wording */
export const writer = startWriter;
export const prober = startProber;
