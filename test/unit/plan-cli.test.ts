import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { migen } from '../helpers/cli.js';

const require = createRequire(import.meta.url);

describe('migen plan on the example fleet', () => {
  const r = migen(['plan', 'examples/homelab/migrations/forgejo.yaml']);

  it('prints the plan and exits 2 (a migration is pending)', () => {
    expect(r.stderr).toBe('');
    expect(r.code).toBe(2);
    expect(r.stdout).toMatch(/^== forgejo: Forgejo \(git server\), warm, h001 \(100\.64\.0\.13\) -> h002 \(100\.64\.0\.20\) \[planned\]$/m);
  });

  it('moves the backend of git.joshuabell.xyz only, and lists the other vhosts on h001 as staying', () => {
    const moves = r.stdout.split('proxy o001 moves:\n')[1]!.split('   stays on h001:\n');
    expect(moves[0]!.trim().split('\n').map((l) => l.trim().replace(/\s+/g, ' '))).toEqual([
      'git.joshuabell.xyz / http://100.64.0.13 -> http://100.64.0.20',
      // the second proxy: h001's own nginx routes it by Host; h002 gets the same vhost
      "behind h001's own nginx: git.joshuabell.xyz (/ -> http://127.0.0.1:3000); on h002: the same virtual host, from generated/hosts/h002.nix (nginx enabled there)",
    ]);
    const lines = moves[1]!.split('\n');
    const staying = lines.slice(0, lines.findIndex((l) => !/^ {5}\S/.test(l))).map((l) => l.trim().replace(/\s+/g, ' '));
    expect(staying).toEqual([
      'chat.joshuabell.xyz / http://100.64.0.13',
      'llm.joshuabell.xyz / http://100.64.0.13:8095',
      'notes.joshuabell.xyz / http://100.64.0.13',
      'sec.joshuabell.xyz / http://100.64.0.13',
      'sso.joshuabell.xyz / http://100.64.0.13',
    ]);
  });

  it('shows every phase with hosts and literal commands, and the downtime window', () => {
    for (const phase of ['preflight', 'prepare', 'sync', 'cutover', 'verify', 'finalize']) expect(r.stdout).toContain(`   -- ${phase}\n`);
    expect(r.stdout).toContain('downtime window: about 2.8 s plus 0.05 s per 1,000 files of state (final pass of at most 67108864 bytes at 50000000 B/s');
    expect(r.stdout).toContain('h001$ systemctl stop container@forgejo');
    // rsync reaches h001 only with the migration's key for that directory, confined there by rsync's daemon (the remote path is its module's root).
    expect(r.stdout).toMatch(/h002\$ rsync -aHAX -x -S --delete --partial --stats --modify-window=-1 --numeric-ids -e 'ssh -F \/dev\/null -i \/var\/lib\/migen\/copy-keys\/forgejo\/0 -o IdentitiesOnly=yes -o ForwardAgent=no -o BatchMode=yes -o StrictHostKeyChecking=yes -o ControlMaster=auto -o ControlPath=~\/\.ssh\/migen-[0-9a-f]{10}-%C -o ControlPersist=120' root@100\.64\.0\.13::state\/ \/var\/lib\/forgejo\/data\/$/m);
    // The backup runs before the first stop.
    const backup = r.stdout.indexOf('restic -r /backup/h001 --password-file /run/agenix/restic-password backup');
    expect(backup).toBeGreaterThan(0);
    expect(backup).toBeLessThan(r.stdout.indexOf('systemctl stop container@forgejo'));
  });

  it('is byte-identical to the reviewed snapshot', async () => {
    await expect(r.stdout).toMatchFileSnapshot('../__snapshots__/plan-forgejo.txt');
  });

  it('--format json validates against schemas/plan.schema.json', () => {
    const j = migen(['plan', 'examples/homelab/migrations/forgejo.yaml', '--format', 'json']);
    expect(j.code).toBe(2);
    const data = JSON.parse(j.stdout);
    const Ajv = require('ajv');
    const ajv = new Ajv({ allErrors: true, strict: false });
    const validate = ajv.compile(require('../../schemas/plan.schema.json'));
    expect(validate(data), JSON.stringify(validate.errors)).toBe(true);
    expect(data.formatVersion).toBe(1);
    expect(data.migrations[0].routes.moved).toEqual([{ domain: 'git.joshuabell.xyz', location: '/', from: 'http://100.64.0.13', to: 'http://100.64.0.20', backend: 'http://100.64.0.20', via: 'proxyPass', upstream: null, span: null }]);
    expect(data.migrations[0].steps.filter((s: { window: boolean }) => s.window).map((s: { id: string }) => s.id)[0]).toBe('stop-old');
  });

  it.each(['vaultwarden', 'headscale', 'adguardhome', 'zitadel'])('%s plans (exit 2) and its JSON validates', (name) => {
    const j = migen(['plan', `examples/homelab/migrations/${name}.yaml`, '--format', 'json']);
    expect(j.stderr).toBe('');
    expect(j.code).toBe(2);
    const Ajv = require('ajv');
    const validate = new Ajv({ allErrors: true, strict: false }).compile(require('../../schemas/plan.schema.json'));
    expect(validate(JSON.parse(j.stdout)), JSON.stringify(validate.errors)).toBe(true);
  });

  it('--format markdown is the pull-request description committed in generated/plans', () => {
    const md = migen(['plan', 'examples/homelab/migrations/forgejo.yaml', '--format', 'markdown']);
    expect(md.stdout).toMatch(/^# Migrate forgejo: Forgejo \(git server\) from h001 to h002$/m);
    expect(md.stdout).toContain('| llm.joshuabell.xyz | `/` | `http://100.64.0.13:8095` |');
  });

  it('several manifests: the run order of migen run --all, in text, markdown and each JSON document', () => {
    const all = ['forgejo', 'zitadel', 'vaultwarden', 'headscale', 'adguardhome'].map((n) => `examples/homelab/migrations/${n}.yaml`);
    const text = migen(['plan', ...all]).stdout;
    const at = text.indexOf('run order (migen run --all)');
    expect(text.slice(at, text.indexOf('\nfiles:', at))).toBe([
      'run order (migen run --all): one group after another; a group\'s migrations at once (they share no host)',
      '  1. adguardhome, headscale',
      '  2. forgejo',
      '       forgejo: shares h002 with adguardhome',
      '  3. vaultwarden',
      '       vaultwarden: shares o001 with forgejo',
      '  4. zitadel',
      '       zitadel: after adguardhome, forgejo, headscale, vaultwarden: the SSO service goes last (the others log in through it)',
      '',
    ].join('\n'));
    expect(text.match(/run order \(migen run --all\)/g)).toHaveLength(1); // once, after the last plan
    const md = migen(['plan', ...all, '--format', 'markdown']).stdout;
    expect(md).toContain('## Run order (`migen run --all`)\n\nOne group after another; the migrations of a group run at the same time (they share no host).\n\n1. adguardhome, headscale\n2. forgejo; forgejo: shares h002 with adguardhome\n');
    const docs = migen(['plan', all[0]!, all[1]!, '--format', 'json']).stdout.trim().split(/\n(?=\{)/).map((d) => JSON.parse(d));
    const validate = new (require('ajv'))({ allErrors: true, strict: false }).compile(require('../../schemas/plan.schema.json'));
    expect(docs).toHaveLength(2);
    for (const d of docs) {
      expect(validate(d), JSON.stringify(validate.errors)).toBe(true);
      expect(d.order.groups).toEqual([['forgejo'], ['zitadel']]);
      expect(d.order.edges).toEqual([{ before: 'forgejo', after: 'zitadel', why: 'sso' }]);
    }
    // one manifest of one migration: no order to show
    expect(migen(['plan', all[0]!]).stdout).not.toContain('run order');
  });

  it('--help on every command', () => {
    for (const c of ['plan', 'generate', 'check', 'inventory', 'run', 'finalize']) {
      const h = migen([c, '--help']);
      expect(h.code).toBe(0);
      expect(h.stdout).toMatch(new RegExp(`^Usage: migen ${c}`));
    }
    expect(migen(['--help']).stdout).toMatch(/^migen: generate reviewable NixOS service migrations/);
  });
});
