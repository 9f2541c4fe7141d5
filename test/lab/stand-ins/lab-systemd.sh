# migen lab: STAND-IN for systemd's service manager (no systemd can run in the lab: it must be
# PID 1 with cgroups). Sourced by the lab's systemctl, systemd-run and switch-to-configuration
# stand-ins (installed as /usr/local/sbin/.lab/lab-systemd.sh on every lab host).
#
# Where a unit comes from (as on NixOS):
# - its unit file: the active configuration's, /etc/systemd/system/NAME.service (in the lab a
#   symlink to /run/current-system/etc/systemd/system, written by lab.system's profiles), with
#   its drop-ins NAME.service.d/*.conf there and in /run/systemd/system (runtime drop-ins: gone
#   at reboot); transient units (systemd-run) in /run/systemd/transient;
# - what to run (exec, env, readiness, KillSignal=...): the lab's definition, written by
#   lab.defineUnit to /nix/var/nix/profiles/.lab-units/NAME (the "installed system": survives a
#   reboot); a container's units are copied by its init into its own /run/lab-units/NAME;
# - runtime state: /run/lab-units/NAME (main pid, supervisor pid, result, restarts);
#   output: /var/log/lab-units/NAME.log (journalctl -u).
#
# Reproduced (systemd.unit(5), systemd.service(5), src/core/unit.c, job.c, service.c):
# - Condition*= ([Unit], fragment and drop-ins; repeatable, ANDed; `!` negates; `|` triggering:
#   at least one of those must hold; an empty assignment resets the list) are checked when a
#   start runs, whoever starts (systemctl, switch-to-configuration, a target at boot): a failed
#   condition skips the start silently (exit 0, inactive, not failed, ConditionResult=no), as
#   unit_start() returns -ECOMM and job.c finishes the job as done. Supported: ConditionPathExists,
#   ConditionPathIsDirectory, ConditionPathIsSymbolicLink, ConditionFileNotEmpty,
#   ConditionDirectoryNotEmpty, ConditionPathExistsGlob; any other Condition* fails the start.
# - every started service has a supervisor (the stand-in for PID 1's bookkeeping) in the unit's
#   process group that waits for the main process and records ExecMainStatus and Result=
#   (success: exit 0 or SIGHUP/SIGINT/SIGTERM/SIGPIPE, the clean exits of service.c; exit-code;
#   signal), so a unit that exits on its own is inactive (clean) or failed; Restart=
#   (no|always|on-success|on-failure|on-abnormal|on-abort, the table of systemd.service(5)) with
#   RestartSec= (default 100 ms) and StartLimitBurst=/StartLimitIntervalSec= (default 5 in 10 s,
#   for units with a Restart= policy or an explicit StartLimitBurst=); RuntimeMaxSec=.
# - targets (multi-user.target, machines.target): starting one starts the units of its .wants
#   directory in the active configuration (Wants= is all the lab models; no ordering: in name order).
set -u
LAB_DEFS=/nix/var/nix/profiles/.lab-units
LAB_STATE=/run/lab-units
LAB_LOGS=/var/log/lab-units
UNIT_DIR=/etc/systemd/system
CUR_UNITS=/run/current-system/etc/systemd/system
RUN_UNITS=/run/systemd/system
TRANSIENT=/run/systemd/transient
LAB_LIB=${BASH_SOURCE[0]}
SERVICE_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

# unit names: "foo" and "foo.service" are the service foo; targets and timers keep their suffix
norm() { case $1 in *.service) echo "${1%.service}" ;; *) echo "$1" ;; esac; }
fname() { case $1 in *.target | *.timer) echo "$1" ;; *) echo "$1.service" ;; esac; }

# /proc/PID/stat of a process that exits while it is read can come back empty (or cut short):
# that process is gone, not an error of the caller (set -u would make it one)
starttime() { local s; { s=$(<"/proc/$1/stat"); } 2>/dev/null || return 1; s=${s##*) }; local -a f; read -ra f <<<"$s"; ((${#f[@]} > 19)) || return 1; echo "${f[19]}"; }

# pid recorded in file $1 ("pid starttime") if that process still lives (not a zombie)
live_pid() {
  local pid start s
  [[ -s $1 ]] || return 1
  read -r pid start <"$1" 2>/dev/null || return 1
  { s=$(<"/proc/$pid/stat"); } 2>/dev/null || return 1
  s=${s##*) }
  local -a f; read -ra f <<<"$s"
  ((${#f[@]} > 19)) || return 1
  [[ ${f[0]} != Z && ${f[0]} != X ]] || return 1
  [[ -z ${start:-} || ${f[19]} == "$start" ]] || return 1
  echo "$pid"
}
main_pid() { live_pid "$LAB_STATE/$1/pid"; }
super_pid() { live_pid "$LAB_STATE/$1/supervisor"; }

# the lab's definition of service $1 (what to run)
def_dir() {
  if [[ -f $LAB_DEFS/$1/run ]]; then echo "$LAB_DEFS/$1"
  elif [[ -f $LAB_STATE/$1/run ]]; then echo "$LAB_STATE/$1"
  else return 1; fi
}
is_transient() { [[ -e $LAB_STATE/$1/transient ]]; }

# the unit file as it is read, and as systemctl shows it (FragmentPath)
unit_file() {
  local f; f=$(fname "$1")
  if [[ -f $TRANSIENT/$f ]]; then echo "$TRANSIENT/$f"
  elif [[ -f $CUR_UNITS/$f ]]; then echo "$CUR_UNITS/$f"
  else return 1; fi
}
fragment_path() {
  local f; f=$(unit_file "$1") || { echo ""; return 0; }
  if [[ $f == "$CUR_UNITS/"* && $UNIT_DIR -ef $CUR_UNITS ]]; then echo "$UNIT_DIR/${f#"$CUR_UNITS/"}"; else echo "$f"; fi
}
# drop-ins in systemd's order: by file name; /etc's wins over /run's of the same name
dropins() {
  local f; f=$(fname "$1")
  declare -A by=()
  local d p
  for d in "$RUN_UNITS/$f.d" "$CUR_UNITS/$f.d"; do
    for p in "$d"/*.conf; do [[ -f $p ]] && by[${p##*/}]=$p; done
  done
  for p in $(printf '%s\n' "${!by[@]}" | sort); do echo "${by[$p]}"; done
}
shown_path() { if [[ $1 == "$CUR_UNITS/"* && $UNIT_DIR -ef $CUR_UNITS ]]; then echo "$UNIT_DIR/${1#"$CUR_UNITS/"}"; else echo "$1"; fi; }

# Key=Value lines of section $2 in the files given after it (fragment first, then drop-ins)
ini_lines() {
  local sec=$1; shift
  (($#)) || return 0
  awk -v want="$sec" '
    /^[ \t]*[#;]/ || /^[ \t]*$/ { next }
    /^[ \t]*\[/ { s = $0; gsub(/^[ \t]*\[|\][ \t]*$/, "", s); next }
    s == want { sub(/^[ \t]+/, ""); print }' "$@"
}
# last value of Key in section (systemd booleans: the last assignment wins)
ini_get() { # section key file...
  local sec=$1 key=$2; shift 2
  ini_lines "$sec" "$@" | awk -v k="$key" 'index($0, k "=") == 1 { v = substr($0, length(k) + 2) } END { print v }'
}
unit_files() { local f; f=$(unit_file "$1") && echo "$f"; dropins "$1"; }

# 0: every condition holds (or none); 1: not met (COND_FAILED names the first); 2: unsupported
COND_FAILED=
check_conditions() {
  local -a files conds=()
  mapfile -t files < <(unit_files "$1")
  ((${#files[@]})) || return 0
  local line k v
  while IFS= read -r line; do
    k=${line%%=*}; v=${line#*=}
    [[ $k == Condition* ]] || continue
    if [[ -z $v ]]; then conds=(); else conds+=("$k=$v"); fi
  done < <(ini_lines Unit "${files[@]}")
  local c trig=0 trig_ok=0 neg ok arg
  COND_FAILED=
  for c in "${conds[@]}"; do
    k=${c%%=*}; arg=${c#*=}; local t=0
    [[ $arg == '|'* ]] && { t=1; arg=${arg#|}; }
    neg=0; [[ $arg == '!'* ]] && { neg=1; arg=${arg#!}; }
    case $k in
      ConditionPathExists) [[ -e $arg ]] && ok=1 || ok=0 ;;
      ConditionPathIsDirectory) [[ -d $arg ]] && ok=1 || ok=0 ;;
      ConditionPathIsSymbolicLink) [[ -L $arg ]] && ok=1 || ok=0 ;;
      ConditionFileNotEmpty) [[ -f $arg && -s $arg ]] && ok=1 || ok=0 ;;
      ConditionDirectoryNotEmpty) [[ -d $arg && -n $(ls -A "$arg" 2>/dev/null) ]] && ok=1 || ok=0 ;;
      ConditionPathExistsGlob) compgen -G "$arg" >/dev/null && ok=1 || ok=0 ;;
      *) COND_FAILED=$c; return 2 ;;
    esac
    ((neg)) && ok=$((1 - ok))
    if ((t)); then trig=1; ((ok)) && trig_ok=1
    elif ((!ok)); then COND_FAILED=$c; return 1; fi
  done
  if ((trig && !trig_ok)); then COND_FAILED="triggering conditions"; return 1; fi
  return 0
}

# a process of the service manager holds no descriptor of whoever started it (locks, pipes)
close_fds() { local fd; for fd in /proc/$BASHPID/fd/*; do fd=${fd##*/}; case $fd in 0 | 1 | 2 | 255) ;; *) eval "exec $fd>&-" 2>/dev/null ;; esac; done; }
ulog() { mkdir -p "$LAB_LOGS"; echo "$2" >>"$LAB_LOGS/$1.log"; }
kill_group() { kill -"$1" -- -"$2" 2>/dev/null || kill -"$1" "$2" 2>/dev/null || true; } # sig pgid
unit_pgid() { local p; p=$(super_pid "$1") || p=$(main_pid "$1") || return 1; echo "$p"; }
defval() { local f=$1/$2; if [[ -s $f ]]; then echo "$(<"$f")"; else echo "$3"; fi; } # dir file default

source "$(dirname "$LAB_LIB")/lab-units.sh"

# run as a process of its own: the supervisor of a unit, or the countdown of a timer
if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
  case ${1:-} in
    __supervise) supervise "$2" ;;
    __timer) timer_fire "$2" ;;
    *) echo "usage: lab-systemd.sh __supervise UNIT | __timer NAME.timer" >&2; exit 2 ;;
  esac
fi
