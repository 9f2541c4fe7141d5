// What the plan tells the reviewer that no check can decide: the preset's warnings from the seed,
// and the facts of this migration that a rollback or the next deploy cannot keep.
import { GUARD_SECONDS } from '../../runbook/def.js';
import type { InventoryHost, MigrationSpec } from '../types.js';
import type { Preset } from '../model/catalog.js';
import { portCollisions } from '../model/ports.js';
import { sideOf } from '../model/state.js';
import { dumpFile } from './pg/dump.js';
import type { Ctx } from './types.js';
import { outsideWarnings } from './warnings-outside.js';

export function warningsOf(c: Omit<Ctx, 'warnings'>, m: MigrationSpec, p: Preset | null, oldInv: InventoryHost, newInv: InventoryHost, owner: { name: string; uid: number | null } | null, proxyInv: InventoryHost | null): string[] {
  const { from, to, proxy, backup, database: db } = c;
  const w: string[] = [...(p?.warnings ?? [])];
  if (backup.kind === 'none') w.push(m.backup?.none ? 'No backup is taken before the migration (backup.none). The old host\'s state is the only copy until the move is verified.' : `No backup configured: add backup.restic to the manifest, or a services.restic.backups job on ${from.name} covering the state.`);
  if (!proxy && !c.dns && m.strategy !== 'hot' && p?.subdomain && p.service !== 'headscale') w.push('No proxy routes move with this service: clients reach it by DNS or address, which you must update at cutover.');
  if (m.strategy !== 'hot' && proxy && c.routes.moved.length > 0) w.push(`A rollback after ${proxy.name} switched to ${to.name} restores ${from.name}'s state as of the stop: writes ${to.name} acknowledged in between (from the switch, which happens while the service starts, to the failed check) are not copied back.`);
  // nixos-containers.nix: an autoStart container's unit has restartTriggers = [ its config's path, its .conf ]
  // (restartIfChanged follows containers.<n>.restartIfChanged, default true): a changed config restarts it.
  const inside = c.fence.units.old.container;
  if (inside && oldInv.containers[inside]?.autoStart) w.push(`Deploying ${from.name} changes container ${inside}'s configuration (the fence of ${c.fence.units.old.unit} inside it${db ? ', the replication settings of its PostgreSQL' : ''}): an autoStart container restarts when its configuration changes (nixos-containers.nix restartTriggers), so ${c.fence.units.old.unit}${db ? ' and its PostgreSQL' : ''} restart once there in prepare, before the window; another migration's deploy of ${from.name} made before this one's prepare restarts it the same way. Set containers.${inside}.restartIfChanged = false on ${from.name} to avoid that (the container then keeps its old configuration until restarted by hand, and this migration's checks after the deploy refuse to go on).`);
  if (proxy && c.routeFiles.length) {
    w.push(`Deploying ${proxy.name} changes its nginx configuration (the moved locations read their backend from route files under /var/lib/migen/nginx/${c.name}/): nginx restarts once, for every virtual host, before the window (with services.nginx.enableReload it reloads instead).`);
    for (const f of c.routeFiles) {
      if (f.via !== 'upstream' && proxyInv?.nginx.virtualHosts[f.domain]?.locations[f.location.split(' > ')[0]!]?.recommendedProxySettings === false) w.push(`${f.domain} ${f.location} does not set the Host header (recommendedProxySettings is off): while ${c.name} is planned nginx sends Host: ${f.upstream} to the backend, not its address; set recommendedProxySettings or proxy_set_header Host for it.`);
    }
  }
  w.push(`The downtime window runs on ${to.name}, as the transient unit migen-${c.name}-cutover: the operator's machine may disconnect in it (migen run ${c.name} --resume reattaches). If ${to.name} itself goes down there, the guards revert by themselves after ${GUARD_SECONDS} s without its heartbeat: ${from.name} serves again with its state as of the stop${proxy && c.routeFiles.length ? `, ${proxy.name} routes back to it` : ''}; writes ${to.name} acknowledged in between are not copied back, and when ${to.name} boots again its copy starts unrouted (migen status shows it: stop it there).`);
  w.push(...outsideWarnings(c, m, p, newInv));
  if (!m.verify && c.verify.length === 0 && !c.dnsServer) w.push('No verification checks: add verify entries, or the cutover is judged by the unit staying active only.');
  // The stateVersion that decides the service's defaults on each side: its container's when it runs in one.
  const [os, ns] = [sideOf(oldInv, c.container), sideOf(newInv, c.container)];
  if (os.stateVersion !== ns.stateVersion) {
    const mapped = c.state.filter((s) => s.old !== s.new).map((s) => `${s.old} -> ${s.new}`);
    w.push(`system.stateVersion differs (${os.where}: ${os.stateVersion ?? 'unset'}, ${ns.where}: ${ns.stateVersion ?? 'unset'}): defaults follow it.${mapped.length ? ` The state is copied to ${to.name}'s directories (${mapped.join(', ')}).` : ''} migen checks the state's paths and, for a copied data directory, the PostgreSQL major; other defaults of ${m.service} that follow stateVersion are not compared: check them on ${to.name}.`);
  }
  for (const x of portCollisions(newInv, p?.nixosService ?? null, c.container)) if (!x.certain) w.push(`Ports on ${to.name}: ${x.message}.`);
  if (owner && owner.uid === null) {
    w.push(c.sync.mode === 'relay'
      ? `${owner.name} has no fixed uid on ${from.name}, and the relay copy keeps numeric owners (tar --numeric-owner): on ${to.name} the files belong to whoever has that uid there. Pin users.users.${owner.name}.uid (and its group's gid) on both hosts, or copy with sync.mode pull, which maps owners by name.`
      : `${owner.name} has no fixed uid on ${from.name}: rsync maps owners by name, so ${to.name} must be deployed (users created) before the copy; the final dry run compares owners by name.`);
  }
  if (c.container) {
    const map = c.state.some((s) => s.old.startsWith(`/var/lib/nixos-containers/${c.container}/`));
    w.push(`${c.unit} on ${from.name} stays stopped but declared until finalize; of the container's root under /var/lib/nixos-containers/${c.container} ${map ? `only its uid/gid map (var/lib/nixos) is copied, so users without a fixed uid keep their ids in ${to.name}'s container (it must not have made its own users yet: preflight checks)` : 'nothing is copied'}.`);
  }
  if (backup.kind === 'restic' && backup.passwordFile === null) w.push(`The restic backup on ${from.name} takes the repository's password from ${backup.passwordFrom}: set backup.restic.passwordFile when root's environment there has none.`);
  if (backup.kind === 'job') w.push(`The backup runs ${from.name}'s job ${backup.job} as it is: it reads the live files${c.sqlite.length ? ` (${c.sqlite.map((s) => s.old).join(', ')} with its -wal)` : ''}, which may not restore to a consistent state; give backup.restic for a backup from consistent copies.`);
  for (const b of c.follow.backups) {
    if (b.newHasJob) w.push(`${to.name} already has a restic job ${b.name}: after finalize, add ${b.paths.join(', ')} to it yourself (migen does not merge backup jobs).`);
    else if (b.repository === null) w.push(`restic job ${b.name} on ${from.name} has no repository migen can read: after finalize, back up ${b.paths.join(', ')} on ${to.name} yourself.`);
  }
  for (const t of c.follow.scrapeTargets) w.push(`Monitoring: ${t.host}'s Prometheus job ${t.job} scrapes ${t.from}; after the move it should scrape ${t.to} (migen cannot edit one element of services.prometheus.scrapeConfigs: change it in ${t.host}'s configuration).`);
  if (db) {
    const dbs = db.databases.join(', ');
    w.push(`A rollback after ${to.name} took writes (once the application started there${proxy ? ` and ${proxy.name} switched to it` : ''}) keeps them: ${to.name}'s database ${dbs} is renamed NAME_rolled_back_<UTC time> there, never dropped (the rollback prints how to inspect and merge it; migen status lists it), and ${from.name} serves again with its data as of the freeze: migen does not replicate back. A rollback before the application started drops what the migration created on ${to.name}.${proxy ? ' The switch happens while the application starts; the backend check, the verification and the comparison follow, and a failure there rolls back.' : ''}`);
    w.push(`The write freeze does not grow with the data. Inside the window only O(1) and O(tables) checks run: ${to.name} confirmed ${from.name}'s last WAL position, the schema is unchanged since prepare, sequences copied, every table ready in the subscription, exact row counts of the tables up to 8 MiB, no slot left. After the start, the full row count and checksum of every table runs on REPEATABLE READ snapshots of the frozen state taken on both servers before the application starts on ${to.name}; a difference fails the migration (its rollback keeps ${to.name}'s writes). Until that comparison ends ${to.name} holds a long transaction (vacuum waits for it) and its tables are locked against DDL: an application that changes its schema as it starts waits for the comparison.`);
    w.push(`Before the first change ${from.name} keeps a pg_dumpall of its PostgreSQL (roles and every database) at ${dumpFile(c)}, the safety net (the finalize notes give the restore command); it needs up to the databases' size free there.`);
    w.push(`The subscription's connection string holds the replication password (from ${db.passwordSecret}) on ${to.name} until the cutover drops the subscription.`);
  }
  for (const v of c.routes.inner) {
    if (v.mode === 'copy') w.push(`${to.name} gets ${from.name}'s virtual host ${v.domain} in its generated module (nginx enabled there), as the inventory shows it: regenerate after changing it on ${from.name}. After finalize, remove ${v.domain} from ${from.name}'s nginx yourself (it proxies to the stopped ${c.unit}; a rollback needs it until then).`);
  }
  if (c.listen && !c.listen.option) w.push(`${from.name}'s proxy reaches ${m.service} on loopback; on ${to.name} it must listen on ${to.address} (ports ${c.listen.ports.join(', ')}): set its listen address in ${to.name}'s configuration.`);
  return w;
}
