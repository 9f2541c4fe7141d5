/**
 * migen lab: checks on a host's Forgejo state, for the e2e tests. Repository checks read the host's
 * /var/lib/forgejo/data directly (running or not, as root with safe.directory, the repositories
 * belong to uid 986); pushEvents asks the container's PostgreSQL (the container must run);
 * pgControlState and pgStarts read the data directory and the container's PostgreSQL log.
 */
import type { Lab } from '../lab.js';
import { sq } from '../lab.js';
import { inContainer } from '../container.js';
import { FORGEJO, PGBIN } from './fleet.js';

export const repoDir = (repo = 'test/repo'): string => `${FORGEJO.repositories}/${repo}.git`;
const git = (repo: string): string => `git -c safe.directory='*' --git-dir=${sq(repoDir(repo))}`;

async function onHost(lab: Lab, host: string, script: string): Promise<string> {
  const r = await lab.exec(host, script);
  if (r.code !== 0) throw new Error(`forgejo check on ${host} failed (${r.code}): ${r.stderr.trim() || r.stdout.trim()}`);
  return r.stdout;
}

/** `git for-each-ref` of the repository on the host: ref name -> commit id */
export async function refs(lab: Lab, host: string, repo = 'test/repo'): Promise<Record<string, string>> {
  const out = await onHost(lab, host, `${git(repo)} for-each-ref --format='%(refname) %(objectname)'`);
  return Object.fromEntries(out.split('\n').filter(Boolean).map((l) => l.split(' ') as [string, string]));
}

/** `git fsck --full --strict`: ok when it exits 0 and reports nothing but dangling objects */
export async function fsck(lab: Lab, host: string, repo = 'test/repo'): Promise<{ ok: boolean; code: number; output: string }> {
  const r = await lab.exec(host, `${git(repo)} fsck --full --strict --no-progress 2>&1`);
  const bad = r.stdout.split('\n').filter((l) => l.trim() && !/^(dangling|Checking) /.test(l));
  return { ok: r.code === 0 && bad.length === 0, code: r.code, output: r.stdout.trim() };
}

/** the commits reachable from `ref`, newest first (`git rev-list`) */
export async function history(lab: Lab, host: string, repo = 'test/repo', ref = 'refs/heads/main'): Promise<string[]> {
  return (await onHost(lab, host, `${git(repo)} rev-list ${sq(ref)}`)).split('\n').filter(Boolean);
}

/** pairs [ancestor, descendant] for which `git merge-base --is-ancestor` fails on the host */
export async function notAncestors(lab: Lab, host: string, pairs: [string, string][], repo = 'test/repo'): Promise<[string, string][]> {
  if (!pairs.length) return [];
  const r = await lab.exec(host, `while read -r a b; do ${git(repo)} merge-base --is-ancestor "$a" "$b" 2>/dev/null || echo "$a $b"; done`, { input: pairs.map((p) => `${p[0]} ${p[1]}\n`).join('') });
  if (r.code !== 0) throw new Error(`notAncestors on ${host}: exit ${r.code}: ${r.stderr.trim()}`);
  return r.stdout.split('\n').filter(Boolean).map((l) => l.split(' ') as [string, string]);
}

export interface PushEvent { id: number; repo: string; ref: string; old: string; new: string; pusher: string; host: string; at: string }

/** the push_events rows of the container's PostgreSQL on the host, by id */
export async function pushEvents(lab: Lab, host: string): Promise<PushEvent[]> {
  const r = await inContainer(lab, host, FORGEJO.container, `cd / && runuser -u postgres -- psql -X -q -v ON_ERROR_STOP=1 -At -F '\t' -p ${FORGEJO.pgPort} -d forgejo -c "SELECT id, repo, ref, old_id, new_id, coalesce(pusher, ''), host, at FROM push_events ORDER BY id"`);
  if (r.code !== 0) throw new Error(`pushEvents on ${host}: exit ${r.code}: ${r.stderr.trim()}`);
  return r.stdout.split('\n').filter(Boolean).map((l) => {
    const [id, repo, ref, old, nw, pusher, h, at] = l.split('\t');
    return { id: Number(id), repo: repo!, ref: ref!, old: old!, new: nw!, pusher: pusher!, host: h!, at: at! };
  });
}

/** pg_controldata's "Database cluster state" of the data directory on the host ("shut down" after a clean stop) */
export async function pgControlState(lab: Lab, host: string): Promise<string> {
  const out = await onHost(lab, host, `${PGBIN}/pg_controldata ${sq(FORGEJO.pgData)}`);
  return /^Database cluster state:\s*(.+)$/m.exec(out)?.[1]?.trim() ?? `unparsed: ${out}`;
}

export interface PgStart {
  /** the log of that run begins with "database system was shut down at": the previous stop was clean */
  afterCleanShutdown: boolean;
  /** crash recovery ran at that start */
  recovered: boolean;
  /** the run ended with "database system is shut down" */
  shutDownCleanly: boolean;
  log: string;
}

/** each start of the container's PostgreSQL on the host, oldest first, from its unit log */
export async function pgStarts(lab: Lab, host: string): Promise<PgStart[]> {
  const out = await onHost(lab, host, `cat ${sq(FORGEJO.pgLog)} 2>/dev/null || true`);
  return out.split(/^-- lab: starting postgresql at .*$/m).slice(1).map((log) => ({
    afterCleanShutdown: /database system was shut down at /.test(log),
    recovered: /database system was interrupted|not properly shut down|automatic recovery in progress|redo starts at/.test(log),
    shutDownCleanly: /database system is shut down/.test(log),
    log,
  }));
}

/** processes on the host that run inside a container (another PID namespace than the host's), as "pid user command" */
export async function containerProcesses(lab: Lab, host: string): Promise<string[]> {
  const out = await onHost(lab, host, [
    'me=$(readlink /proc/1/ns/pid)',
    'for p in /proc/[0-9]*; do ns=$(readlink "$p/ns/pid" 2>/dev/null) || continue',
    '  [ "$ns" = "$me" ] && continue',
    '  echo "${p#/proc/} $(stat -c %u "$p") $(tr "\\0" " " <"$p/cmdline" 2>/dev/null)"',
    'done',
  ].join('\n'));
  return out.split('\n').filter((l) => l.trim());
}

/** TCP ports listening on the host (ss), e.g. to see that nothing listens on 3000 after a stop */
export async function listeningPorts(lab: Lab, host: string): Promise<number[]> {
  const out = await onHost(lab, host, "ss -Hltn | awk '{ n = split($4, a, \":\"); print a[n] }' | sort -nu");
  return out.split('\n').filter(Boolean).map(Number);
}

/** which lab host answers https://git.joshuabell.xyz/ through o001 (the stand-in's X-Lab-Host), or the error */
export async function servedBy(lab: Lab, proxyAddress = '100.64.0.1'): Promise<string> {
  const r = await lab.operator(['curl', '-sS', '-o', '/dev/null', '-w', '%{http_code} %header{x-lab-host}', '--max-time', '3', '--resolve', `${FORGEJO.domain}:443:${proxyAddress}`, `https://${FORGEJO.domain}/`]);
  if (r.code !== 0) return `curl exit ${r.code}: ${r.stderr.trim()}`;
  const [code, h] = r.stdout.trim().split(' ');
  return code === '200' ? h ?? '' : `HTTP ${code}`;
}
