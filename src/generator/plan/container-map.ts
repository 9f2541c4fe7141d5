// A nixos-container's users: NixOS gives a user without a fixed uid the uid recorded for its name
// in /var/lib/nixos/uid-map (gid-map for groups) of the container's root, else a free one
// (update-users-groups.pl). The copy keeps numeric owners (--numeric-ids), so on the new host the
// container must give its users the old uids. migen copies the map with the state instead of
// pinning uids in the generated module: an unpinned user's uid exists only in that map on the old
// host, never in the configuration migen reads, so there is nothing to pin at generate time. The
// map works only for a container that has not created its users yet (/etc/passwd of its root
// wins over the map): preflight checks that the new host's container has none, or the same uids.
import { cmd } from './shell.js';
import { on, pipe, stepsOf } from './step.js';
import type { Ctx, Step } from './types.js';

export const containerRoot = (container: string): string => `/var/lib/nixos-containers/${container}`;
export const containerMap = (container: string): string => `${containerRoot(container)}/var/lib/nixos`;
export const isContainerMap = (c: Ctx, p: string): boolean => c.container !== null && p === containerMap(c.container);

/** Every user and group of the old host's container as name:id, then the new host compares the ones its container already has. */
export function containerUsersCheck(c: Ctx): Step[] {
  if (!c.container || !c.state.some((s) => isContainerMap(c, s.old))) return [];
  const root = containerRoot(c.container);
  const ids = (f: string): string => cmd`{ test ! -e ${`${root}/etc/${f}`} || awk -F: ${`{ print "${f}:" $1 ":" $3 }`} ${`${root}/etc/${f}`}; }`;
  const { check } = stepsOf('preflight');
  return [check('container-users', `${c.to.name}'s container ${c.container} has no users of its own yet, or those of ${c.from.name} with the same ids (the copied uid/gid map then gives them the old ids)`,
    pipe(on(c.from.name, `${ids('passwd')}\n${ids('group')}`), on(c.to.name, [
      'old=$(cat)',
      `new=$(${ids('passwd')}; ${ids('group')})`,
      `d=$(LC_ALL=C join -t: -j1 <(printf '%s\\n' "$old" | awk -F: 'NF { print $1 "/" $2 ":" $3 }' | LC_ALL=C sort) <(printf '%s\\n' "$new" | awk -F: 'NF { print $1 "/" $2 ":" $3 }' | LC_ALL=C sort) | awk -F: '$2 != $3')`,
      'if [ -n "$d" ]; then printf \'%s\\n\' "$d" >&2; exit 1; fi',
    ].join('\n'))),
    `${c.to.name}'s container ${c.container} already gave its users other ids than on ${c.from.name}: remove ${root} on ${c.to.name} (it has never served this state) so it starts with the copied map, or pin those uids and gids`)];
}
