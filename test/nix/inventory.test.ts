// nix/inventory.nix against small fixture flakes, and the example fleet's committed export.
import { describe, it, expect } from 'vitest';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { doubleOverrides, nixInventory, nixEvalJson, repoRoot } from '../helpers/nix.js';
// @ts-expect-error plain ESM script without types
import { formatInventory } from './export-inventory.mjs';

const fixture = (name: string) => resolve(repoRoot, 'test/fixtures/flakes', name);
const overrides = { nixpkgs: doubleOverrides.nixpkgs!, migen: doubleOverrides.migen! };
type Inv = { formatVersion: number; hosts: Record<string, any> };

describe('inventory.nix', () => {
  it('reads proxyPass through mkDefault / mkForce / mkIf and tolerates a missing migen module', async () => {
    const inv = (await nixInventory(fixture('proxy'), overrides)) as Inv;
    expect(inv.formatVersion).toBe(1);
    const p = inv.hosts.proxy;
    const l = (proxyPass: string | null, others: string[] = []) => ({ proxyPass, proxyWebsockets: false, recommendedProxySettings: false, extraConfig: '', others });
    const v = (locations: object) => ({ extraConfig: '', serverAliases: [], others: [], locations });
    expect(p.nginx.virtualHosts).toEqual({
      'a.example.org': v({ '/': l('http://100.64.0.20') }),
      'b.example.org': v({ '/': l('http://100.64.0.13:8095') }),
      'c.example.org': v({ '/': l('http://100.64.0.20') }),
      'd.example.org': v({ '/static': l(null, ['root']) }), // what a copy elsewhere would have to carry
    });
    expect([p.address, p.sshTarget, p.deploy, p.services]).toEqual(['100.64.0.1', 'root@proxy', 'nixos-rebuild', ['nginx']]);
    expect(p.users.nginx).toEqual({ uid: 60, group: 'nginx' });
    const bare = inv.hosts.bare;
    expect([bare.address, bare.sshTarget, bare.system, bare.stateVersion]).toEqual([null, 'root@bare', 'aarch64-linux', '23.05']);
    expect(bare.postgresql).toEqual({ enable: true, port: 5433, version: '14.15' });
  });

  it('reads containers, secrets, backups and scrape targets, sorted', async () => {
    const inv = (await nixInventory(fixture('containers'), overrides)) as Inv;
    const h = inv.hosts.box;
    expect(h.containers).toEqual({
      git: {
        autoStart: true, localAddress: '10.233.1.2', privateNetwork: false, stateVersion: '24.11', services: ['forgejo', 'postgresql'],
        postgresql: { enable: true, port: 5432, version: '16.6' },
        listen: [{ service: 'forgejo', protocol: 'tcp', port: 3000, addresses: ['0.0.0.0'] }, { service: 'postgresql', protocol: 'tcp', port: 5432, addresses: ['localhost'] }],
      },
      // no stateVersion of its own: nixpkgs' default, the release
      idle: { autoStart: false, localAddress: null, privateNetwork: false, stateVersion: '26.05', services: [], postgresql: { enable: false, port: 5432, version: '17.7' }, listen: [] },
    });
    expect(h.secrets).toEqual({ agenix: ['alpha', 'zeta'], sops: ['db/password'] });
    expect(h.backups.restic).toEqual({ git: { repository: '/backup/box', paths: ['/var/lib/a', '/var/lib/z'], passwordFile: '/p' } });
    expect(h.monitoring.scrapeTargets).toEqual([
      { job: 'forgejo', target: '10.233.1.2:3000' },
      { job: 'node', target: 'a:9100' },
      { job: 'node', target: 'b:9100' },
    ]);
    expect([h.sshTarget, h.deploy, h.system, h.services]).toEqual(['admin@box.lan', 'colmena', 'x86_64-linux', ['restic']]);
    expect(h.users.svc).toEqual({ uid: null, group: 'svc' });
    expect(h.groups.svc).toEqual({ gid: null });
  });

  it('lib.nixosModule imports generated/ whose host modules are guarded by mkIf on hostName', async () => {
    const read = `c: { fw = c.config.networking.firewall.allowedTCPPorts; units = builtins.attrNames c.config.systemd.services;
      gen = c.config.migen.generatedDir != null;
      spec = c.config.specialisation.migen-forgejo-cutover.configuration.services.nginx.virtualHosts."git.example.org".locations."/".proxyPass or null;
      chat = c.config.services.nginx.virtualHosts."chat.example.org".locations."/".proxyPass;
      specs = builtins.attrNames c.config.specialisation; }`;
    const proxy = await nixEvalJson(fixture('with-generated'), 'nixosConfigurations.proxy', { overrides, apply: read });
    expect(proxy).toEqual({ fw: [5432], units: ['migen-marker'], gen: true, spec: 'http://100.64.0.20', chat: 'http://100.64.0.13', specs: ['migen-forgejo-cutover'] });
    const other = await nixEvalJson(fixture('with-generated'), 'nixosConfigurations.other', { overrides, apply: read.replace(/spec = [^;]*;/, 'spec = null;') });
    expect(other).toEqual({ fw: [], units: [], gen: true, spec: null, chat: 'http://100.64.0.13', specs: [] });
  });
});

describe('fixture flakes under nixpkgs\' rules', () => {
  it.each<[string, string[]]>([
    ['proxy', ['bare', 'proxy']],
    ['containers', ['box']],
    ['with-generated', ['other', 'proxy']],
  ])('%s: every host\'s toplevel evaluates (its assertions hold, its options exist)', async (name, hosts) => {
    const systems = await nixEvalJson(fixture(name), 'nixosConfigurations', { overrides, apply: 'cfgs: builtins.mapAttrs (n: s: builtins.seq s.config.system.build.toplevel.drvPath s.config.system.build.toplevel.name) cfgs' });
    expect(systems).toEqual(Object.fromEntries(hosts.map((h) => [h, `nixos-system-${h}-26.05`])));
  });
});

describe('examples/homelab', () => {
  it('inventory.json equals a fresh evaluation of the example flake', async () => {
    const fresh = formatInventory(await nixInventory(resolve(repoRoot, 'examples/homelab'), doubleOverrides));
    const committed = readFileSync(resolve(repoRoot, 'examples/homelab/inventory.json'), 'utf8');
    expect(committed, 'examples/homelab/inventory.json is stale: refresh it with `node test/nix/export-inventory.mjs`').toBe(fresh);
  });

  it('models the seed fleet: o001 proxy table, h001 containers, secrets on h002', async () => {
    const inv = JSON.parse(readFileSync(resolve(repoRoot, 'examples/homelab/inventory.json'), 'utf8')) as Inv;
    const vh = inv.hosts.o001.nginx.virtualHosts;
    expect(vh['llm.joshuabell.xyz'].locations['/'].proxyPass).toBe('http://100.64.0.13:8095');
    expect(vh['git.joshuabell.xyz'].locations['/'].proxyPass).toBe('http://100.64.0.13');
    // what a copy of a vhost would have to carry besides its proxy settings
    expect([vh['vault.joshuabell.xyz'].others, vh['vault.joshuabell.xyz'].locations['/'].proxyWebsockets]).toEqual([['enableACME', 'forceSSL'], true]);
    // h001's own nginx, the inner proxy: by Host to the containers on loopback, on ports 80 and 443
    const inner = inv.hosts.h001.nginx.virtualHosts;
    expect(Object.fromEntries(Object.entries(inner).map(([d, x]: [string, any]) => [d, x.locations['/'].proxyPass]))).toEqual({
      'chat.joshuabell.xyz': 'http://127.0.0.1:8081', 'git.joshuabell.xyz': 'http://127.0.0.1:3000', 'notes.joshuabell.xyz': 'http://127.0.0.1:8082',
      'sec.joshuabell.xyz': 'http://127.0.0.1:8083', 'sso.joshuabell.xyz': 'http://127.0.0.1:8080',
    });
    expect(inner['git.joshuabell.xyz'].extraConfig).toBe('client_max_body_size 512m;');
    expect(inv.hosts.h001.listen.map((x: any) => `${x.service} ${x.port}`)).toEqual(['nginx 443', 'nginx 80']);
    expect(inv.hosts.h001.containers.forgejo.services).toEqual(['forgejo', 'postgresql']);
    expect(inv.hosts.h002.secrets.agenix).toEqual(['forgejo-db-password', 'migen-replication-zitadel', 'restic-password', 'vaultwarden-env', 'zitadel-masterkey']);
    expect(inv.hosts.o001.users.vaultwarden).toEqual({ uid: null, group: 'vaultwarden' });
    expect(inv.hosts.newvps.users.headscale).toEqual({ uid: 990, group: 'headscale' });
  });
});
