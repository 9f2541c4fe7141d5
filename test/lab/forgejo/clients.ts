/**
 * migen lab: git clients of the lab's Forgejo, in the operator's network namespace, through o001's
 * nginx over https (git-client.mjs, real git): the URL names git.joshuabell.xyz, the connection goes
 * to o001 (http.curloptResolve: SNI, Host and the certificate check are the domain's), and the lab
 * CA verifies the certificate (GIT_SSL_CAINFO; no sslVerify=false anywhere).
 * - pusher: a commit and a push every `intervalMs` (default 300) to refs/heads/<branch> (default
 *   main). `acked` lists the pushes the server acknowledged (exit 0 and the post-receive's
 *   push-event line for this commit: its push_events row is committed), `failed` every other
 *   attempt with its time; unacknowledged commits go out with the next push.
 * - reader: `git fetch` every `intervalMs` (default 500; every `cloneEvery`-th a fresh clone), each
 *   sample with the refs it saw.
 * stop() lets the operation in flight finish, so every acknowledgement the client saw is listed.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Runner } from '../clients.js';
import type { Lab } from '../lab.js';
import type { ForgejoSetup } from './fleet.js';

const GIT_CLIENT = path.join(path.dirname(fileURLToPath(import.meta.url)), 'git-client.mjs');

export interface GitClientOptions {
  repo?: string; // default test/repo
  branch?: string; // default main
  intervalMs?: number;
  maxMs?: number; // default 120 000
  maxCount?: number;
  timeoutMs?: number; // per git command, default 15 000
  /** names the client's working directory (<lab.dir>/git-clients/<id>) and its commits' files */
  id?: string;
}
export interface AckedPush { t: number; ms: number; seq: number; ref: string; old: string; new: string; event: number }
/** `rejected`: non-fast-forward (the client rebased); `unrecorded`: git exited 0 but no push-event line came back */
export interface FailedPush { t: number; ms: number; seq: number; commit: string; code: number; rejected: boolean; unrecorded: boolean; err: string }
export interface ReadSample { t: number; ok: boolean; ms: number; kind: 'fetch' | 'clone'; refs?: Record<string, string>; err?: string }

export interface Pusher {
  readonly acked: AckedPush[];
  readonly failed: FailedPush[];
  readonly done: Promise<void>;
  stop(): Promise<{ acked: AckedPush[]; failed: FailedPush[] }>;
}
export interface Reader {
  readonly samples: ReadSample[];
  readonly done: Promise<void>;
  stop(): Promise<ReadSample[]>;
}

let n = 0;
function clientArgs(lab: Lab, setup: ForgejoSetup, mode: string, o: GitClientOptions & { cloneEvery?: number }, auth: boolean): object {
  const id = o.id ?? `${mode}${++n}`;
  return {
    ...o,
    id,
    url: setup.url(o.repo, auth),
    dir: path.join(lab.dir, 'git-clients', id),
    env: setup.gitEnv,
    config: setup.gitConfig,
  };
}

export function startPusher(lab: Lab, setup: ForgejoSetup, opts: GitClientOptions = {}): Pusher {
  const r = new Runner(lab, 'pusher', clientArgs(lab, setup, 'pusher', { intervalMs: 300, ...opts }, true), GIT_CLIENT);
  const acked = () => r.lines.filter((l) => l.ok && !l.done) as unknown as AckedPush[];
  const failed = () => r.lines.filter((l) => !l.ok && !l.done) as unknown as FailedPush[];
  return {
    get acked() { return acked(); },
    get failed() { return failed(); },
    done: r.exited,
    async stop() { await r.stop(); return { acked: acked(), failed: failed() }; },
  };
}

export function startReader(lab: Lab, setup: ForgejoSetup, opts: GitClientOptions & { cloneEvery?: number } = {}): Reader {
  const r = new Runner(lab, 'reader', clientArgs(lab, setup, 'reader', { intervalMs: 500, ...opts }, false), GIT_CLIENT);
  const samples = () => r.lines.filter((l) => !l.done) as unknown as ReadSample[];
  return {
    get samples() { return samples(); },
    done: r.exited,
    async stop() { await r.stop(); return samples(); },
  };
}
