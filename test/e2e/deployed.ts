/**
 * e2e: what a deploy of the example fleet puts on a lab host, from the GENERATED modules evaluated
 * with real nix (examples/homelab's nixosConfigurations against the nixpkgs test double, as
 * test/lab/pg/zitadel.ts does). Per host and lab unit: `systemd.services.<u>.unitConfig
 * .ConditionPathExists`, `restartIfChanged` and `wantedBy`; the host's `system.activationScripts`
 * named `migen-*`; for a host with nginx (a proxy, or h001/h002's own), `services.nginx.upstreams.*.extraConfig`
 * and the locations' proxyPass.
 *
 * The double declares the options but, unlike nixpkgs, its service modules define no units. The
 * evaluation adds what nixpkgs' modules define, at their priority (a plain definition, so a
 * generated `lib.mkForce` wins as it would against nixpkgs): `wantedBy = [ "multi-user.target" ]`
 * for an enabled services.<x> (vaultwarden, adguardhome, headscale, nginx; zitadel inside its container),
 * and for `containers.<n>.autoStart` nixos-containers.nix's `wantedBy = [ "machines.target" ]`,
 * `restartIfChanged = containers.<n>.restartIfChanged` and `restartTriggers` on container@<n>
 * (nixpkgs: the container's system path and .conf; here a hash of its bindMounts, its
 * PostgreSQL settings and its units' unitConfig: the parts the generated modules change).
 * Variant 'without-migen': the same hosts with `migen.generated.enable = false` (a deploy that did
 * not carry the generated module).
 */
import path from 'node:path';
import type { Lab, NginxVhost, ProfileUnit, SystemProfile } from '../lab/index.js';
import { nixEvalJson, repoRoot } from '../helpers/nix.js';
import { overridesFor } from '../helpers/repo.js';
import { generatedProfileParts } from '../lab/packages.js';

export type Variant = 'generated' | 'without-migen';
export interface EvaluatedUnit { conditions: string[]; restartIfChanged: boolean; wantedBy: string[]; trigger?: string }
export interface EvaluatedHost {
  units: Record<string, EvaluatedUnit>;
  /** migen-* activation snippets by name (NixOS runs them in name order here: none has deps) */
  activation: Record<string, string>;
  nginx: { vhosts: NginxVhost[]; upstreams: Record<string, string[]> } | null;
}

/** the lab units per host the evaluation reads: host units, and `inner` ones of a container (the lab runs zitadel as a host unit) */
const UNITS: Record<string, { units: string[]; inner?: Record<string, string[]> }> = {
  o001: { units: ['vaultwarden', 'nginx'] },
  // h001's own nginx routes its domains to the containers; h002 gets the moved ones' vhosts from the generated module
  h001: { units: ['container@forgejo', 'container@zitadel', 'nginx'], inner: { zitadel: ['zitadel'] } },
  h002: { units: ['vaultwarden', 'adguardhome', 'container@forgejo', 'container@zitadel', 'nginx'], inner: { zitadel: ['zitadel'] } },
  h003: { units: ['adguardhome'] },
  // Headscale moves from l001 to newvps by its DNS record: no proxy, no nginx of the lab's
  l001: { units: ['headscale'] },
  newvps: { units: ['headscale'] },
};
// the service whose `enable` makes nixpkgs' module want the unit
const SERVICE: Record<string, string> = { vaultwarden: 'vaultwarden', adguardhome: 'adguardhome', headscale: 'headscale', nginx: 'nginx', zitadel: 'zitadel' };

function expr(variant: Variant): string {
  const wants = (cfg: string, units: string[]) => units.filter((u) => SERVICE[u])
    .map((u) => `(lib.mkIf ${cfg}.services.${SERVICE[u]}.enable { ${JSON.stringify(u)}.wantedBy = [ "multi-user.target" ]; })`).join(' ');
  const unitOf = (cfg: string, u: string) => `${JSON.stringify(u)} = unit ${cfg} ${JSON.stringify(u)};`;
  const hosts = Object.entries(UNITS).map(([h, spec]) => {
    const inner = Object.entries(spec.inner ?? {});
    const mod = `({ config, lib, ... }: {
      ${variant === 'without-migen' ? 'migen.generated.enable = false;' : ''}
      systemd.services = lib.mkMerge [ ${wants('config', spec.units)}
        (lib.mapAttrs' (n: c: lib.nameValuePair "container@\${n}" (lib.mkIf c.autoStart { wantedBy = [ "machines.target" ]; restartIfChanged = c.restartIfChanged; })) config.containers) ];
      ${inner.map(([c, us]) => `containers.${c}.config = { config, lib, ... }: { systemd.services = lib.mkMerge [ ${wants('config', us)} ]; };`).join('\n')}
    })`;
    const cts = spec.units.filter((u) => u.startsWith('container@')).map((u) => u.slice('container@'.length));
    return `${h} = let c = (cfgs.${h}.extendModules { modules = [ ${mod} ]; }).config; in {
      triggers = { ${cts.map((n) => `${n} = trigger c.containers.${n};`).join(' ')} };
      units = { ${spec.units.map((u) => unitOf('c', u)).join(' ')} ${inner.flatMap(([cn, us]) => us.map((u) => unitOf(`c.containers.${cn}.config`, u))).join(' ')} };
      activation = builtins.listToAttrs (map (n: { name = n; value = let a = c.system.activationScripts.\${n}; in if builtins.isString a then a else a.text; })
        (builtins.filter (n: builtins.substring 0 6 n == "migen-") (builtins.attrNames c.system.activationScripts)));
      nginx = if !c.services.nginx.enable then null else {
        upstreams = builtins.mapAttrs (n: u: u.extraConfig) c.services.nginx.upstreams;
        vhosts = builtins.mapAttrs (n: v: builtins.mapAttrs (l: loc: loc.proxyPass) v.locations) c.services.nginx.virtualHosts;
      };
    };`;
  });
  return `cfgs: let
    unit = cfg: u: let s = cfg.systemd.services.\${u} or { }; v = (s.unitConfig or { }).ConditionPathExists or [ ]; in {
      conditions = if builtins.isList v then v else [ v ]; restartIfChanged = s.restartIfChanged or true; wantedBy = s.wantedBy or [ ]; };
    clean = a: builtins.removeAttrs a [ "_module" ];
    trigger = ct: let k = ct.config; pg = k.services.postgresql; in builtins.hashString "sha256" (builtins.toJSON {
      bind = ct.bindMounts;
      pg = { settings = clean pg.settings; inherit (pg) authentication ensureDatabases enableTCPIP; ensureUsers = map (u: u // { ensureClauses = clean (u.ensureClauses or { }); }) pg.ensureUsers; };
      units = builtins.mapAttrs (n: s: s.unitConfig) k.systemd.services; });
  in { ${hosts.join('\n')} }`;
}

interface Raw { triggers: Record<string, string>; units: Record<string, EvaluatedUnit>; activation: Record<string, string>; nginx: { upstreams: Record<string, string>; vhosts: Record<string, Record<string, string | null>> } | null }
const cache = new Map<Variant, Promise<Record<string, EvaluatedHost>>>();

/** the evaluated hosts o001, h001, h002, h003, l001, newvps (one nix eval per variant, cached) */
export function evaluateFleet(variant: Variant = 'generated'): Promise<Record<string, EvaluatedHost>> {
  let p = cache.get(variant);
  if (!p) {
    p = (nixEvalJson(path.join(repoRoot, 'examples/homelab'), 'nixosConfigurations', { overrides: overridesFor(repoRoot), apply: expr(variant) }) as Promise<Record<string, Raw>>)
      .then((raw) => Object.fromEntries(Object.entries(raw).map(([h, r]) => [h, {
        units: Object.fromEntries(Object.entries(r.units).map(([u, e]) => [u, u.startsWith('container@') ? { ...e, trigger: r.triggers[u.slice('container@'.length)] } : e])),
        activation: r.activation,
        nginx: r.nginx && {
          upstreams: Object.fromEntries(Object.entries(r.nginx.upstreams).map(([n, x]) => [n, x.split('\n').map((l) => l.trim()).filter(Boolean)])),
          vhosts: Object.entries(r.nginx.vhosts).map(([serverName, locs]) => ({ serverName, locations: Object.fromEntries(Object.entries(locs).map(([l, pp]) => [l, { proxyPass: pp }])) })),
        },
      }])));
    cache.set(variant, p);
  }
  return p;
}

/** `units[u].wanted` of a profile from an evaluated unit */
export function profileUnit(u: EvaluatedUnit): ProfileUnit {
  const wanted = u.wantedBy.includes('multi-user.target') ? true : u.wantedBy.includes('machines.target') ? 'machines' : false;
  return { wanted, conditions: u.conditions, restartIfChanged: u.restartIfChanged, ...(u.trigger ? { restartTriggers: [u.trigger] } : {}) };
}

/**
 * The profile a deploy of `host` activates, with the units the lab defines there (`units`),
 * the host's migen-* activation snippets and, for a proxy, its nginx (vhosts and upstreams).
 * `extraVhosts` are vhosts of the lab's own (a host-local nginx of a test) served as well.
 */
export async function deployedProfile(host: string, units: string[], opts: { variant?: Variant; extraVhosts?: NginxVhost[] } = {}): Promise<SystemProfile> {
  const ev = (await evaluateFleet(opts.variant))[host];
  if (!ev) throw new Error(`deployedProfile: ${host} is not evaluated (${Object.keys(UNITS).join(', ')})`);
  // the generated module's packages (its tools: rsync, sqlite, ...) and sshd's copy-access files
  const out: SystemProfile = { units: {}, ...((opts.variant ?? 'generated') === 'generated' ? await generatedProfileParts(host) : {}) };
  for (const u of units) {
    const e = ev.units[u];
    if (!e) throw new Error(`deployedProfile: ${host} has no evaluated unit ${u}`);
    if (u !== 'nginx') out.units![u] = profileUnit(e);
  }
  const snippets = Object.keys(ev.activation).sort().map((n) => `# ${n}\n${ev.activation[n]!.trim()}`);
  if (snippets.length) out.activation = snippets.join('\n');
  if ((units.includes('nginx') && ev.nginx) || opts.extraVhosts) {
    out.nginx = { vhosts: [...(units.includes('nginx') ? ev.nginx?.vhosts ?? [] : []), ...(opts.extraVhosts ?? [])], upstreams: units.includes('nginx') ? ev.nginx?.upstreams ?? {} : {} };
    if (units.includes('nginx') && ev.units.nginx) out.units!.nginx = { ...profileUnit(ev.units.nginx), stopIfChanged: false };
  }
  return out;
}

export interface DeployHostOptions {
  /** what a deploy activates (default 'generated'; 'without-migen': the deploy lacks the generated module) */
  variant?: Variant;
  /** what the host runs at setup: 'previous' (default: the fleet's configuration before migen's
   * generated module; for a new host one without these services) or 'base' (already deployed) */
  initial?: 'previous' | 'base';
  /** vhosts of a host-local nginx of the lab's own, in every profile */
  extraVhosts?: NginxVhost[];
}

/**
 * Gives a lab host its profiles: `base`, what `nixos-rebuild switch` (the runbook's deploy)
 * activates, from the generated modules; `previous` (/nix/var/nix/profiles/system/specialisation/
 * previous in the lab, a system-N-link on NixOS), what it ran before: the same configuration
 * without migen's generated module for an old host or proxy, and for a new host (role 'new') a
 * configuration without these services (the plan deploys them there first). Activates `initial`.
 */
export async function deployHost(lab: Lab, host: string, units: string[], role: 'old' | 'new' | 'proxy', opts: DeployHostOptions = {}): Promise<void> {
  const base = await deployedProfile(host, units, { variant: opts.variant, extraVhosts: opts.extraVhosts });
  const previous: SystemProfile = role === 'new'
    ? (opts.extraVhosts ? { nginx: { vhosts: opts.extraVhosts } } : {})
    : await deployedProfile(host, units, { variant: 'without-migen', extraVhosts: opts.extraVhosts });
  await lab.system(host, { profiles: { base, previous }, active: opts.initial ?? 'previous' });
}
