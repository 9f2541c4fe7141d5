#!/bin/bash
# migen lab: STAND-IN for a nixos-container's systemd, PID 1 of the container's PID namespace
# (started by nspawn.sh). Boot: the container's file system view (below), the NixOS activation's
# users (update-users-groups.pl writes /etc/passwd, /etc/group and /var/lib/nixos/{uid,gid}-map in
# the container root) and tmpfiles lines, then `systemctl start` of each unit of the system profile
# in its order (the lab's systemctl stand-in, on the container's own /run/lab-units), then READY=1
# on fd 3. A unit that fails to start is logged and boot goes on, as systemd reaches multi-user.target
# with failed units. SIGRTMIN+3 (what nspawn sends for a stop): the units are stopped in reverse
# order, each waited for (PostgreSQL: KillSignal=SIGINT, a fast shutdown), then PID 1 exits, which
# ends every process left in the namespace.
# usage: init.sh NAME   (the system profile is /nix/var/nix/profiles/per-container/NAME/system)
set -u
name=$1
root=/var/lib/nixos-containers/$name
sys=/nix/var/nix/profiles/per-container/$name/system
log() { echo "container $name: $*"; }
stop=0
sleeper=
trap 'stop=1; [[ -n $sleeper ]] && kill "$sleeper" 2>/dev/null' RTMIN+3
trap '' TERM HUP

hostname "$name"
# users of the container's configuration
install -m 0644 "$sys/lab-container/passwd" "$root/etc/passwd"
install -m 0644 "$sys/lab-container/group" "$root/etc/group"
mkdir -p "$root/var/lib/nixos" "$root/var/log" "$root/tmp" "$root/run"
chmod 1777 "$root/tmp"
awk -F: 'BEGIN { printf "{" } { printf "%s\"%s\":%s", (NR > 1 ? "," : ""), $1, $3 } END { print "}" }' "$root/etc/passwd" >"$root/var/lib/nixos/uid-map"
awk -F: 'BEGIN { printf "{" } { printf "%s\"%s\":%s", (NR > 1 ? "," : ""), $1, $3 } END { print "}" }' "$root/etc/group" >"$root/var/lib/nixos/gid-map"

# the container's view: its own /run (a tmpfs, as nspawn mounts), /var/lib, /var/log, /root, /tmp
# from its root, with the bindMounts (nspawn --bind=SRC:DST) mounted in place first
mount -t tmpfs -o mode=0755,nosuid,nodev "lab-$name-run" "$root/run"
while read -r src dst mode; do
  [[ -n ${src:-} ]] || continue
  if [[ -d $src ]]; then mkdir -p "$root$dst"; else mkdir -p "$(dirname "$root$dst")"; touch "$root$dst"; fi
  mount --bind "$src" "$root$dst"
  [[ $mode == ro ]] && mount -o remount,bind,ro "$root$dst"
done <"$sys/lab-container/binds"
mount --bind "$root/etc/passwd" /etc/passwd
mount --bind "$root/etc/group" /etc/group
for d in /run /var/log /root /tmp; do mount --rbind "$root$d" "$d"; done
# nspawn binds the per-container profile as the container's /nix/var/nix/profiles
mount --bind "/nix/var/nix/profiles/per-container/$name" /nix/var/nix/profiles
mount --rbind "$root/var/lib" /var/lib # last: $root itself lies under /var/lib
sys=/nix/var/nix/profiles/system

# activation: the units of the system profile, tmpfiles
mkdir -p /run/lab-units /var/log/lab-units
cp -a "$sys/lab-units/." /run/lab-units/
while read -r type path mode user group; do
  case ${type:-} in
    d) mkdir -p "$path"; chown "$user:$group" "$path"; chmod "$mode" "$path" ;;
    '' | '#'*) ;;
    *) log "tmpfiles: unsupported line type $type" ;;
  esac
done <"$sys/lab-container/tmpfiles"

units=()
while read -r u; do [[ -n $u ]] && units+=("$u"); done <"$sys/lab-container/units"
for u in "${units[@]}"; do
  systemctl start "$u" 3>&- || log "unit $u failed to start"
done
log "started: ${units[*]}"
echo READY=1 >&3
exec 3>&-

while ((!stop)); do
  sleep infinity &
  sleeper=$!
  ((stop)) && kill "$sleeper" 2>/dev/null
  wait "$sleeper"
done
log "shutting down"
for ((i = ${#units[@]} - 1; i >= 0; i--)); do systemctl stop "${units[i]}"; done
log "all units stopped, powering off"
exit 0
