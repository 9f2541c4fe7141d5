/**
 * e2e helpers: run the committed generated runbooks (generated/runbooks/migrate-NAME.mjs, through
 * `node bin/migen.js run NAME`) as the operator of a lab whose hosts carry the example fleet's
 * names and addresses. The runbook's --root is a directory inside the lab holding copies of the
 * example's manifests and inventory (the runtime hashes them relative to --root and writes its
 * journal and report to <root>/.migen/NAME/), so a run never writes into the checkout.
 */
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { processesMatching, type Lab, type SystemProfile } from '../lab/index.js';
import { deployedProfile } from './deployed.js';

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const MIGEN = path.join(REPO, 'bin', 'migen.js');

interface InventoryHost { address: string; nginx?: { virtualHosts?: Record<string, { locations?: Record<string, { proxyPass?: string | null }> }> } }
export interface Inventory { hosts: Record<string, InventoryHost> }
export interface PlanMigration {
  name: string;
  proxy: { name: string; address: string } | null;
  from: { name: string; address: string };
  to: { name: string; address: string };
  routes: { moved: { domain: string; location: string; from: string; to: string }[]; staying: unknown[] };
}

export const inventory = (): Inventory => JSON.parse(fs.readFileSync(path.join(REPO, 'examples/homelab/inventory.json'), 'utf8')) as Inventory;
export const plan = (name: string): PlanMigration =>
  (JSON.parse(fs.readFileSync(path.join(REPO, 'generated/plans', `${name}.json`), 'utf8')) as { migrations: PlanMigration[] }).migrations.find((m) => m.name === name)!;
/** The restic password file the committed plan's backup of `name` reads (null: root's environment), where a lab host must hold it. */
export const resticPasswordFile = (name: string): string | null =>
  (plan(name) as unknown as { backup: { passwordFile?: string | null } }).backup.passwordFile ?? null;
export const runbookSteps = async (name: string): Promise<{ id: string; kind: string; phase: string }[]> =>
  ((await import(path.join(REPO, 'generated/runbooks', `migrate-${name}.mjs`))) as { runbook: { steps: { id: string; kind: string; phase: string }[] } }).runbook.steps;

/** the lab host list: the inventory's addresses for these names */
export function fleet(names: string[]): { name: string; address: string }[] {
  const inv = inventory();
  return names.map((name) => ({ name, address: inv.hosts[name]!.address }));
}

/**
 * The proxy of migration `name` and its system profiles (test/e2e/deployed.ts): 'base', what the
 * runbook's deploy activates (the generated modules: each moved location reads its backend from a
 * route file, an nginx upstream), and 'previous', the proxy's configuration without the generated
 * module (the locations proxy straight to the inventory's backends). `units`: the lab units of the
 * proxy (nginx, and vaultwarden where o001 is also the old host).
 */
export async function proxyProfiles(name: string, units: string[] = ['nginx']): Promise<{ proxy: string; profiles: Record<string, SystemProfile> }> {
  const p = plan(name);
  if (!p.proxy) throw new Error(`${name} has no proxy`);
  const base = await deployedProfile(p.proxy.name, units);
  const previous = await deployedProfile(p.proxy.name, units, { variant: 'without-migen' });
  // the evaluation agrees with the plan: every moved location's old backend is the previous route
  for (const m of p.routes.moved) {
    const was = previous.nginx?.vhosts.find((v) => v.serverName === m.domain)?.locations[m.location]?.proxyPass;
    if (was !== m.from) throw new Error(`plan says ${m.domain}${m.location} moves from ${m.from}, the proxy's configuration has ${was}`);
  }
  return { proxy: p.proxy.name, profiles: { base, previous } };
}

/**
 * `server_name -> [location proxy_pass...]` of an nginx.conf written by the lab. With `files`
 * (path -> content of the files its upstream blocks include, the route files), a proxy_pass to an
 * upstream of one server reads as `http://<that server>` (`:80` left out), the route nginx uses.
 */
export function nginxRoutes(conf: string, files: Record<string, string> = {}): Record<string, string[]> {
  const upstreams: Record<string, string[]> = {};
  let up: string | undefined;
  for (const line of conf.split('\n')) {
    const u = /^\s*upstream (\S+) \{/.exec(line);
    if (u) { up = u[1]!; upstreams[up] = []; continue; }
    if (up && /^\s*\}/.test(line)) { up = undefined; continue; }
    if (!up) continue;
    const inc = /^\s*include (\S+);/.exec(line);
    const text = inc ? files[inc[1]!] ?? '' : line;
    for (const m of text.matchAll(/^\s*server (\S+?);/gm)) upstreams[up]!.push(m[1]!);
  }
  const out: Record<string, string[]> = {};
  let cur: string | undefined;
  for (const line of conf.split('\n')) {
    const sn = /^\s*server_name (\S+);/.exec(line);
    if (sn) { cur = sn[1]!; out[cur] = []; continue; }
    const loc = /^\s*location (\S+) \{/.exec(line);
    if (loc && cur) out[cur]!.push(loc[1]!);
    const pp = /^\s*proxy_pass (\S+);/.exec(line);
    if (pp && cur) {
      const name = /^http:\/\/([^/:]+)$/.exec(pp[1]!)?.[1];
      const servers = name ? upstreams[name] : undefined;
      out[cur]!.push(servers?.length === 1 ? `http://${servers[0]!.replace(/:80$/, '')}` : pp[1]!);
    }
  }
  return out;
}

/** nginxRoutes of a host's /etc/nginx/nginx.conf with the route files it includes (read on the host) */
export async function proxyRoutes(lab: Lab, host: string): Promise<Record<string, string[]>> {
  const conf = (await lab.exec(host, 'cat /etc/nginx/nginx.conf')).stdout;
  const files: Record<string, string> = {};
  for (const m of conf.matchAll(/^\s*include (\/\S+);/gm)) {
    const r = await lab.exec(host, `cat '${m[1]!.replace(/'/g, '')}'`);
    if (r.code === 0) files[m[1]!] = r.stdout;
  }
  return nginxRoutes(conf, files);
}

/** a --root for the runbooks inside the lab directory: the example's manifests and inventory */
export function makeRoot(lab: Lab, sub = 'repo'): string {
  const root = path.join(lab.dir, sub);
  fs.rmSync(root, { recursive: true, force: true });
  fs.mkdirSync(path.join(root, 'examples/homelab/migrations'), { recursive: true });
  for (const f of ['examples/homelab/inventory.json', 'examples/homelab/migrations/vaultwarden.yaml', 'examples/homelab/migrations/adguardhome.yaml']) {
    fs.copyFileSync(path.join(REPO, f), path.join(root, f));
  }
  return root;
}

export interface MigenRun {
  readonly child: ChildProcess;
  readonly done: Promise<{ code: number; stdout: string; stderr: string; ms: number }>;
  /** the output so far */
  output(): string;
}

/**
 * `node bin/migen.js run NAME --yes --root ROOT --ssh-config <lab> ...extra` as the operator.
 * `yes: false` leaves out --yes: stdin is no terminal, so the confirmation is refused.
 * `laptop: true` runs it in the lab's laptop namespace (its link can be cut on its own).
 */
export function migenRun(lab: Lab, name: string, root: string, extra: string[] = [], env: NodeJS.ProcessEnv = {}, opts: { yes?: boolean; laptop?: boolean } = {}): MigenRun {
  return migenAs(lab, ['run', name, ...(opts.yes === false ? [] : ['--yes']), '--root', root, '--ssh-config', lab.sshConfig, ...extra], { env, laptop: opts.laptop });
}

/** `node bin/migen.js ARGS` as the operator (in `cwd`, default the repository), its output collected. */
export function migenAs(lab: Lab, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; laptop?: boolean } = {}): MigenRun {
  const t0 = Date.now();
  // `laptop`: from the operator's own link (lab.setLaptopLink cuts it), not the clients' namespace
  const child = (opts.laptop ? lab.laptopSpawn.bind(lab) : lab.operatorSpawn.bind(lab))([process.execPath, MIGEN, ...args], {
    cwd: opts.cwd ?? REPO,
    env: { NO_COLOR: '1', ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const done = new Promise<{ code: number; stdout: string; stderr: string; ms: number }>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, sig) => resolve({ code: code ?? (sig === 'SIGKILL' ? 137 : 128), stdout, stderr, ms: Date.now() - t0 }));
  });
  return { child, done, output: () => stdout + stderr };
}

export interface JournalFile { runId: string; status: string; steps: Record<string, { status: string; ms: number }>; windowStart: number | null; windowEnd: number | null }
export function readJournal(root: string, name: string): JournalFile | null {
  try { return JSON.parse(fs.readFileSync(path.join(root, '.migen', name, 'journal.json'), 'utf8')) as JournalFile; } catch { return null; }
}

export interface ReportFile {
  result: string;
  message: string;
  steps: { id: string; status: string; ms: number }[];
  passes: { pass: number; movedBytes: number; remainingBytes: number; ms: number }[];
  window: { startedAt: string | null; endedAt: string | null; ms: number | null };
}
export const readReport = (root: string, name: string): ReportFile => JSON.parse(fs.readFileSync(path.join(root, '.migen', name, 'report.json'), 'utf8')) as ReportFile;

/**
 * Resolves once `pred(journal)` holds, polling the journal every 2 ms (it is rewritten
 * atomically after every step, so a read never sees half a file). Rejects when the run ends first.
 */
export async function whenJournal(root: string, name: string, run: MigenRun, pred: (j: JournalFile) => boolean, timeoutMs = 120_000): Promise<JournalFile> {
  let ended = false;
  void run.done.then(() => (ended = true));
  const until = Date.now() + timeoutMs;
  for (;;) {
    const j = readJournal(root, name);
    if (j && pred(j)) return j;
    if (ended) throw new Error(`the run ended before the journal condition held:\n${run.output()}`);
    if (Date.now() > until) throw new Error(`timeout waiting for the journal:\n${run.output()}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

/**
 * The operator's machine dies: SIGKILL the runbook, then every ssh process it left (clients and
 * the ControlPersist masters, all with control sockets under the lab operator's TMPDIR), so its
 * connections drop as they would in a crash.
 */
export async function crashOperator(lab: Lab, run: MigenRun): Promise<void> {
  run.child.kill('SIGKILL');
  await run.done;
  const tmp = `${lab.dir}/t/`;
  for (let i = 0; i < 3; i++) {
    const left = processesMatching(tmp);
    if (!left.length) break;
    for (const p of left) try { process.kill(p.pid, 'SIGKILL'); } catch { /* gone */ }
    await new Promise((r) => setTimeout(r, 50));
  }
  for (const d of fs.readdirSync(tmp)) fs.rmSync(path.join(tmp, d), { recursive: true, force: true });
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
