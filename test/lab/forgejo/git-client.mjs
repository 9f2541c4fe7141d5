// migen lab: git clients run in the lab's operator network namespace (see forgejo/clients.ts).
// argv[2] = JSON { mode: 'pusher'|'reader', id, url, dir, branch, intervalMs, maxMs, maxCount,
//                  timeoutMs, cloneEvery, env, config }
// Real git (Debian's) over https through the proxy; `config` holds -c settings (the lab's
// http.curloptResolve: SNI and Host are the domain, the TCP peer the proxy), `env` GIT_SSL_CAINFO.
// pusher: one new commit per round (a file of its own per commit: rebases never conflict), then
//   `git push origin HEAD:refs/heads/BRANCH`. A push is acknowledged when git exits 0 and the
//   server's post-receive reported `migen-lab: push-event ID REF OLD NEW` for this commit (the
//   row is committed). Otherwise one failure line; the next round pushes the unacknowledged commits
//   with the new one. A rejection (non-fast-forward: someone else moved the branch) fetches and
//   rebases the unacknowledged commits. Lines:
//   {t, ok:true, ms, seq, ref, old, new, event} | {t, ok:false, ms, seq, commit, code, rejected, unrecorded, err}
// reader: `git fetch --prune origin` into a bare repository (every cloneEvery-th round a fresh
//   `git clone --bare` instead); lines {t, ok, ms, kind, refs: {ref: id}, err}.
// t = when the operation ended, t - ms = when it started. SIGTERM/SIGINT: finish the operation in
// flight, print {"done":true}, exit 0.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

const o = JSON.parse(process.argv[2]);
const branch = o.branch ?? 'main';
const ref = `refs/heads/${branch}`;
let stopping = false;
process.on('SIGTERM', () => (stopping = true));
process.on('SIGINT', () => (stopping = true));
const cfg = Object.entries(o.config ?? {}).flatMap(([k, v]) => ['-c', `${k}=${v}`]);
const env = { ...process.env, HOME: o.dir, GIT_CONFIG_NOSYSTEM: '1', GIT_TERMINAL_PROMPT: '0', LC_ALL: 'C', ...o.env };
const out = (x) => process.stdout.write(JSON.stringify(x) + '\n');
const tail = (s) => s.trim().split('\n').slice(-4).join(' | ').slice(0, 400);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function git(args, { cwd = o.dir, timeoutMs = o.timeoutMs ?? 15000 } = {}) {
  return new Promise((resolve) => {
    const started = Date.now();
    // own process group: a timeout kills git and its git-remote-https child
    const c = spawn('git', [...cfg, ...args], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    let stdout = '';
    let stderr = '';
    c.stdout.setEncoding('utf8').on('data', (d) => (stdout += d));
    c.stderr.setEncoding('utf8').on('data', (d) => (stderr += d));
    const timer = setTimeout(() => {
      stderr += `\n[client] timeout after ${timeoutMs} ms`;
      try { process.kill(-c.pid, 'SIGKILL'); } catch { /* gone */ }
    }, timeoutMs);
    c.on('error', (e) => { clearTimeout(timer); resolve({ code: 127, stdout, stderr: String(e), started, ms: Date.now() - started }); });
    c.on('close', (code) => { clearTimeout(timer); resolve({ code: code ?? 128, stdout, stderr, started, ms: Date.now() - started }); });
  });
}

async function must(args, opts) {
  const r = await git(args, opts);
  if (r.code !== 0) throw new Error(`git ${args.join(' ')}: exit ${r.code}: ${r.stderr}`);
  return r.stdout;
}

async function setupPusher() {
  fs.mkdirSync(o.dir, { recursive: true });
  await must(['init', '-q', '-b', branch, '.']);
  await must(['config', 'user.name', `lab pusher ${o.id}`]);
  await must(['config', 'user.email', `${o.id}@lab.invalid`]);
  await must(['remote', 'add', 'origin', o.url]);
  // start on top of the branch if it exists (the server must answer once)
  for (;;) {
    const r = await git(['ls-remote', '--exit-code', 'origin', ref]);
    if (r.code === 0) { await must(['fetch', '-q', 'origin', ref]); await must(['reset', '-q', '--hard', 'FETCH_HEAD']); return; }
    if (r.code === 2) return; // no such branch: the first push creates it
    if (stopping) return;
    await sleep(200);
  }
}

async function pushRound(seq) {
  const rel = path.join('pushes', o.id, String(seq));
  fs.mkdirSync(path.dirname(path.join(o.dir, rel)), { recursive: true });
  fs.writeFileSync(path.join(o.dir, rel), `${o.id} ${seq} ${Date.now()}\n`);
  await must(['add', rel]);
  await must(['commit', '-q', '-m', `${o.id} push ${seq}`]);
  const head = (await must(['rev-parse', 'HEAD'])).trim();
  const r = await git(['push', '--porcelain', 'origin', `HEAD:${ref}`]);
  const t = Date.now();
  const events = [...r.stderr.matchAll(/^remote: migen-lab: push-event (\d+) (\S+) ([0-9a-f]+) ([0-9a-f]+)\s*$/gm)].map((m) => ({ id: Number(m[1]), ref: m[2], old: m[3], new: m[4] }));
  const ev = events.find((e) => e.ref === ref && e.new === head);
  if (r.code === 0 && ev) return out({ t, ok: true, ms: r.ms, seq, ref, old: ev.old, new: head, event: ev.id });
  const rejected = r.code !== 0 && /\[rejected\]|non-fast-forward|fetch first/.test(r.stdout + r.stderr);
  out({ t, ok: false, ms: r.ms, seq, commit: head, code: r.code, rejected, unrecorded: r.code === 0, err: tail(r.stderr + r.stdout) });
  if (rejected) {
    const f = await git(['fetch', '-q', 'origin', ref]);
    if (f.code === 0 && (await git(['rebase', '-q', 'FETCH_HEAD'])).code !== 0) {
      await git(['rebase', '--abort']);
      await must(['reset', '-q', '--hard', 'FETCH_HEAD']); // drops only commits nobody acknowledged
    }
  }
}

async function readRound(n) {
  const clone = o.cloneEvery && n % o.cloneEvery === 0;
  let r;
  let refsOut = '';
  if (clone) {
    const tmp = `${o.dir}.clone`;
    fs.rmSync(tmp, { recursive: true, force: true });
    r = await git(['clone', '-q', '--bare', o.url, tmp], { cwd: path.dirname(o.dir) });
    if (r.code === 0) refsOut = (await git(['for-each-ref', '--format=%(refname) %(objectname)', 'refs/heads'], { cwd: tmp })).stdout;
    fs.rmSync(tmp, { recursive: true, force: true });
  } else {
    r = await git(['fetch', '-q', '--prune', 'origin']);
    if (r.code === 0) refsOut = (await git(['for-each-ref', '--format=%(refname) %(objectname)', 'refs/remotes/origin'])).stdout;
  }
  // the read's own span (t - ms = when the fetch or clone began), not including the for-each-ref
  // after it: under load that can take long enough to count a later push as acknowledged before
  const t = r.started + r.ms;
  const refs = {};
  for (const l of refsOut.split('\n').filter(Boolean)) {
    const [name, id] = l.split(' ');
    if (name.endsWith('/HEAD')) continue;
    refs[name.replace(/^refs\/remotes\/origin\//, 'refs/heads/')] = id;
  }
  if (r.code === 0) out({ t, ok: true, ms: r.ms, kind: clone ? 'clone' : 'fetch', refs });
  else out({ t, ok: false, ms: r.ms, kind: clone ? 'clone' : 'fetch', err: tail(r.stderr) });
}

if (o.mode === 'pusher') await setupPusher();
else {
  fs.mkdirSync(o.dir, { recursive: true });
  await must(['init', '-q', '--bare', '.']);
  await must(['remote', 'add', 'origin', o.url]);
}
const t0 = Date.now();
for (let n = 1; !stopping && Date.now() - t0 < (o.maxMs ?? 120000) && n <= (o.maxCount ?? 1e9); n++) {
  const started = Date.now();
  if (o.mode === 'pusher') await pushRound(n);
  else await readRound(n);
  const wait = started + (o.intervalMs ?? 300) - Date.now();
  if (wait > 0 && !stopping) await sleep(wait);
}
out({ done: true });
