// The generated modules' tools and copy access, evaluated by real nix over the example fleet with
// the strict nixpkgs double (an undeclared option or an unknown package fails the evaluation).
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { migen } from '../helpers/cli.js';
import { nixEvalJson, repoRoot } from '../helpers/nix.js';
import { exampleRepo, overridesFor } from '../helpers/repo.js';

type Probe = Record<string, { packages: string[]; authorizedKeysFiles: string[]; system: string }>;
// pname of every system package (the double's packages are derivations with pname), and sshd's files
const probe = `cfgs: builtins.mapAttrs (n: s: let c = s.config; in {
  packages = builtins.sort (a: b: a < b) (map (p: p.pname) c.environment.systemPackages);
  authorizedKeysFiles = c.services.openssh.authorizedKeysFiles;
  system = builtins.seq c.system.build.toplevel.drvPath c.system.build.toplevel.name;
}) cfgs`;
const evalFleet = (repo: string): Promise<Probe> =>
  nixEvalJson(path.join(repo, 'examples/homelab'), 'nixosConfigurations', { overrides: overridesFor(repo), apply: probe }) as Promise<Probe>;
const SSHD = ['%h/.ssh/authorized_keys', '/etc/ssh/authorized_keys.d/%u'];

describe('the example fleet with the generated modules (planned)', () => {
  let fleet: Probe;
  it('every host declares the commands its steps run, from nixpkgs packages', async () => {
    fleet = await evalFleet(repoRoot);
    const has = (h: string, pkgs: string[]) => expect(fleet[h]!.packages, h).toEqual(expect.arrayContaining(pkgs));
    has('o001', ['restic', 'rsync', 'sqlite']);             // vaultwarden's old host: backup, SQLite copy, rsync's far end (its daemon mode)
    has('h002', ['rsync', 'sqlite']);                       // the new host: rsync, integrity_check
    has('h001', ['restic', 'rsync']);                       // forgejo's old host
    has('h003', ['bind', 'rsync']);                         // AdGuard's old host, which also asks the new one as clients do (dig)
    has('l001', ['bind', 'restic', 'rsync', 'sqlite']); // headscale's old host makes the DNS changes (nsupdate, dig)
    has('newvps', ['rsync', 'sqlite']);
    for (const h of Object.keys(fleet)) expect(fleet[h]!.packages, h).not.toContain('rrsync'); // every copy is pulled: rrsync serves only a push
    expect(Object.values(fleet).map((h) => h.system)).toEqual(Object.keys(fleet).map((h) => `nixos-system-${h}-26.05`));
  });

  it('each old host\'s sshd also reads the copy-access file of its migrations; no other host does', () => {
    expect(fleet.o001!.authorizedKeysFiles).toEqual([...SSHD, '/var/lib/migen/copy-access/vaultwarden/%u']);
    expect(fleet.h001!.authorizedKeysFiles).toEqual([...SSHD, '/var/lib/migen/copy-access/forgejo/%u']);
    expect(fleet.h003!.authorizedKeysFiles).toEqual([...SSHD, '/var/lib/migen/copy-access/adguardhome/%u']);
    expect(fleet.l001!.authorizedKeysFiles).toEqual([...SSHD, '/var/lib/migen/copy-access/headscale/%u']);
    for (const h of ['h002', 'newvps']) expect(fleet[h]!.authorizedKeysFiles, h).toEqual(SSHD);
  });
});

describe('after migen finalize vaultwarden', () => {
  const repo = exampleRepo();
  afterAll(() => repo.cleanup());
  it('o001 no longer reads the copy-access file nor declares the migration\'s tools', async () => {
    const r = migen(['finalize', 'vaultwarden', 'examples/homelab/migrations/vaultwarden.yaml', '--force'], { cwd: repo.dir });
    expect([r.code, r.stderr]).toEqual([0, '']);
    repo.commitAll();
    const after = await evalFleet(repo.dir);
    expect(after.o001!.authorizedKeysFiles).toEqual(SSHD);
    expect(after.o001!.packages).not.toContain('rsync');
    expect(after.o001!.packages).not.toContain('sqlite');
    expect(after.h001!.authorizedKeysFiles).toEqual([...SSHD, '/var/lib/migen/copy-access/forgejo/%u']); // forgejo is still planned
  });
});
