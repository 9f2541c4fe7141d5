# The cutover coordinator's parts (sourced by coordinator.sh, which sets B, J and the config):
# the journal, how a step's scripts run on their hosts (ssh, or this host), each kind of step,
# probes, the guards' heartbeats and the rollback.
# shellcheck shell=bash
# milliseconds since the epoch, without a process (bash 5's EPOCHREALTIME: seconds.microseconds)
now() { local t=${EPOCHREALTIME/[.,]/}; printf '%s\n' "${t:0:${#t}-3}"; }
b64() { printf '%s' "$1" | base64 -w0; }
# A journal line; its message "%" and then percent-encoded (%, tab, newline, CR), without a process:
# the log of a step's end is on the window's path from one step to the next.
log() {
  local t=${EPOCHREALTIME/[.,]/} m=${4:-}
  if [ -n "$m" ]; then m=${m//%/%25}; m=${m//$'\t'/%09}; m=${m//$'\n'/%0A}; m=%${m//$'\r'/%0D}; fi
  printf '%s\t%s\t%s\t%s\t%s\n' "${t:0:${#t}-3}" "$1" "${2:--}" "${3:--}" "$m" >>"$J"
}

SSH=(ssh -o BatchMode=yes -o StrictHostKeyChecking=yes -o ConnectTimeout=10 -o ServerAliveInterval=5 -o ServerAliveCountMax=3
  -o ControlMaster=auto -o "ControlPath=$HOME/.ssh/migen-cutover-%C" -o ControlPersist=120)
FRESH=(ssh -o BatchMode=yes -o StrictHostKeyChecking=yes -o ConnectTimeout=10 -o ControlMaster=no -o ControlPath=none)
mkdir -p -m 0700 "$HOME/.ssh"

# host name -> ssh target (or local), read once: a step's script pays no process to look it up
declare -A TARGETS=()
while read -r h t _; do [ -n "$h" ] && TARGETS[$h]=$t; done <"$B/hosts"
# a file's content into the variable named $1, without a process
slurp() { IFS= read -r -d '' "$1" <"$2" || true; }

# One host's part of a script. $3: it reads a pipe (its bash travels on ssh's command line, not
# on stdin); $4: over a new connection.
part() {
  local t=${TARGETS[$1]:-} body text ssh=("${SSH[@]}")
  [ "${4:-0}" = 1 ] && ssh=("${FRESH[@]}")
  if [ "$3" = 1 ]; then
    slurp text "$2"; body=$'set -euo pipefail\ncd /\n'"$text"
    if [ "$t" = local ]; then bash -c "$body"; else "${ssh[@]}" "$t" "bash -c \"\$(echo $(b64 "$body") | base64 -d)\""; fi
  else
    slurp text "$2"; body=$'set -euo pipefail\ncd /\n{\n'"$text"$'\n} </dev/null\n'
    if [ "$t" = local ]; then bash -s <<<"$body"; else "${ssh[@]}" "$t" bash -s <<<"$body"; fi
  fi
}

# A script of step $1 ($2: run, left, right, undo); $3: fresh connection.
script() {
  local on
  read -ra on <"$B/$1.$2.on"
  if [ "${#on[@]}" = 1 ]; then part "${on[0]}" "$B/$1.$2.1" 0 "${3:-0}"
  else part "${on[0]}" "$B/$1.$2.1" 0 "${3:-0}" | part "${on[1]}" "$B/$1.$2.2" 1 "${3:-0}"; fi
}

hosts_of() { sed 's/ / | /g' "$B/$1.$2.on"; }
in_list() { [ "$2" != - ] && [[ ",$2," == *",$1,"* ]]; }
tail8() { tail -n 8 "$1" 2>/dev/null; }

# Runs step line "$@" (the fields of steps); writes IDX.status (done|failed) and IDX.msg.
step() {
  local idx=$1 kind=$2 interval=$8 interval_ms=$9 deadline_ms=${10} fatal=${11} accept=${12} mode=${13} fresh=${14} rc end
  : >"$B/$idx.msg"
  case $kind in
    command)
      script "$idx" run "$fresh" >"$B/$idx.out" 2>"$B/$idx.err"; rc=$?
      if [ "$rc" = 0 ] || in_list "$rc" "$accept"; then echo done >"$B/$idx.status"; return; fi
      { echo "exit $rc on $(hosts_of "$idx" run):"; tail8 "$B/$idx.err"; } >"$B/$idx.msg" ;;
    check)
      script "$idx" run "$fresh" >"$B/$idx.out" 2>"$B/$idx.err"; rc=$?
      if [ "$rc" = 0 ]; then echo done >"$B/$idx.status"; return; fi
      { cat "$B/$idx.failure"; tail8 "$B/$idx.err"; } >"$B/$idx.msg" ;;
    compare)
      script "$idx" left "$fresh" >"$B/$idx.l" 2>"$B/$idx.err" & local lp=$!
      script "$idx" right "$fresh" >"$B/$idx.r" 2>>"$B/$idx.err"; rc=$?
      wait "$lp"; local lrc=$?
      local a b; a=$(tr -d '[:space:]' <"$B/$idx.l"); b=$(tr -d '[:space:]' <"$B/$idx.r")
      if [ "$lrc" = 0 ] && [ "$rc" = 0 ] && { { [ "$mode" = equal ] && [ "$a" = "$b" ]; } || { [ "$mode" = fits ] && [ -n "$a" ] && [ -n "$b" ] && [ $((a * 11 / 10)) -le "$b" ]; }; }; then
        echo done >"$B/$idx.status"; return
      fi
      { printf '%s' "$(cat "$B/$idx.failure")"; echo " (left: ${a:0:80}; right: ${b:0:80})"; tail8 "$B/$idx.err"; } >"$B/$idx.msg" ;;
    probe) poll "$idx" run "$fresh" "$interval" "$interval_ms" "$deadline_ms" "$fatal" && return ;;
    handoff)
      # another system's command, when the manifest gives one; else a person acts on the instruction
      if [ -e "$B/$idx.run.on" ]; then
        script "$idx" run "$fresh" >"$B/$idx.out" 2>"$B/$idx.err"; rc=$?
        if [ "$rc" != 0 ]; then { echo "exit $rc on $(hosts_of "$idx" run):"; tail8 "$B/$idx.err"; } >"$B/$idx.msg"; echo failed >"$B/$idx.status"; return; fi
      else
        log instruct "$idx" "$3" "$(cat "$B/$idx.instruction")"
      fi
      poll "$idx" check "$fresh" "$interval" "$interval_ms" "$deadline_ms" - && return ;;
    *) echo "coordinator: unknown step kind $kind" >"$B/$idx.msg" ;;
  esac
  echo failed >"$B/$idx.status"
}

# Does the coordinator still run? Asked by its own children (a step, a heartbeat loop, the abort
# watcher): their parent is still the coordinator ($$ in a subshell too). Not `kill -0 $$`: pids are
# reused (pid_max wraps, at 32768 on the test machine), and a heartbeat loop that outlived its
# coordinator, its pid now another process's, would keep a guard from ever reverting. Whether or
# not a service manager kills the rest of the unit with it.
alive() { local s; read -r s <"/proc/$BASHPID/stat" 2>/dev/null || return 1; s=${s##*) }; local -a f; read -ra f <<<"$s"; [ "${f[1]:-}" = "$$" ]; }

# Retries script $2 of step $1 until it succeeds (writes IDX.status done, returns 0) or the deadline
# passes or it exits with a fatal code (writes IDX.msg, returns 1). $3 fresh, $4 interval (s),
# $5 interval (ms), $6 deadline (ms), $7 fatal codes.
poll() {
  local idx=$1 name=$2 fresh=$3 interval=$4 interval_ms=$5 deadline_ms=$6 fatal=$7 rc end
  end=$(( $(now) + deadline_ms ))
  while alive; do
    script "$idx" "$name" "$fresh" >"$B/$idx.out" 2>"$B/$idx.err"; rc=$?
    if [ "$rc" = 0 ]; then echo done >"$B/$idx.status"; return 0; fi
    if in_list "$rc" "$fatal"; then { echo "failed (exit $rc on $(hosts_of "$idx" "$name"), not retried)"; tail8 "$B/$idx.err"; } >"$B/$idx.msg"; return 1; fi
    if [ $(( $(now) + interval_ms )) -gt "$end" ]; then { echo "still failing after $((deadline_ms / 1000)) s:"; tail8 "$B/$idx.err"; tail8 "$B/$idx.out"; } >"$B/$idx.msg"; return 1; fi
    sleep "$interval"
  done
  return 1
}

status_of() { local st=none; [ -e "$B/$1.status" ] && read -r st <"$B/$1.status"; printf '%s\n' "${st:-none}"; }
field() { awk -F'\t' -v i="$1" -v f="$2" '$1 == i { print $f; exit }' "$B/steps"; }

# Heartbeats: one loop per host and file, touching it every 5 s (its guard reverts after 20 s
# without), from the step that armed the guard until the coordinator exits.
HB=()
HB_SEEN=" "
HB_SECONDS=${MIGEN_HEARTBEAT_SECONDS:-5} # the unit's environment never sets it; a test does
heartbeat_start() { # host file [later: the step that armed the guard just touched it]
  case $HB_SEEN in *" $1:$2 "*) return ;; esac
  HB_SEEN="$HB_SEEN$1:$2 "
  # it ends with the coordinator (alive); after a fresh arming the first touch waits one interval,
  # so that it does not compete with the window's first steps
  (if [ "${3:-}" = later ]; then sleep "$HB_SECONDS"; fi
   while alive; do part "$1" <(printf 'touch %q\n' "$2") 0 0 >/dev/null 2>&1; sleep "$HB_SECONDS"; done) &
  HB+=($!)
}
heartbeat_stop() { local p; for p in "${HB[@]}"; do kill -- -"$p" 2>/dev/null; kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done; HB=(); }
trap heartbeat_stop EXIT
# --no-rollback: the guards beside the heartbeat files exit without reverting.
hold_guards() {
  local h f
  for hf in $HB_SEEN; do h=${hf%%:*}; f=${hf#*:}; part "$h" <(printf 'touch %q\n' "${f%/*}/hold") 0 0 >/dev/null 2>&1; done
}

# The undos of the window's steps that ran (and of a failed one that may have half-happened),
# newest first, then those of the steps before the window.
rollback() {
  local ok=1 idx
  for idx in $(awk -F'\t' '{ print $1 }' "$B/steps" | sort -rn); do
    [ "$(field "$idx" 17)" = 1 ] || continue
    local st; st=$(status_of "$idx")
    if [ "$st" = done ] || { [ "$(field "$idx" 7)" = 1 ] && { [ "$st" = failed ] || [ "$st" = running ]; }; }; then
      undo_one "$idx" "$(field "$idx" 3)" || { ok=0; break; }
    fi
  done
  if [ "$ok" = 1 ] && [ -s "$B/pre" ]; then
    while read -r p id; do undo_one "$p" "$id" || { ok=0; break; }; done <"$B/pre"
  fi
  [ "$ok" = 1 ]
}
undo_one() {
  [ -e "$B/$1.undone" ] && return 0
  log undo "$1" "$2"
  [ -e "$B/$1.undo-instruction" ] && log instruct "$1" "$2" "$(cat "$B/$1.undo-instruction")"
  if script "$1" undo 0 >"$B/$1.undo.out" 2>"$B/$1.undo.err"; then : >"$B/$1.undone"; log undone "$1" "$2" "$(tail8 "$B/$1.undo.out")"; return 0; fi
  log undo-failed "$1" "$2" "$(tail8 "$B/$1.undo.err")"
  return 1
}
