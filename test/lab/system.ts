/**
 * migen lab: a host's NixOS-like system configurations ("profiles"), as lab.system writes them.
 * STAND-IN for a NixOS system closure (nixpkgs nixos/modules/system/activation/top-level.nix):
 * per profile a directory (base: /nix/var/nix/profiles/system, others:
 * /nix/var/nix/profiles/system/specialisation/NAME) holding
 * - etc/systemd/system/NAME.service: the unit files NixOS renders (nixos/lib/systemd-lib.nix):
 *   [Unit] ConditionPathExists= lines (unitConfig lists become one line per value), [Service]
 *   X-RestartIfChanged=false / X-StopIfChanged=false / X-ReloadIfChanged=true when set, the
 *   lab definition's ExecStart=/Environment= (so a changed definition is a changed unit); wanted
 *   units as `multi-user.target.wants/NAME.service` (containers: `machines.target.wants/`, and
 *   multi-user.target wants machines.target, as nixos-containers.nix sets it up);
 * - etc/nginx/nginx.conf (+ generation, the lab's token) when the profile has nginx;
 * - activate: the activation script (activation-script.nix's format: each snippet under
 *   "#### Activation script snippet NAME:" with an ERR trap, the etc step, then
 *   `ln -sfn $systemConfig /run/current-system`);
 * - bin/switch-to-configuration: sets TOPLEVEL and runs the lab's s-t-c stand-in
 *   (stand-ins/switch-to-configuration), as the real one wraps switch-to-configuration-ng.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { NginxVhost, UnitSpec } from './lab.js';

export interface ProfileUnit {
  /** wantedBy multi-user.target (true) or machines.target ('machines': a container@ unit with autoStart) */
  wanted?: boolean | 'machines';
  /** unitConfig.ConditionPathExists values (`!` negates), one line each, ANDed */
  conditions?: string[];
  /** systemd.services.<u>.restartIfChanged (default true; false renders X-RestartIfChanged=false) */
  restartIfChanged?: boolean;
  /** stopIfChanged (default true; false: restart instead of stop + start) */
  stopIfChanged?: boolean;
  /** restartTriggers: rendered as [Unit] X-Restart-Triggers= (any change restarts the unit) */
  restartTriggers?: string[];
  /** further lines of the [Service] section (e.g. `Environment=X=1`): what a changed definition changes */
  extra?: string[];
}
export interface NginxProfile {
  vhosts: NginxVhost[];
  /** services.nginx.upstreams: name -> raw lines, e.g. ['include /var/lib/migen/nginx/vaultwarden/0.upstream;'] */
  upstreams?: Record<string, string[]>;
}
export interface SystemProfile {
  nginx?: NginxProfile;
  units?: Record<string, ProfileUnit>;
  /** bash run by the activation (system.activationScripts texts) */
  activation?: string;
}
export interface SystemSpec {
  profiles: Record<string, SystemProfile>;
  /** the profile to activate now (switch-to-configuration; `switch` when it is also the boot profile, else `test`); null: none */
  active: string | null;
  /** the boot default (default: active) */
  boot?: string | null;
  /** after activating: wait until nginx serves the profile (default true when it has nginx) */
  settle?: boolean;
}

export const SYSTEM = '/nix/var/nix/profiles/system';
export const BOOT_RECORD = '/nix/var/nix/profiles/.lab-boot-profile';
export const topOf = (profile: string): string => (profile === 'base' ? SYSTEM : `${SYSTEM}/specialisation/${profile}`);
const NAME_RE = /^[a-z0-9][a-z0-9-]{0,30}$/i;

export function checkToken(s: string, what: string): string {
  if (!s || /[\s;{}"'\\$#]/.test(s)) throw new Error(`lab: nginx ${what} ${JSON.stringify(s)} not allowed`);
  return s;
}

const sq = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

/** the unit file NixOS would render for `name` in this profile */
export function renderUnitFile(name: string, pu: ProfileUnit, spec: UnitSpec | undefined): string {
  for (const c of pu.conditions ?? []) if (!/^!?\/\S*$/.test(c)) throw new Error(`lab: unit ${name}: bad ConditionPathExists value ${JSON.stringify(c)}`);
  const unit = [`Description=${name} (migen lab)`, ...(pu.conditions ?? []).map((c) => `ConditionPathExists=${c}`)];
  if (pu.restartTriggers?.length) unit.push(`X-Restart-Triggers=${pu.restartTriggers.join(' ')}`);
  const svc: string[] = [];
  if (spec) {
    for (const [k, v] of Object.entries(spec.env ?? {})) svc.push(`Environment="${k}=${v}"`);
    svc.push(`ExecStart=${spec.exec.map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : sq(a))).join(' ')}`);
  }
  if (pu.restartIfChanged === false) svc.push('X-RestartIfChanged=false');
  if (pu.stopIfChanged === false) svc.push('X-StopIfChanged=false');
  svc.push(...(pu.extra ?? []));
  return ['[Unit]', ...unit, '', '[Service]', ...svc, ''].join('\n');
}

/** nginx.conf of a profile; `token` answers /.lab/generation on the default server */
export function renderNginx(nx: NginxProfile, token: string): string {
  const out = [
    '# migen lab nginx.conf (written by lab.system)',
    'user nobody nogroup;',
    'worker_processes 1;',
    'pid /run/nginx.pid;',
    'error_log /var/log/nginx/error.log warn;',
    'events { worker_connections 1024; }',
    'http {',
    '  default_type text/plain;',
    '  access_log /var/log/nginx/access.log;',
    '  client_body_temp_path /run/nginx/body;',
    '  proxy_temp_path /run/nginx/proxy;',
    '  fastcgi_temp_path /run/nginx/fastcgi;',
    '  uwsgi_temp_path /run/nginx/uwsgi;',
    '  scgi_temp_path /run/nginx/scgi;',
    '  proxy_connect_timeout 2s;',
    '  proxy_read_timeout 30s;',
    '  proxy_http_version 1.1;',
    '  ssl_certificate /etc/nginx/lab-tls/cert.pem;',
    '  ssl_certificate_key /etc/nginx/lab-tls/key.pem;',
  ];
  // nixpkgs nginx/default.nix: `upstream ${name} { ${servers} ${extraConfig} }` at http level
  for (const [name, lines] of Object.entries(nx.upstreams ?? {})) {
    checkToken(name, 'upstream');
    out.push(`  upstream ${name} {`);
    for (const l of lines) {
      if (/[{}\n]/.test(l)) throw new Error(`lab: nginx upstream ${name}: line ${JSON.stringify(l)} not allowed`);
      out.push(`    ${l}`);
    }
    out.push('  }');
  }
  out.push(
    '  server {',
    '    listen 80 default_server;',
    '    listen 443 ssl default_server;',
    '    server_name _;',
    `    location = /.lab/generation { return 200 "${token}"; }`,
    '    location / { return 404; }',
    '  }',
  );
  for (const v of nx.vhosts) {
    out.push('  server {', '    listen 80;', '    listen 443 ssl;', `    server_name ${checkToken(v.serverName, 'server_name')};`);
    for (const [loc, { proxyPass }] of Object.entries(v.locations)) {
      out.push(`    location ${checkToken(loc, 'location')} {`);
      if (proxyPass === null) out.push('      return 404;');
      else {
        out.push(
          `      proxy_pass ${checkToken(proxyPass, 'proxy_pass')};`,
          '      proxy_set_header Host $host;',
          '      proxy_set_header X-Real-IP $remote_addr;',
          '      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;',
          '      proxy_set_header X-Forwarded-Proto $scheme;',
        );
      }
      out.push('    }');
    }
    out.push('  }');
  }
  out.push('}', '');
  return out.join('\n');
}

function renderActivate(top: string, p: SystemProfile): string {
  return [
    '#!/bin/bash',
    `# migen lab: activation script of ${top} (STAND-IN for NixOS's $toplevel/activate,`,
    '# nixos/modules/system/activation/activation-script.nix: snippets with an ERR trap, /etc, then',
    '# /run/current-system). Run by switch-to-configuration and at boot.',
    `systemConfig=${sq(top)}`,
    'export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
    '_status=0',
    'trap "_status=1 _localstatus=\\$?" ERR',
    'umask 0022',
    ...(p.activation ? ['#### Activation script snippet lab:', '_localstatus=0', p.activation, 'if (( _localstatus > 0 )); then printf "Activation script snippet \'%s\' failed (%s)\\n" lab "$_localstatus"; fi'] : []),
    '#### Activation script snippet etc:',
    ...(p.nginx
      ? ['install -d -m 0755 /etc/nginx', 'cp "$systemConfig/etc/nginx/nginx.conf" /etc/nginx/.nginx.conf.new && mv -f /etc/nginx/.nginx.conf.new /etc/nginx/nginx.conf']
      : []),
    '# Make this configuration the current configuration.',
    'ln -sfn "$systemConfig" /run/current-system',
    'exit $_status',
    '',
  ].join('\n');
}

function write(file: string, content: string, mode = 0o644): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, content, { mode });
  fs.chmodSync(file, mode);
}

/**
 * Writes every profile of `spec` under the host directory `profilesDir` (the host's
 * /nix/var/nix/profiles as seen from the machine), replacing the previous ones. `defs` are the
 * host's unit definitions (for ExecStart=); `stc` the path of the s-t-c stand-in.
 */
export function writeProfiles(profilesDir: string, spec: SystemSpec, defs: Map<string, UnitSpec>, stc: string): void {
  if (!spec.profiles.base) throw new Error(`lab: profiles need a 'base' profile (got ${Object.keys(spec.profiles).join(', ')})`);
  for (const p of [spec.active, spec.boot]) if (p != null && !spec.profiles[p]) throw new Error(`lab: profile ${p} not in profiles`);
  const sysDir = path.join(profilesDir, 'system');
  fs.rmSync(sysDir, { recursive: true, force: true });
  for (const [profile, p] of Object.entries(spec.profiles)) {
    if (!NAME_RE.test(profile)) throw new Error(`lab: bad profile name ${profile}`);
    const top = topOf(profile);
    const outside = path.join(profilesDir, path.relative('/nix/var/nix/profiles', top));
    const units = path.join(outside, 'etc', 'systemd', 'system');
    fs.mkdirSync(units, { recursive: true });
    write(path.join(units, 'multi-user.target'), '[Unit]\nDescription=Multi-User System\n');
    write(path.join(units, 'machines.target'), '[Unit]\nDescription=Containers\n');
    fs.mkdirSync(path.join(units, 'multi-user.target.wants'), { recursive: true });
    fs.symlinkSync('../machines.target', path.join(units, 'multi-user.target.wants', 'machines.target'));
    const all: Record<string, ProfileUnit> = { ...(p.nginx ? { nginx: { wanted: true, stopIfChanged: false } } : {}), ...p.units };
    for (const [name, pu] of Object.entries(all)) {
      if (!/^[A-Za-z0-9@._:-]+$/.test(name)) throw new Error(`lab: bad unit name ${name}`);
      const file = `${name.replace(/\.service$/, '')}.service`;
      write(path.join(units, file), renderUnitFile(name, pu, defs.get(name.replace(/\.service$/, ''))));
      if (pu.wanted) {
        const wants = path.join(units, `${pu.wanted === 'machines' ? 'machines' : 'multi-user'}.target.wants`);
        fs.mkdirSync(wants, { recursive: true });
        fs.symlinkSync(`../${file}`, path.join(wants, file));
      }
    }
    if (p.nginx) {
      const conf0 = renderNginx(p.nginx, 'TOKEN');
      const token = `${profile}:${createHash('sha256').update(conf0).digest('hex').slice(0, 12)}`;
      write(path.join(outside, 'etc', 'nginx', 'nginx.conf'), renderNginx(p.nginx, token));
      write(path.join(outside, 'etc', 'nginx', 'generation'), `${token}\n`);
    }
    write(path.join(outside, 'activate'), renderActivate(top, p), 0o755);
    write(path.join(outside, 'lab-profile'), `${profile}\n`);
    write(
      path.join(outside, 'bin', 'switch-to-configuration'),
      `#!/bin/sh\n# migen lab: switch-to-configuration of profile ${profile} (STAND-IN, see ${stc})\nTOPLEVEL=${sq(top)} exec ${sq(stc)} "$@"\n`,
      0o755,
    );
  }
}

/** the server names of every profile's vhosts (for the lab's certificate) */
export const serverNames = (spec: SystemSpec): string[] =>
  [...new Set(Object.values(spec.profiles).flatMap((p) => (p.nginx?.vhosts ?? []).map((v) => checkToken(v.serverName, 'server_name'))))].sort();
