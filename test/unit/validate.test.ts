import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../src/errors.js';
import { prepare } from '../../src/generator/pipeline.js';
import { fleet } from '../fixtures/inventory.js';
import { migen } from '../helpers/cli.js';

const dir = mkdtempSync(path.join(tmpdir(), 'migen-validate-'));
const inventory = path.join(dir, 'inventory.json');
writeFileSync(inventory, JSON.stringify(fleet(), null, 2));

const ok = `version: 1
migrations:
  forgejo:
    service: forgejo
    from: h001
    to: h002
    strategy: warm
    backup: { none: true }
`;

const hs = ok.replace('  forgejo:\n    service: forgejo\n    from: h001\n    to: h002', '  headscale:\n    service: headscale\n    from: l001\n    to: newvps');
const agh = ok.replace('  forgejo:\n    service: forgejo\n    from: h001\n    to: h002', '  adguardhome:\n    service: adguardhome\n    from: h003\n    to: h002');
const dns = '    dns:\n      records:\n        - { name: headscale.joshuabell.xyz, old: 203.0.113.2, new: 203.0.113.30, ttl: 3600 }\n      resolvers: [1.1.1.1]\n';

function write(name: string, text: string): string {
  const f = path.join(dir, `${name}.yaml`);
  writeFileSync(f, text);
  return f;
}

async function problems(text: string, name = 'm'): Promise<{ line: number; column: number; message: string }[]> {
  const f = write(name, text);
  try {
    await prepare([f], { inventory });
  } catch (e) {
    if (e instanceof ValidationError) return e.problems.map((p) => ({ line: p.line, column: p.column, message: p.message }));
    throw e;
  }
  return [];
}

// [name, { given: manifest text, want: line, column and a fragment of the message }]
const cases: [string, { given: string; line: number; column: number; says: RegExp }][] = [
  ['wrong type for strategy', { given: ok.replace('strategy: warm', 'strategy: 5'), line: 7, column: 15, says: /strategy: 5 is not one of cold, warm, hot/ }],
  ['unknown host', { given: ok.replace('to: h002', 'to: h999'), line: 6, column: 9, says: /host "h999" is not in the inventory; valid: h001, h002, h003, l001, newvps, o001/ }],
  ['unknown service', { given: ok.replace('service: forgejo', 'service: nextcloud'), line: 4, column: 14, says: /"nextcloud" is not one of forgejo, zitadel, vaultwarden, headscale, adguardhome, custom/ }],
  ['path with ;', { given: `${ok}    state: ["/var/lib/forgejo;rm -rf /"]\n`, line: 9, column: 13, says: /"\/var\/lib\/forgejo;rm -rf \/" is not valid; expected an absolute path/ }],
  ['path with ..', { given: `${ok}    state: [/var/lib/../etc]\n`, line: 9, column: 13, says: /is not valid; expected an absolute path/ }],
  ['relative path', { given: `${ok}    state: [var/lib/forgejo]\n`, line: 9, column: 13, says: /expected an absolute path/ }],
  ['bad YAML', { given: 'version: 1\nmigrations:\n  forgejo: { service: forgejo\n', line: 4, column: 1, says: /invalid YAML/ }],
  ['duplicate key', { given: ok.replace('    to: h002\n', '    to: h002\n    to: h003\n'), line: 7, column: 5, says: /invalid YAML: Map keys must be unique/ }],
  ['unknown field', { given: `${ok}    colour: blue\n`, line: 9, column: 5, says: /unknown field "colour"; allowed here: after, backup, container/ }],
  ['missing required field', { given: ok.replace('    to: h002\n', ''), line: 4, column: 5, says: /missing required field "to"/ }],
  ['same host', { given: ok.replace('to: h002', 'to: h001'), line: 6, column: 9, says: /is the same host as from/ }],
  ['hot without database', { given: ok.replace('strategy: warm', 'strategy: hot'), line: 7, column: 15, says: /strategy: hot needs "database/ }],
  ['invalid domain', { given: `${ok}    domains: [git..joshuabell.xyz]\n`, line: 9, column: 15, says: /expected a lowercase DNS name/ }],
  ['domain not on the proxy', { given: `${ok}    domains: [code.joshuabell.xyz]\n`, line: 9, column: 15, says: /code.joshuabell.xyz is not a virtual host of any nginx/ }],
  ['unit with a leading dash', { given: `${ok}    unit: "-x"\n`, line: 9, column: 11, says: /expected a systemd unit name/ }],
  ['unit with a space', { given: `${ok}    unit: "a b"\n`, line: 9, column: 11, says: /expected a systemd unit name/ }],
  ['hostname with $()', { given: ok.replace('to: h002', 'to: "$(reboot)"'), line: 6, column: 9, says: /"\$\(reboot\)" is not valid; expected a host name/ }],
  ['version 2', { given: ok.replace('version: 1', 'version: 2'), line: 1, column: 10, says: /version: 2 is not valid; expected 1/ }],
  ['service not on the old host', { given: ok.replace('from: h001', 'from: h003').replace('service: forgejo', 'service: forgejo'), line: 5, column: 11, says: /h003 does not run forgejo \(container forgejo\); it runs adguardhome/ }],
  ['secret missing on the new host', { given: `${ok}    secrets: [forgejo-db-password, forgejo-mailer]\n`, line: 9, column: 36, says: /secret forgejo-mailer \(agenix\) used by forgejo on h001 is not declared on h002/ }],
  ['migration name with uppercase', { given: ok.replace('  forgejo:', '  Forgejo:'), line: 3, column: 3, says: /invalid name "Forgejo"; expected a name of 2-40 lowercase/ }],
  ['dns: a name where an A record needs an address', { given: `${hs}${dns.replace('new: 203.0.113.30', 'new: vps.example.org')}      authority: 203.0.113.53\n`, line: 11, column: 68, says: /^dns\.records\.0\.new: "vps\.example\.org" is not a value for an A record; expected an IPv4 address$/ }],
  ['dns: the same value before and after', { given: `${hs}${dns.replace('new: 203.0.113.30', 'new: 203.0.113.2')}      authority: 203.0.113.53\n`, line: 11, column: 68, says: /203\.0\.113\.2 is also the old value; the record would not move/ }],
  ['dns: nothing to verify the changes at', { given: `${hs}${dns}`, line: 10, column: 7, says: /^dns: needs "authority"/ }],
  ['dns: lowered too late', { given: `${hs}${dns}      authority: 203.0.113.53\n      lowerTtl: { aheadSeconds: 60 }\n`, line: 14, column: 33, says: /aheadSeconds: 60 is less than the old TTL 3600.*use at least 3600/ }],
  ['dns: a value that is no address', { given: `${hs}${dns.replace('resolvers: [1.1.1.1]', 'resolvers: [1.1.1.1;reboot]')}      authority: 203.0.113.53\n`, line: 12, column: 19, says: /"1\.1\.1\.1;reboot" is not valid; expected an IPv4 address/ }],
  ['dns and a proxy route for the same name', { given: `${hs}    domains: [headscale.joshuabell.xyz]\n${dns}      authority: 203.0.113.53\n`, line: 9, column: 15, says: /^domains\.0: headscale\.joshuabell\.xyz moves by its DNS record/ }],
  ['handoff check of no kind', { given: `${hs}    handoffs:\n      - do: tell users\n        check: { on: old }\n`, line: 11, column: 16, says: /handoffs\.0\.check: give exactly one of dns, tcp, http, command$/ }],
  ['handoff check of two kinds', { given: `${hs}    handoffs:\n      - do: tell users\n        check: { command: "true", http: "http://x.org/" }\n`, line: 11, column: 16, says: /give exactly one of dns, tcp, http, command, not http and command together/ }],
  ['handoff check on the proxy of a migration without one', { given: `${agh}    handoffs:\n      - do: tell users\n        check: { command: "true", on: proxy }\n`, line: 11, column: 39, says: /^handoffs\.0\.check\.on: "proxy" names no host/ }],
  ['handoff ids twice', { given: `${hs}    handoffs:\n      - { id: a, do: x, check: { command: "true" } }\n      - { id: a, do: y, check: { command: "true" } }\n`, line: 11, column: 15, says: /handoffs\.1\.id: a is used twice/ }],
  ['handoff text on two lines', { given: `${hs}    handoffs:\n      - { do: "a\\nb", check: { command: "true" } }\n`, line: 10, column: 15, says: /expected one line of text/ }],
  ['after: an unknown migration', { given: `${ok}    after: [vaultwarden]\n`, line: 9, column: 13, says: /after\.0: no migration "vaultwarden" in these manifests; known: forgejo/ }],
  ['after: itself', { given: `${ok}    after: [forgejo]\n`, line: 9, column: 13, says: /forgejo cannot run after itself/ }],
  ['after: a cycle', { given: `${ok}    after: [other]\n  other:\n    service: headscale\n    from: l001\n    to: newvps\n    strategy: warm\n    backup: { none: true }\n    after: [forgejo]\n`, line: 16, column: 13, says: /migrations\.other\.after: the declared order has a cycle \(forgejo before other before forgejo\)/ }],
  ['alias bomb', { given: 'version: 1\na: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\nmigrations: {}\n', line: 1, column: 1, says: /invalid YAML: .*(alias|Alias)/ }],
];

describe('broken manifests: one located error each', () => {
  it.each(cases)('%s', async (name, { given, line, column, says }) => {
    const ps = await problems(given, name.replace(/\W+/g, '-'));
    expect(ps, JSON.stringify(ps)).toHaveLength(1);
    expect(ps[0]!.message).toMatch(says);
    expect([ps[0]!.line, ps[0]!.column]).toEqual([line, column]);
  });

  it('the valid manifest has no problems', async () => {
    expect(await problems(ok)).toEqual([]);
  });

  it('overlapping state of two migrations from one host is refused', async () => {
    const text = `${ok}    state: [/var/lib/forgejo]\n  forgejo2:\n    service: custom\n    unit: forgejo-extra\n    from: h001\n    to: h002\n    strategy: cold\n    state: [/var/lib/forgejo/data]\n    backup: { none: true }\n`;
    const ps = await problems(text, 'overlap');
    expect(ps.map((p) => p.message)).toEqual(['state /var/lib/forgejo/data overlaps /var/lib/forgejo of migration forgejo on h001; one directory can move only once']);
    expect([ps[0]!.line, ps[0]!.column]).toEqual([16, 13]);
  });
});

describe('the CLI prints one clear error, exit 1, no stack trace', () => {
  it.each([
    ['path with ;', `${ok}    state: ["/var/lib/x;reboot"]\n`, /^migen: .*semi\.yaml:9:13: migrations\.forgejo\.state\.0: "\/var\/lib\/x;reboot" is not valid/],
    ['bad YAML', 'version: 1\nmigrations: [\n', /^migen: .*yaml-bad\.yaml:3:1: invalid YAML/],
    ['unknown host', ok.replace('from: h001', 'from: nope'), /^migen: .*unknown-host\.yaml:5:11: from: host "nope" is not in the inventory/],
  ])('%s', (_name, text, want) => {
    const file = write(String(_name) === 'path with ;' ? 'semi' : String(_name) === 'bad YAML' ? 'yaml-bad' : 'unknown-host', text);
    const r = migen(['plan', file, '--inventory', inventory], { cwd: dir });
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(want);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it('a missing manifest file', () => {
    const r = migen(['plan', path.join(dir, 'nope.yaml'), '--inventory', inventory], { cwd: dir });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/nope\.yaml: cannot read the manifest \(ENOENT\)/);
  });

  it('an unknown option', () => {
    const r = migen(['plan', '--colour']);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('migen: unknown option --colour; see migen plan --help\n');
  });
});
