// The Nix renderer (render/nix), table-driven: for a migration, what each host's module gets
// (and does not), before and after finalize. Real nix parses and evaluates the output in test/nix.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { prepare } from '../../src/generator/pipeline.js';
import { renderHostModules } from '../../src/generator/render/nix/index.js';
import { fleet } from '../fixtures/inventory.js';

const dir = mkdtempSync(path.join(tmpdir(), 'migen-nix-'));
const inventory = path.join(dir, 'inventory.json');
writeFileSync(inventory, JSON.stringify(fleet(), null, 2));
let n = 0;

async function modules(body: string): Promise<Record<string, string>> {
  const f = path.join(dir, `m${n++}.yaml`);
  writeFileSync(f, `version: 1\nmigrations:\n  demo:\n${body.trim().split('\n').map((l) => `    ${l}`).join('\n')}\n`);
  const inputs = await prepare([f], { inventory });
  return Object.fromEntries(renderHostModules(inputs.plans, { manifests: [inputs.manifests[0]!.path], digest: '0'.repeat(64) }).map((x) => [x.path, x.content]));
}

type Want = Record<string, { has?: (string | RegExp)[]; not?: (string | RegExp)[] } | null>;
const forgejo = 'service: forgejo\nfrom: h001\nto: h002\nstrategy: warm\nbackup: { none: true }';
const CASES: [string, { body: string; want: Want }][] = [
  ['planned: the moved location reads its backend from a route file; the new host is fenced until the cutover, the old one once stopped', { body: forgejo, want: {
    'hosts/o001.nix': { has: ['services.nginx.upstreams.migen_demo_0.extraConfig = "include /var/lib/migen/nginx/demo/0.upstream;";', 'services.nginx.virtualHosts."git.joshuabell.xyz".locations."/".proxyPass = lib.mkForce "http://migen_demo_0"; # was http://100.64.0.13; /var/lib/migen/nginx/demo/0.upstream: server 100.64.0.13:80; -> server 100.64.0.20:80;', "[ -e /var/lib/migen/nginx/demo/0.upstream ] || printf '%s\\n' 'server 100.64.0.13:80;' > /var/lib/migen/nginx/demo/0.upstream"], not: ['chat.joshuabell.xyz', 'specialisation'] },
    'hosts/h002.nix': { has: ['systemd.services."container@forgejo".unitConfig.ConditionPathExists = [ "/var/lib/migen/demo/ready" ];'], not: ['autoStart', 'wantedBy'] },
    'hosts/h001.nix': { has: ['role = [ "old" ];', 'systemd.services."container@forgejo".unitConfig.ConditionPathExists = [ "!/var/lib/migen/demo/moved" ];', 'systemd.services."container@forgejo".restartIfChanged = lib.mkForce false;'], not: ['autoStart', 'enable = lib.mkForce false'] },
    'default.nix': { has: ['./hosts/h001.nix', './hosts/h002.nix', './hosts/o001.nix'] },
  } }],
  ['done: the base configuration routes to the new host, the old one is retired, backups follow', { body: `${forgejo.replace('backup: { none: true }', '')}\nstatus: done`, want: {
    'hosts/o001.nix': { has: ['# The move is done: the base configuration routes these domains to h002.', 'locations."/".proxyPass = lib.mkForce "http://100.64.0.20";'], not: ['upstreams', 'activationScripts'] },
    'hosts/h001.nix': { has: ['containers.forgejo.autoStart = lib.mkForce false;', 'kept for 14 days'], not: ['ConditionPathExists'] },
    'hosts/h002.nix': { has: ['services.restic.backups.forgejo = {', 'repository = "/backup/h001";', 'passwordFile = "/etc/nixos/restic-password";'], not: ['autoStart', 'ConditionPathExists'] },
  } }],
  ['hot: publisher settings in the old container, subscriber settings in the new one, sizes from the plan', { body: 'service: zitadel\nfrom: h001\nto: h002\nstrategy: hot\nbackup: { none: true }\ndatabase: { engine: postgresql, databases: [zitadel] }', want: {
    'hosts/h001.nix': { has: ['containers.zitadel.config.services.postgresql = {', 'wal_level = "logical";', 'max_replication_slots = lib.mkDefault 20;', 'host zitadel migen_repl_demo 100.64.0.20/32 scram-sha-256', 'max_slot_wal_keep_size = lib.mkDefault "8GB";', /bindMounts\."\/run\/agenix\/migen-replication-demo" = \{ hostPath = "\/run\/agenix\/migen-replication-demo"; isReadOnly = true; \};/], not: ['ensureUsers = ['] },
    'hosts/h002.nix': { has: ['containers.zitadel.config.services.postgresql.settings = {', 'max_logical_replication_workers = lib.mkDefault 8;', 'max_worker_processes = lib.mkDefault 16;', 'containers.zitadel.config.systemd.services.zitadel.unitConfig.ConditionPathExists = [ "/var/lib/migen/demo/ready" ];', 'containers.zitadel.bindMounts."/var/lib/migen/demo" = { hostPath = "/var/lib/migen/demo"; isReadOnly = true; };', 'system.activationScripts.migen-demo-fence = { deps = [ ]; text = "install -d -m 0755 /var/lib/migen/demo"; };'] },
  } }],
  ['a loopback backend: the new host listens on its mesh address, firewalled to the mesh', { body: 'service: vaultwarden\nfrom: o001\nto: h002\nstrategy: warm\nbackup: { none: true }', want: {
    'hosts/h002.nix': { has: ['services.vaultwarden.config.ROCKET_ADDRESS = lib.mkForce "100.64.0.20";', 'networking.firewall.interfaces.tailscale0.allowedTCPPorts = [ 8222 ];', 'systemd.services.vaultwarden.unitConfig.ConditionPathExists = [ "/var/lib/migen/demo/ready" ];'] },
    'hosts/o001.nix': { has: ['role = [ "old" "proxy" ];', 'systemd.services.vaultwarden.unitConfig.ConditionPathExists = [ "!/var/lib/migen/demo/moved" ];', "'server 127.0.0.1:8222;'"] },
  } }],
  ['no proxy: no route block anywhere', { body: 'service: adguardhome\nfrom: h003\nto: h002\nstrategy: cold\nbackup: { none: true }', want: {
    'hosts/o001.nix': null,
    'hosts/h002.nix': { has: ['systemd.services.adguardhome.unitConfig.ConditionPathExists = [ "/var/lib/migen/demo/ready" ];'], not: ['proxyPass'] },
  } }],
  ['free text is a Nix string whatever it holds', { body: `${forgejo}\ndescription: 'a "quoted" \${x} \\ text'`, want: {
    'hosts/h001.nix': { has: ['description = "a \\"quoted\\" \\${x} \\\\ text";'] },
  } }],
];

describe('the Nix renderer', () => {
  it.each(CASES)('%s', async (_name, c) => {
    const files = await modules(c.body);
    for (const [file, want] of Object.entries(c.want)) {
      if (want === null) { expect(files[file], file).toBeUndefined(); continue; }
      expect(files[file], file).toBeDefined();
      for (const s of want.has ?? []) expect(files[file], `${file} has ${String(s)}`).toMatch(typeof s === 'string' ? new RegExp(s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')) : s);
      for (const s of want.not ?? []) expect(files[file], `${file} lacks ${String(s)}`).not.toMatch(typeof s === 'string' ? new RegExp(s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')) : s);
    }
  });
});
