// The plan's warnings (plan/warnings.ts), table-driven: what the reviewer is told that no check
// decides, for each fact of the inputs that calls for it.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { prepare } from '../../src/generator/pipeline.js';
import type { Inventory } from '../../src/generator/types.js';
import { container, fleet, listener } from '../fixtures/inventory.js';

const dir = mkdtempSync(path.join(tmpdir(), 'migen-warn-'));
let n = 0;

async function warnings(body: string, inv: Inventory = fleet()): Promise<string[]> {
  const k = n++;
  const inventory = path.join(dir, `inv${k}.json`);
  writeFileSync(inventory, JSON.stringify(inv));
  const f = path.join(dir, `m${k}.yaml`);
  writeFileSync(f, `version: 1\nmigrations:\n  demo:\n${body.trim().split('\n').map((l) => `    ${l}`).join('\n')}\n`);
  return [...(await prepare([f], { inventory })).plans[0]!.migrations[0]!.warnings];
}

const forgejo = 'service: forgejo\nfrom: h001\nto: h002\nstrategy: warm';
const DNS = 'dns:\n  records: [{ name: headscale.joshuabell.xyz, old: 203.0.113.2, new: 203.0.113.30, ttl: 3600 }]\n  resolvers: [1.1.1.1]\n  provider: { nsupdate: { server: 203.0.113.53, keyFile: /run/agenix/dns-key } }';
const changed = (f: (i: Inventory) => void): Inventory => { const i = fleet(); f(i); return i; };

const CASES: [string, { body: string; inventory?: Inventory; has: RegExp[]; not?: RegExp[] }][] = [
  ['Forgejo has no maintenance mode: what clients see in the window', { body: `${forgejo}\nbackup: { none: true }`, has: [/^Forgejo has no maintenance mode: during the window the proxy answers its domains with 502 Bad Gateway/], not: [/maintenance mode (on|off)/] }],
  ['a moved route to a port nothing on the old host listens on (the example before h001 had its own nginx)', {
    body: `${forgejo}\nbackup: { none: true }`,
    has: [/^o001 routes git\.joshuabell\.xyz \/ to http:\/\/100\.64\.0\.13, but nothing on h001 listens on port 80 as far as its configuration says \(h001's listeners: none\): the route may not work today, and after the cutover h002 must serve port 80/],
  }],
  ['a moved route straight to the container\'s port, which the new host does not serve', {
    body: `${forgejo}\nbackup: { none: true }`,
    inventory: changed((i) => {
      (i.hosts.o001!.nginx.virtualHosts as Record<string, unknown>)['git.joshuabell.xyz'] = { extraConfig: '', locations: { '/': { proxyPass: 'http://100.64.0.13:3000', recommendedProxySettings: true, extraConfig: '' } } };
      Object.assign(i.hosts.h001!.containers, { forgejo: container(['forgejo', 'postgresql'], { listen: [listener('forgejo', 3000)] }) });
      Object.assign(i.hosts.h002!.containers, { forgejo: container(['forgejo', 'postgresql'], { listen: [listener('forgejo', 3000, ['127.0.0.1'])] }) });
    }),
    has: [/^o001 routes git\.joshuabell\.xyz \/ to http:\/\/100\.64\.0\.13:3000 \(forgejo in container forgejo on h001\); after the cutover it goes to h002 port 3000, where nothing listens as far as h002's configuration says \(h002's listeners: forgejo 3000 in container forgejo\)/],
    not: [/nothing on h001 listens/],
  }],
  ['backup.none: no backup is taken', { body: `${forgejo}\nbackup: { none: true }`, has: [/No backup is taken before the migration \(backup\.none\)/] }],
  ['no backup configured and no host job covering the state', { body: 'service: vaultwarden\nfrom: o001\nto: h002\nstrategy: warm', has: [/No backup configured: add backup\.restic/] }],
  ['a host job covering the state is the backup: no backup warning', { body: forgejo, has: [/Monitoring: o001's Prometheus job forgejo scrapes 100\.64\.0\.13:3000/], not: [/backup/i] }],
  ['a proxy switch: what a rollback after it cannot keep', { body: `${forgejo}\nbackup: { none: true }`, has: [/A rollback after o001 switched to h002 restores h001's state as of the stop/] }],
  ['a service that clients reach by DNS or address (no proxy route)', { body: 'service: vaultwarden\nfrom: o001\nto: h002\nstrategy: warm\nbackup: { none: true }\ndomains: []', has: [/No proxy routes move with this service: clients reach it by DNS or address/] }],
  ['headscale without proxy route nor dns: declare its record', { body: 'service: headscale\nfrom: l001\nto: newvps\nstrategy: warm\nbackup: { none: true }\ndomains: []', has: [/^Clients reach headscale by its DNS record: declare dns:/], not: [/No proxy routes move/] }],
  ['headscale through the proxy: the circular path', { body: 'service: headscale\nfrom: l001\nto: newvps\nstrategy: warm\nbackup: { none: true }', has: [/^l001 would proxy headscale to newvps over the tailnet headscale itself coordinates: .*can never be retired\. Declare dns:/] }],
  ['headscale by DNS: why nothing proxies it; the wait; the new host must serve the name itself', {
    body: `service: headscale\nfrom: l001\nto: newvps\nstrategy: warm\nbackup: { none: true }\n${DNS}`,
    has: [
      /^Clients follow headscale\.joshuabell\.xyz to newvps directly: nothing proxies headscale to newvps over the tailnet\. Headscale coordinates that tailnet, so such a route \(l001's nginx forwarding to 100\.64\.0\.30\) could cut coordination for the whole mesh after a tailscaled restart or a reboot, and l001 could never be retired\.$/,
      /^The runbook lowers the TTL first and waits 3600 s \(one old TTL\) before anything stops/,
      /^Clients that follow headscale\.joshuabell\.xyz to 203\.0\.113\.30 reach newvps itself, whose nginx has no virtual host for headscale\.joshuabell\.xyz: headscale must serve it there/,
    ],
    not: [/would proxy headscale/, /No proxy routes move/, /A rollback after l001 switched/, /Deploying l001 changes its nginx/],
  }],
  ['the new host serves the name: no such warning', {
    body: `service: headscale\nfrom: l001\nto: newvps\nstrategy: warm\nbackup: { none: true }\n${DNS}`,
    inventory: changed((i) => { (i.hosts.newvps as { nginx: unknown }).nginx = { enable: true, upstreams: {}, virtualHosts: { 'headscale.joshuabell.xyz': { extraConfig: '', locations: { '/': { proxyPass: 'http://127.0.0.1:8080', recommendedProxySettings: true, extraConfig: '' } } } } }; }),
    has: [/^Clients follow headscale\.joshuabell\.xyz to newvps directly/], not: [/whose nginx has no virtual host/],
  }],
  ['no verification', { body: 'service: custom\nunit: foo\nstate: [/var/lib/foo]\nfrom: h003\nto: h002\nstrategy: warm\nbackup: { none: true }', has: [/No verification checks/] }],
  ['stateVersion differs between the hosts', { body: 'service: headscale\nfrom: l001\nto: newvps\nstrategy: warm\nbackup: { none: true }', inventory: changed((i) => { (i.hosts.newvps as { stateVersion: string }).stateVersion = '25.05'; }), has: [/system\.stateVersion differs \(l001: 24\.11, newvps: 25\.05\): defaults follow it\. migen checks the state's paths/] }],
  ['a container pins its own stateVersion: the hosts\' difference does not matter', { body: `${forgejo}\nbackup: { none: true }`, inventory: changed((i) => { (i.hosts.h002 as { stateVersion: string }).stateVersion = '25.05'; }), has: [], not: [/stateVersion/] }],
  ['the containers\' stateVersions differ: compared, not the hosts\'', { body: `${forgejo}\nbackup: { none: true }`, inventory: changed((i) => { (i.hosts.h002!.containers.forgejo as { stateVersion: string }).stateVersion = '24.05'; }), has: [/system\.stateVersion differs \(container forgejo on h001: 23\.11, container forgejo on h002: 24\.05\)/] }],
  ['Vaultwarden from 23.11 to 24.11: the state goes to the new host\'s directory', { body: 'service: vaultwarden\nfrom: o001\nto: h002\nstrategy: warm\nbackup: { none: true }', inventory: changed((i) => { (i.hosts.o001 as { stateVersion: string }).stateVersion = '23.11'; }), has: [/system\.stateVersion differs \(o001: 23\.11, h002: 24\.11\): defaults follow it\. The state is copied to h002's directories \(\/var\/lib\/bitwarden_rs -> \/var\/lib\/vaultwarden\)/] }],
  ['a port that may collide (a container without autoStart): a warning, not an error', { body: `${forgejo}\nbackup: { none: true }`, inventory: changed((i) => { Object.assign(i.hosts.h002!, { listen: [listener('adguardhome', 3000)] }); Object.assign(i.hosts.h002!.containers, { forgejo: container(['forgejo'], { listen: [listener('forgejo', 3001)] }), extra: container(['forgejo'], { autoStart: false, listen: [listener('forgejo', 3001, ['127.0.0.1'])] }) }); }), has: [/^Ports on h002: forgejo in container forgejo on h002 listens on 0\.0\.0\.0:3001\/tcp, and so does forgejo in container extra on h002 \(127\.0\.0\.1:3001\/tcp\): the second to start cannot bind it \(once that container is started: it has autoStart off\)/] }],
  ['an owner without a fixed uid', { body: 'service: vaultwarden\nfrom: o001\nto: h002\nstrategy: warm\nbackup: { none: true }', has: [/vaultwarden has no fixed uid on o001/] }],
  ['a relay copy keeps numeric owners: an owner without a fixed uid must be pinned', { body: 'service: vaultwarden\nfrom: o001\nto: h002\nstrategy: cold\nbackup: { none: true }\nsync: { mode: relay }', has: [/the relay copy keeps numeric owners \(tar --numeric-owner\).*Pin users\.users\.vaultwarden\.uid/], not: [/rsync maps owners by name/] }],
  ['restic without a password file the plan knows: from root\'s environment', { body: 'service: vaultwarden\nfrom: o001\nto: h002\nstrategy: warm\nbackup: { restic: { repository: /backup/o001 } }', has: [/^The restic backup on o001 takes the repository's password from RESTIC_PASSWORD_FILE or RESTIC_PASSWORD in root's environment on o001/] }],
  ['a host job migen cannot reach runs as it is, on the live files', { body: 'service: vaultwarden\nfrom: o001\nto: h002\nstrategy: warm', inventory: changed((i) => { i.hosts.o001!.backups.restic = { v: { repository: 's3:s3.example.org/b', paths: ['/var/lib/vaultwarden'], passwordFile: null } }; }), has: [/^The backup runs o001's job v as it is: it reads the live files \(\/var\/lib\/vaultwarden\/db\.sqlite3 with its -wal\)/] }],
  ['a container: of its root only the uid/gid map is copied', { body: `${forgejo}\nbackup: { none: true }`, has: [/of the container's root under \/var\/lib\/nixos-containers\/forgejo only its uid\/gid map \(var\/lib\/nixos\) is copied/] }],
  ['a loopback backend the preset can re-address: no warning; a custom one: a warning', { body: 'service: vaultwarden\nfrom: o001\nto: h002\nstrategy: warm\nbackup: { none: true }', has: [/A rollback after o001 switched/], not: [/must listen on/] }],
  ['a custom service behind a loopback backend must be told to listen on the mesh', { body: 'service: custom\nunit: vaultwarden\nstate: [/var/lib/vaultwarden]\nfrom: o001\nto: h002\nstrategy: warm\nbackup: { none: true }\ndomains: [vault.joshuabell.xyz]', has: [/o001's proxy reaches custom on loopback; on h002 it must listen on 100\.64\.0\.20 \(ports 8222\)/] }],
  ['the old host\'s autoStart container changes with the deploy: it restarts once in prepare (nixos-containers restartTriggers)', {
    body: 'service: zitadel\nfrom: h001\nto: h002\nstrategy: hot\nbackup: { none: true }\ndatabase: { engine: postgresql, databases: [zitadel] }',
    has: [/^Deploying h001 changes container zitadel's configuration \(the fence of zitadel inside it, the replication settings of its PostgreSQL\): an autoStart container restarts when its configuration changes/],
  }],
  ['a container without autoStart does not restart with the deploy', {
    body: 'service: zitadel\nfrom: h001\nto: h002\nstrategy: hot\nbackup: { none: true }\ndatabase: { engine: postgresql, databases: [zitadel] }',
    inventory: changed((i) => { (i.hosts.h001!.containers.zitadel as { autoStart: boolean }).autoStart = false; }),
    has: [], not: [/autoStart container restarts/],
  }],
  ['hot: a rollback keeps the new host\'s writes; which checks run in the window and which after; the safety net; the secret to declare', {
    body: 'service: zitadel\nfrom: h001\nto: h002\nstrategy: hot\nbackup: { none: true }\ndatabase: { engine: postgresql, databases: [zitadel] }',
    has: [/^A rollback after h002 took writes \(once the application started there and o001 switched to it\) keeps them: h002's database zitadel is renamed NAME_rolled_back_<UTC time> there, never dropped/,
      /^The write freeze does not grow with the data\. Inside the window only O\(1\) and O\(tables\) checks run: .* After the start, the full row count and checksum of every table runs on REPEATABLE READ snapshots of the frozen state/,
      /^Before the first change h001 keeps a pg_dumpall of its PostgreSQL \(roles and every database\) at \/var\/lib\/migen\/demo\/pg\/pg_dumpall\.sql\.gz/, /The subscription's connection string holds the replication password/],
  }],
];

describe('plan warnings', () => {
  it.each(CASES)('%s', async (_name, c) => {
    const w = await warnings(c.body, c.inventory);
    for (const re of c.has) expect(w, String(re)).toContainEqual(expect.stringMatching(re));
    for (const re of c.not ?? []) expect(w.filter((x) => re.test(x)), String(re)).toEqual([]);
  });
});
