#!/bin/bash
# migen lab: STAND-IN for systemd-nspawn as the main process of container@NAME (test/lab/container.ts
# defines the unit with KillMode=mixed, KillSignal=TERM, as nixpkgs' nixos-containers.nix does).
# Reproduces, from nixos-containers.nix (startScript, serviceDirectives) and systemd-nspawn:
# - the container root's skeleton under /var/lib/nixos-containers/NAME (startScript's mkdir/chmod,
#   etc/os-release, etc/machine-id);
# - a bind mount whose host path is missing fails the start ("Failed to stat ...", as nspawn does);
# - the container's own mount, PID, UTS and IPC namespaces (unshare), its init as PID 1 (init.sh);
#   the host's network namespace is shared (privateNetwork = false, the example's setting);
# - Type=notify with --notify-ready=yes: init.sh writes READY=1 to fd 3 once its units have
#   started, and the unit's ready.cmd waits for that line in the file named by the main pid;
# - SIGTERM to this process becomes SIGRTMIN+3 to the container's init (nspawn's
#   --kill-signal=SIGRTMIN+3), which stops the container's units in reverse order and exits; this
#   process exits with the init's status once the namespace is gone;
# - if this process is SIGKILLed (stop timeout), the container dies with it (PR_SET_PDEATHSIG on
#   unshare, --kill-child on the init): KillMode=mixed's SIGKILL to the rest of the cgroup.
# Not reproduced: a separate root file system (the container sees the host's /usr, /etc, /nix/store;
# only /var/lib, /run, /var/log, /root, /tmp, /etc/passwd, /etc/group and /nix/var/nix/profiles are
# its own), machined registration, cgroups, user namespaces, private networking.
# usage: nspawn.sh NAME
set -u
name=$1
here=$(dirname "$(readlink -f "$0")")
root=/var/lib/nixos-containers/$name
sys=/nix/var/nix/profiles/per-container/$name/system

mkdir -p "$root/usr/bin" "$root/etc" "$root/var/lib"
chmod 0755 "$root/etc" "$root/var/lib"
mkdir -p "$root/var/lib/private" "$root/root" /run/nixos-containers
chmod 0700 "$root/var/lib/private" "$root/root" /run/nixos-containers
if ! [[ -e $root/etc/os-release ]] && ! [[ -h $root/etc/os-release ]]; then touch "$root/etc/os-release"; fi
[[ -e $root/etc/machine-id ]] || touch "$root/etc/machine-id"

[[ -d $sys/lab-container ]] || { echo "container $name: no system profile at $sys"; exit 1; }
while read -r src _dst _mode; do
  [[ -n ${src:-} ]] || continue
  [[ -e $src ]] || { echo "Failed to stat $src: No such file or directory"; exit 1; }
done <"$sys/lab-container/binds"

# the notify file is this process's own (the unit's main pid): no READY=1 of an earlier boot counts
notify=/run/nixos-containers/$name.notify.$$
leaderFile=/run/nixos-containers/$name.leader
rm -f "/run/nixos-containers/$name.notify."* "$leaderFile"
: >"$notify"
# own session: the unit's process-group signals reach only this process (KillMode=mixed)
setsid setpriv --pdeathsig KILL \
  unshare --mount --propagation private --uts --ipc --pid --fork --kill-child --mount-proc -- \
  /bin/bash "$here/init.sh" "$name" 3>"$notify" &
upid=$!
leader=
for ((i = 0; i < 500; i++)); do
  read -r leader _ <"/proc/$upid/task/$upid/children" 2>/dev/null
  [[ -n ${leader:-} ]] && break
  kill -0 "$upid" 2>/dev/null || break
  sleep 0.01
done
[[ -n ${leader:-} ]] || { echo "container $name: its init did not start"; exit 1; }
s=$(<"/proc/$leader/stat"); s=${s##*) }; read -ra f <<<"$s"
echo "$leader ${f[19]}" >"$leaderFile"

trap 'kill -s RTMIN+3 "$leader" 2>/dev/null' TERM INT
while :; do
  wait "$upid"
  rc=$?
  kill -0 "$upid" 2>/dev/null || break
done
rm -f "$leaderFile" "$notify"
echo "container $name: init exited with status $rc"
exit "$rc"
