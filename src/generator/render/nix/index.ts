// NixOS modules per host from the plans alone: every migration's contribution to a host, in a
// fixed order, merged into hosts/<host>.nix, and default.nix importing them.
import type { OutFile } from '../../types.js';
import { headerText, type Header } from '../header.js';
import { hbs, nixAttr as nixAttrName, nixString, renderTemplate, template } from '../handlebars.js';
import { PROVIDERS } from '../../plan/tools.js';
import type { MigrationPlan, Plan } from '../../plan/types.js';

/** A host's contribution from one migration: a template (partial) and its view. */
interface Block { readonly host: string; readonly migration: string; readonly comment: string; readonly partial: string; readonly [k: string]: unknown }

const PARTIALS = ['routes-upstream', 'routes-base', 'inner-vhost', 'fence-old', 'fence-new', 'retired', 'owners', 'pg-publisher', 'pg-subscriber', 'listen', 'meta', 'backup-follow', 'tools', 'copy-access'] as const;
type Partial = (typeof PARTIALS)[number];

let registered = false;
function registerPartials(): void {
  if (registered) return;
  for (const p of PARTIALS) hbs().registerPartial(p, template(`nix/${p}.nix.hbs`));
  registered = true;
}

/** An upstream's servers as a Nix attribute set: address -> its parameters (nixpkgs' server submodule). */
function nixServers(servers: MigrationPlan['routes']['upstreams'][number]['servers']): string {
  const value = (v: boolean | number | string): string => (typeof v === 'boolean' ? String(v) : typeof v === 'number' ? String(v) : nixString(v));
  const params = (p: Readonly<Record<string, boolean | number | string>>): string => `{${Object.keys(p).sort().map((k) => ` ${nixAttrName(k)} = ${value(p[k]!)};`).join('')} }`;
  return `{${servers.map((s) => ` ${nixString(s.new)} = ${params(s.params)};`).join('')} }`;
}

/** Comments are one line of plain text: newlines and control characters would end them early. */
const oneLine = (s: string): string => s.replace(/[\u0000-\u001f\u007f]+/g, ' ').trim();

const MESH_INTERFACE = 'tailscale0';

function blocksOf(m: MigrationPlan): Block[] {
  const out: Block[] = [];
  const head = `${m.name}: ${m.serviceTitle}, ${m.strategy}, ${m.from.name} -> ${m.to.name}, ${m.status}${m.description ? `. ${oneLine(m.description)}` : ''}`;
  const block = (host: string, partial: Partial, view: Record<string, unknown>): void => {
    out.push({ host, migration: m.name, comment: oneLine(head), partial, name: m.name, from: m.from.name, to: m.to.name, ...view });
  };
  const unitService = m.unit.replace(/\.service$/, '');
  const done = m.status === 'done';

  if (m.proxy && m.routes.moved.length > 0) {
    const edits = m.routeEdits.map((e) => ({ ...e, option: `services.nginx.virtualHosts.${nixAttrName(e.domain)}${e.location === null ? '' : `.locations.${nixAttrName(e.location)}`}.extraConfig` }));
    if (done) {
      const upstreams = m.routes.upstreams.map((u) => ({ name: u.name, was: u.servers.map((s) => s.old).join(', '), servers: nixServers(u.servers) }));
      block(m.proxy.name, 'routes-base', { routes: m.routes.moved.filter((r) => r.via === 'proxyPass'), upstreams, edits });
    } else {
      const routes = m.routeFiles.map((f) => ({ ...f, include: `include ${f.file};`, ownUpstream: f.via === 'upstream', viaProxyPass: f.via === 'proxyPass', was: m.routes.moved.find((r) => r.domain === f.domain && r.location === f.location)!.from }));
      block(m.proxy.name, 'routes-upstream', { routes, edits, activation: `migen-${m.name}-routes`, script: m.routeDefaults });
    }
  }
  // New host: the old host's inner virtual hosts for the moved domains (kept once done: it serves them from then on).
  const copies = m.routes.inner.filter((v) => v.mode === 'copy');
  if (m.proxy && copies.length) {
    block(m.to.name, 'inner-vhost', {
      proxy: m.proxy.name, plural: copies.length > 1, meshInterface: MESH_INTERFACE, ports: [...new Set(copies.map((v) => v.port))].sort((a, b) => a - b),
      vhosts: copies.map((v) => ({
        domain: v.domain, aliases: v.serverAliases, extraConfig: v.extraConfig,
        locations: v.locations.map((l) => ({ ...l, websockets: String(l.proxyWebsockets), recommended: String(l.recommendedProxySettings) })),
      })),
    });
  }
  // New host: same owners as the old one where it pinned them; prepared (not started) until done.
  const users = m.state.filter((s) => s.owner && s.uid !== null).map((s) => ({ name: s.owner!, uid: s.uid! }));
  const groups = m.state.filter((s) => s.group && s.gid !== null).map((s) => ({ name: s.group!, gid: s.gid! }));
  const uniq = <T extends { name: string }>(xs: T[]): T[] => [...new Map(xs.map((x) => [x.name, x])).values()].sort((a, b) => (a.name < b.name ? -1 : 1));
  if (users.length || groups.length) block(m.to.name, 'owners', { users: uniq(users), groups: uniq(groups) });
  if (m.listen) block(m.to.name, 'listen', { option: m.listen.option ? m.listen.option.map(nixAttrName).join('.') : null, address: m.listen.address, ports: m.listen.ports, meshInterface: MESH_INTERFACE });
  if (!done) {
    const fence = (u: typeof m.fence.units.old, marker: string, condition: string) => ({
      unit: u.unit, unitService: u.unit.replace(/\.service$/, ''), container: u.container, marker, condition,
      dir: m.fence.dir, activation: `migen-${m.name}-fence`, mkdir: `install -d -m 0755 ${m.fence.dir}`,
    });
    block(m.to.name, 'fence-new', fence(m.fence.units.new, m.fence.ready, m.fence.ready));
    block(m.from.name, 'fence-old', fence(m.fence.units.old, m.fence.moved, `!${m.fence.moved}`));
    for (const t of m.tools) if (t.packages.length) block(t.host, 'tools', { commands: t.commands.filter((x) => PROVIDERS[x]).join(', '), packages: t.packages });
    const a = m.copyAccess;
    if (a) block(a.server, 'copy-access', { client: a.client, file: a.file, authorizedKeysFiles: a.authorizedKeysFiles, flag: a.mode === 'ro' ? '-ro' : '-wo' });
  }
  if (done) {
    for (const b of m.follow.backups) {
      if (b.repository === null || b.newHasJob) continue;
      block(m.to.name, 'backup-follow', { job: b.name, repository: b.repository, paths: b.paths, passwordFile: b.passwordFile });
    }
  }
  if (done) block(m.from.name, 'retired', { unitService, container: m.container, nixosService: m.nixosService, statePaths: m.state.map((s) => s.old).join(', '), graceDays: m.graceDays });

  if (m.database && !done) {
    const d = m.database;
    const pgPath = (inContainer: boolean): string => (inContainer ? `containers.${m.container}.config.services.postgresql` : 'services.postgresql');
    block(m.from.name, 'pg-publisher', {
      container: d.inContainer.old ? m.container : null,
      pgPath: pgPath(d.inContainer.old),
      toAddress: m.to.address, role: d.role, databases: d.databases,
      slots: d.sizes.publisher.maxReplicationSlots, senders: d.sizes.publisher.maxWalSenders, walKeep: d.sizes.publisher.maxSlotWalKeepSize, port: d.ports.old, meshInterface: MESH_INTERFACE,
      passwordSecret: d.passwordSecret,
      passwordFile: d.secretFiles.old,
    });
    const sub = d.sizes.subscriber;
    block(m.to.name, 'pg-subscriber', {
      container: d.inContainer.new ? m.container : null, passwordFile: d.secretFiles.new, pgPath: pgPath(d.inContainer.new),
      slots: sub.maxReplicationSlots, workers: sub.maxLogicalReplicationWorkers, processes: sub.maxWorkerProcesses, syncWorkers: sub.maxSyncWorkersPerSubscription,
    });
  }
  // Every touched host records the migration's facts (informational, and a Nix string for every free-text value).
  const roles = new Map<string, string[]>();
  const addRole = (h: string, r: string): void => { roles.set(h, [...(roles.get(h) ?? []), r]); };
  addRole(m.from.name, 'old'); addRole(m.to.name, 'new');
  if (m.proxy && m.routes.moved.length > 0) addRole(m.proxy.name, 'proxy');
  const verify = m.verify.map((v) => (v.http ? `${v.http} -> ${v.status ?? 200}` : `${v.on ?? 'operator'}: ${v.command ?? ''}`));
  for (const [h, r] of [...roles].sort(([a], [b]) => (a < b ? -1 : 1))) {
    out.unshift({ host: h, migration: m.name, comment: oneLine(head), partial: 'meta', name: m.name, from: m.from.name, to: m.to.name, description: m.description ?? '', roles: [...new Set(r)].sort(), status: m.status, verify });
  }
  return out;
}

/** NixOS modules per affected host, merging every migration's contribution, plus default.nix. */
export function renderHostModules(plans: readonly Plan[], header: Header): OutFile[] {
  registerPartials();
  const blocks = plans.flatMap((p) => p.migrations.flatMap((m) => blocksOf(m)));
  const hosts = [...new Set(blocks.map((b) => b.host))].sort();
  const files: OutFile[] = hosts.map((host) => {
    const mine = blocks.filter((b) => b.host === host);
    // One attribute set per migration, its parts in a fixed order, under one comment.
    const groups = [...new Set(mine.map((b) => b.migration))].map((migration) => {
      const parts = mine.filter((b) => b.migration === migration);
      return { comment: parts[0]!.comment, parts };
    });
    const manifests = [...new Set(mine.map((b) => plans.find((p) => p.migrations.some((m) => m.name === b.migration))!.manifest))].sort();
    return { path: `hosts/${host}.nix`, content: renderTemplate('nix/host.nix.hbs', { header: headerText({ manifests, digest: header.digest }), host, groups }) };
  });
  if (hosts.length > 0) files.push({ path: 'default.nix', content: renderTemplate('nix/default.nix.hbs', { header: headerText(header), hosts }) });
  return files;
}
