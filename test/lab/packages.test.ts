/**
 * The lab's system path and sshd's authorized-keys files as profiles carry them (system.ts,
 * packages.ts): what a deploy of the generated modules changes on a host, and what activating a
 * profile without them takes back.
 */
import { describe, expect, test } from 'vitest';
import { useLab } from './index.js';
import { hideCommands } from './packages.js';

const ctx = useLab({ hosts: [{ name: 'o001', address: '100.64.0.1' }, { name: 'h002', address: '100.64.0.20' }] });
const FILES = ['/var/lib/migen/copy-access/demo/%u'];

describe('a profile\'s packages and authorized-keys files', () => {
  test('activating it puts the programs on root\'s PATH and makes sshd read the files; another profile takes them back', async () => {
    const { lab } = ctx;
    await hideCommands(lab, 'o001', ['sqlite3']);
    const which = async () => (await lab.exec('o001', 'p=$(command -v sqlite3) && [ -x "$p" ] && echo "$p"')).stdout.trim();
    const keysLine = async () => (await lab.exec('o001', `grep '^AuthorizedKeysFile ' ${lab.dir}/sshd/o001/sshd_config`)).stdout.trim();
    expect(await which()).toBe('');
    await lab.system('o001', { profiles: { base: { packages: ['sqlite', 'rrsync'], authorizedKeysFiles: FILES }, previous: { authorizedKeysFiles: [] } }, active: 'base' });
    expect(await which()).toBe('/run/current-system/sw/bin/sqlite3');
    expect((await lab.exec('o001', 'ls /run/current-system/sw/bin')).stdout.split('\n').filter(Boolean)).toEqual(['rrsync', 'sqlite3']);
    expect(await keysLine()).toBe(`AuthorizedKeysFile .ssh/authorized_keys ${FILES[0]}`);
    // sshd re-executed with it and still serves (the operator reaches the host)
    expect((await lab.operator(['ssh', 'o001', 'true'])).code).toBe(0);
    await lab.exec('o001', '/nix/var/nix/profiles/system/specialisation/previous/bin/switch-to-configuration test');
    expect(await which()).toBe('');
    expect(await keysLine()).toBe('AuthorizedKeysFile .ssh/authorized_keys');
    expect((await lab.operator(['ssh', 'o001', 'true'])).code).toBe(0);
    // the other host never saw any of it
    expect((await lab.exec('h002', 'ls /run/current-system/sw/bin 2>/dev/null | wc -l')).stdout.trim()).toBe('0');
  }, 60_000);
});
