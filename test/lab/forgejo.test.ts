/**
 * lab: the example's Forgejo in its nixos-container stand-in on h001 (container@forgejo: PostgreSQL
 * 15 and the Forgejo stand-in serving git's smart HTTP), reached through o001's nginx over https,
 * directly on h001:3000 or through a host-local nginx on h001:80. Git clients in the operator
 * namespace push and fetch while container@forgejo stops and starts.
 */
import { beforeAll, describe, expect, test } from 'vitest';
import { activateAndSettle, findLeftovers, useLab, type Lab } from './index.js';
import { inContainer } from './container.js';
import { FORGEJO, forgejoChecks as fc, forgejoLabOptions, gitOperatorEnv, gitVhost, setupForgejo, startPusher, startReader, type AckedPush, type ForgejoSetup, type ReadSample } from './forgejo/index.js';

const ZERO = '0'.repeat(40);
const ctx = useLab(forgejoLabOptions());
let setup: ForgejoSetup;

beforeAll(async () => {
  const { lab } = ctx;
  setup = await setupForgejo(lab, { hosts: ['h001'], innerNginx: true, proxy: 'none' });
  // o001: straight to the container's port, or to h001's own nginx (which routes by Host to :3000)
  await lab.nginx('o001', { base: gitVhost('http://100.64.0.13:3000'), inner: gitVhost('http://100.64.0.13') }, 'base');
}, 120_000);

async function must(lab: Lab, host: string, script: string): Promise<string> {
  const r = await lab.exec(host, script);
  if (r.code !== 0) throw new Error(`${host}: exit ${r.code}: ${r.stderr}${r.stdout}`);
  return r.stdout;
}

async function waitFor(what: string, pred: () => boolean | Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await pred())) {
    if (Date.now() > until) throw new Error(`timeout waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const operatorGit = (lab: Lab, args: string[], env: NodeJS.ProcessEnv = gitOperatorEnv(lab)) => lab.operator(['git', ...args], { env: { HOME: lab.dir, ...env } });

describe('Forgejo in container@forgejo on h001', () => {
  test('its units run inside the container: own users, /run, hostname; nixos-container run reaches its PostgreSQL', async () => {
    const { lab } = ctx;
    expect((await inContainer(lab, 'h001', 'forgejo', 'hostname; id -u postgres; id -u forgejo')).stdout.split('\n').slice(0, 3)).toEqual(['forgejo', '71', '986']);
    expect((await lab.exec('h001', 'hostname; getent passwd 71 986 || echo none')).stdout.trim()).toBe('h001\nnone');
    // its PostgreSQL's socket is in the container's /run, not the host's
    expect((await lab.exec('h001', 'test -e /run/postgresql/.s.PGSQL.5432; echo $?')).stdout.trim()).toBe('1');
    const rows = await fc.pushEvents(lab, 'h001');
    expect(rows.map((r) => [r.repo, r.ref, r.old, r.pusher, r.host])).toEqual([['test/repo', 'refs/heads/main', ZERO, 'test', 'h001']]);
    expect((await fc.refs(lab, 'h001'))['refs/heads/main']).toBe(rows[0]!.new);
    const procs = await fc.containerProcesses(lab, 'h001');
    expect(procs.some((p) => / 71 \S*postgres /.test(p))).toBe(true);
    expect(procs.some((p) => / 986 \/usr\/bin\/python3 \S+forgejo\.py web/.test(p))).toBe(true);
    expect((await lab.exec('h001', `cat ${FORGEJO.root}/var/lib/nixos/uid-map; stat -c '%u %g %a' ${FORGEJO.data}/repositories/test/repo.git ${FORGEJO.pgData}; nixos-container status forgejo`)).stdout.trim().split('\n'))
      .toEqual(['{"root":0,"postgres":71,"forgejo":986,"nobody":65534}', '986 986 750', '71 71 700', 'up']);
    // the data directory's postgresql.conf is linked from the container's system, as NixOS links it from the store
    expect((await lab.exec('h001', `readlink ${FORGEJO.pgData}/postgresql.conf`)).stdout.trim()).toBe('/nix/var/nix/profiles/system/etc/postgresql/postgresql.conf');
    expect((await lab.exec('h001', 'nixos-container run nosuch -- true')).stderr).toMatch(/container ‘nosuch’ does not exist/);
  });

  test('git through o001 verifies TLS with the lab CA and the domain; anonymous push is refused', async () => {
    const { lab } = ctx;
    expect(await fc.servedBy(lab)).toBe('h001');
    const ok = await operatorGit(lab, ['ls-remote', setup.url()]);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(/^[0-9a-f]{40}\trefs\/heads\/main$/m);
    const { GIT_SSL_CAINFO: _ca, ...noCa } = gitOperatorEnv(lab);
    const untrusted = await operatorGit(lab, ['ls-remote', setup.url()], { ...noCa, GIT_SSL_CAINFO: '/etc/ssl/certs/ca-certificates.crt' });
    expect(untrusted.code).not.toBe(0);
    expect(untrusted.stderr).toMatch(/certificate|SSL|TLS/i);
    const dir = `${lab.dir}/anon`;
    const clone = await operatorGit(lab, ['clone', '-q', setup.url(), dir]);
    expect(clone.code, clone.stderr).toBe(0);
    const push = await operatorGit(lab, ['-C', dir, '-c', 'user.name=a', '-c', 'user.email=a@lab.invalid', 'commit', '-q', '--allow-empty', '-m', 'anon']);
    expect(push.code).toBe(0);
    const refused = await operatorGit(lab, ['-C', dir, 'push', 'origin', 'HEAD:refs/heads/anon']);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/401|Authentication failed|could not read Username/);
    expect(Object.keys(await fc.refs(lab, 'h001'))).not.toContain('refs/heads/anon');
  });

  test('git push returns only after post-receive has committed its push_events row; a stop cuts a push in post-receive', async () => {
    const { lab } = ctx;
    let ack: AckedPush | undefined;
    // a post-receive that sleeps 1.5 s before it inserts: the push must wait for it
    await must(lab, 'h001', `echo 1500 > ${FORGEJO.data}/custom/lab-hook-delay-ms`);
    try {
      const p = startPusher(lab, setup, { id: 'slow', branch: 'slow', maxCount: 1 });
      await p.done;
      ack = p.acked[0];
      expect(p.failed).toEqual([]);
      expect(ack!.ms).toBeGreaterThanOrEqual(1500);
      expect((await fc.pushEvents(lab, 'h001')).find((r) => r.id === ack!.event)).toMatchObject({ ref: 'refs/heads/slow', new: ack!.new, old: ZERO });

      // a stop while a push sits in post-receive: SIGTERM reaches every process of the forgejo unit
      // (KillMode=control-group, as forgejo.service), the hook and receive-pack among them. The ref
      // has moved already; the row was never written; the client was not acknowledged.
      const q = startPusher(lab, setup, { id: 'slow2', branch: 'slow', maxCount: 1 });
      await waitFor('a push in post-receive', async () => (await fc.containerProcesses(lab, 'h001')).some((l) => /forgejo\.py hook post-receive/.test(l)));
      expect((await lab.exec('h001', `systemctl stop ${FORGEJO.unit}`)).code).toBe(0);
      await q.done;
      expect(q.acked).toEqual([]);
      expect(q.failed.map((f) => [f.code !== 0, f.unrecorded])).toEqual([[true, false]]);
      expect(await fc.containerProcesses(lab, 'h001')).toEqual([]);
      expect((await fc.history(lab, 'h001', 'test/repo', 'refs/heads/slow')).slice(0, 2)).toEqual([q.failed[0]!.commit, ack!.new]);
    } finally {
      await must(lab, 'h001', `rm -f ${FORGEJO.data}/custom/lab-hook-delay-ms; systemctl start ${FORGEJO.unit}`);
    }
    expect((await fc.pushEvents(lab, 'h001')).filter((r) => r.ref === 'refs/heads/slow').map((r) => r.new)).toEqual([ack!.new]);
  });

  for (const shape of ['direct', 'inner'] as const) {
    test(`clients through o001 (${shape === 'direct' ? 'to h001:3000' : 'to h001:80, its nginx to :3000'}) outlive a stop and start of container@forgejo; nothing acknowledged is lost`, async () => {
      const { lab } = ctx;
      const stc = shape === 'direct' ? '/nix/var/nix/profiles/system/bin/switch-to-configuration' : '/nix/var/nix/profiles/system/specialisation/inner/bin/switch-to-configuration';
      await must(lab, 'o001', activateAndSettle(stc, 'test'));
      expect((await lab.exec('o001', 'grep -o "proxy_pass [^;]*" /etc/nginx/nginx.conf')).stdout.trim()).toBe(shape === 'direct' ? 'proxy_pass http://100.64.0.13:3000' : 'proxy_pass http://100.64.0.13');
      const branch = `pusher-${shape}`;
      const ref = `refs/heads/${branch}`;
      const pusher = startPusher(lab, setup, { id: `p-${shape}`, branch, intervalMs: 250 });
      const reader = startReader(lab, setup, { id: `r-${shape}`, intervalMs: 400, cloneEvery: 4 });
      const okReads = (after: number) => reader.samples.filter((s) => s.ok && s.t - s.ms > after);
      await waitFor('acknowledged pushes and reads before the stop', () => pusher.acked.length >= 5 && okReads(0).length >= 2);

      const stopAt = Date.now();
      expect((await lab.exec('h001', `systemctl stop ${FORGEJO.unit}`)).code).toBe(0);
      // nothing of the container runs; PostgreSQL shut down cleanly
      expect(await fc.containerProcesses(lab, 'h001')).toEqual([]);
      expect(await fc.listeningPorts(lab, 'h001')).not.toContain(FORGEJO.port);
      expect(await fc.pgControlState(lab, 'h001')).toBe('shut down');
      expect((await fc.pgStarts(lab, 'h001')).at(-1)!.shutDownCleanly).toBe(true);
      const run = await lab.exec('h001', 'nixos-container run forgejo -- true; nixos-container status forgejo');
      expect([run.stdout.trim(), run.stderr.trim()]).toEqual(['down', "unable to get container's main PID"]);
      // down until the clients have seen at least 1 s of it
      await waitFor('the clients to see a 1 s outage', () => {
        const f = pusher.failed.filter((x) => x.t > stopAt);
        return f.length > 0 && f.at(-1)!.t - (f[0]!.t - f[0]!.ms) >= 1000 && reader.samples.some((x) => !x.ok && x.t > stopAt);
      });

      expect((await lab.exec('h001', `systemctl start ${FORGEJO.unit}`)).code).toBe(0);
      const startedAt = Date.now();
      await waitFor('acknowledged pushes, fetches and a clone after the start', () => pusher.acked.filter((a) => a.t - a.ms > startedAt).length >= 3 && okReads(startedAt).length >= 2 && okReads(startedAt).some((x) => x.kind === 'clone'));
      const { acked, failed } = await pusher.stop();
      const lastAck = acked.at(-1)!;
      await waitFor('a read after the last push', () => okReads(lastAck.t).length >= 1);
      const samples = await reader.stop();

      // the clients failed only while the container was down (once the start returned, Forgejo
      // served), went on, and no push was accepted without its row
      const outage = failed.filter((f) => f.t >= stopAt && f.t - f.ms <= startedAt);
      expect(outage.length).toBeGreaterThan(0);
      expect(failed.filter((f) => !outage.includes(f))).toEqual([]);
      expect(samples.filter((s) => !s.ok && !(s.t >= stopAt && s.t - s.ms <= startedAt))).toEqual([]);
      expect(failed.filter((f) => f.unrecorded || f.rejected)).toEqual([]);
      // every acknowledged push is in the branch's history and has its row (id, old, new)
      const hist = await fc.history(lab, 'h001', 'test/repo', ref);
      const pos = new Map(hist.map((id, i) => [id, hist.length - i])); // 1 = the oldest commit
      expect(acked.filter((a) => !pos.has(a.new))).toEqual([]);
      const rows = (await fc.pushEvents(lab, 'h001')).filter((r) => r.ref === ref);
      const byId = new Map(rows.map((r) => [r.id, r]));
      expect(acked.filter((a) => { const r = byId.get(a.event); return !r || r.new !== a.new || r.old !== a.old; })).toEqual([]);
      // the rows follow the history in order (a push cut in post-receive by a stop leaves a gap, never a disorder)
      let prev = 0;
      for (const r of rows) {
        const o = r.old === ZERO ? 0 : pos.get(r.old) ?? -1;
        const n = pos.get(r.new) ?? -1;
        expect([r.id, o >= prev, n > o]).toEqual([r.id, true, true]);
        prev = n;
      }
      expect(rows.at(-1)!.new).toBe((await fc.refs(lab, 'h001'))[ref]);
      expect(rows.at(-1)!.new).toBe(lastAck.new);
      expect(await fc.fsck(lab, 'h001')).toMatchObject({ ok: true });
      // the reader saw every push acknowledged before each read began, and the last one
      const pairs = readerPairs(acked, samples, ref);
      expect(pairs.length).toBeGreaterThanOrEqual(2);
      expect(await fc.notAncestors(lab, 'h001', pairs)).toEqual([]);
      expect(samples.filter((s) => s.ok).at(-1)!.refs![ref]).toBe(lastAck.new);
      // the start after the stop found a cleanly shut down cluster: no recovery
      const starts = await fc.pgStarts(lab, 'h001');
      expect(starts.at(-1)).toMatchObject({ afterCleanShutdown: true, recovered: false });
      if (process.env.LAB_DEBUG) console.log(JSON.stringify({ stopAt, startedAt, failed, readFails: samples.filter((x) => !x.ok) }, null, 1));
      console.log(`forgejo lab (${shape}): ${acked.length} acknowledged pushes, ${failed.length} failed (${outage.length} in the outage of ${startedAt - stopAt} ms), ${samples.length} reads (${samples.filter((s) => !s.ok).length} failed)`);
    }, 120_000);
  }

  test('teardown leaves nothing behind', async () => {
    const { lab } = ctx;
    await lab.teardown();
    expect(await findLeftovers(lab.id)).toEqual([]);
  });
});

/** [last push acknowledged before the read started, what the read saw] for every successful read that had one */
function readerPairs(acked: AckedPush[], samples: ReadSample[], ref: string): [string, string][] {
  const out: [string, string][] = [];
  for (const s of samples) {
    if (!s.ok) continue;
    const before = acked.filter((a) => a.t < s.t - s.ms).at(-1);
    if (before) out.push([before.new, s.refs?.[ref] ?? 'missing']);
  }
  return out;
}
