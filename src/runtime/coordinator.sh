#!/usr/bin/env bash
# migen's cutover coordinator: runs the critical section of a migration (from the stop on the old
# host to the confirmed, verified start on the new one, and its automatic rollback) on the new
# host, as a transient systemd unit, so that it finishes or rolls back when the operator's machine
# disappears. The operator's `migen run` writes this bundle, starts it with systemd-run, streams
# its journal and may go away at any moment; `migen run NAME --resume` reattaches.
#
#   coordinator.sh BUNDLE_DIR
#
# BUNDLE_DIR holds (written by the runtime, src/runtime/fleet.ts):
#   config        NAME, RUN, SELF, NO_ROLLBACK (shell assignments, values quoted)
#   hosts         "NAME TARGET" per line; TARGET "local" for this host, else an ssh destination
#   steps         one line per step, tab-separated: IDX KIND ID GROUP WINDOW ENDS_WINDOW
#                 UNDO_ON_FAILURE INTERVAL(s) INTERVAL_MS DEADLINE_MS FATAL ACCEPT MODE FRESH
#                 HEARTBEAT_ON HEARTBEAT_FILE HAS_UNDO (lists comma-separated, "-" for none)
#   IDX.SCRIPT.on the host of a script, or two hosts for a pipe; IDX.SCRIPT.1 (and .2) its bash
#                 (SCRIPT: run, left, right, check, undo)
#   IDX.instruction, IDX.undo-instruction   a handoff's text for a person (logged as `instruct`)
#   pre           the undos of steps the operator ran before the window, newest first: "P.undo" names
#   abort         (created by the operator on Ctrl-C) roll back now
# It appends to BUNDLE_DIR/journal one line per event, tab-separated:
#   MS EVENT IDX ID MESSAGE(base64)
# events: start, restart, window-start, run, instruct, done, failed, undo, undone (MESSAGE: the undo's output), undo-failed,
# window-end, heartbeat-lost, result (ID = done | rolled-back | rollback-failed | failed).
# Restart=on-failure restarts it after a crash: it then rolls back what an unfinished window did
# (or records done when every step had finished), never runs a step twice.
set -uo pipefail
set -m # every step in its own process group, so an abort can stop all of it

B=${1:?usage: coordinator.sh BUNDLE_DIR}
J=$B/journal
# shellcheck source=/dev/null
. "$B/config"

# milliseconds since the epoch, without a process (bash 5's EPOCHREALTIME: seconds.microseconds)
now() { local t=${EPOCHREALTIME/[.,]/}; printf '%s\n' "${t:0:${#t}-3}"; }
b64() { printf '%s' "$1" | base64 -w0; }
log() {
  local t=${EPOCHREALTIME/[.,]/} m=''
  [ -n "${4:-}" ] && m=$(b64 "$4")
  printf '%s\t%s\t%s\t%s\t%s\n' "${t:0:${#t}-3}" "$1" "${2:--}" "${3:--}" "$m" >>"$J"
}

SSH=(ssh -o BatchMode=yes -o StrictHostKeyChecking=yes -o ConnectTimeout=10 -o ServerAliveInterval=5 -o ServerAliveCountMax=3
  -o ControlMaster=auto -o "ControlPath=$HOME/.ssh/migen-cutover-%C" -o ControlPersist=120)
FRESH=(ssh -o BatchMode=yes -o StrictHostKeyChecking=yes -o ConnectTimeout=10 -o ControlMaster=no -o ControlPath=none)
mkdir -p -m 0700 "$HOME/.ssh"

# host name -> ssh target (or local), read once: a step's script pays no process to look it up
declare -A TARGETS=()
while read -r h t _; do [ -n "$h" ] && TARGETS[$h]=$t; done <"$B/hosts"
target() { printf '%s\n' "${TARGETS[$1]:-}"; }
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

# Retries script $2 of step $1 until it succeeds (writes IDX.status done, returns 0) or the deadline
# passes or it exits with a fatal code (writes IDX.msg, returns 1). $3 fresh, $4 interval (s),
# $5 interval (ms), $6 deadline (ms), $7 fatal codes.
poll() {
  local idx=$1 name=$2 fresh=$3 interval=$4 interval_ms=$5 deadline_ms=$6 fatal=$7 rc end
  end=$(( $(now) + deadline_ms ))
  # ends with the coordinator ($$ in a subshell too), whether or not a service manager kills the rest
  while kill -0 "$$" 2>/dev/null; do
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
  # it ends with the coordinator ($$ is the coordinator's pid in a subshell too), whether or not a
  # service manager kills the rest of the unit with it; after a fresh arming the first touch waits
  # one interval, so that it does not compete with the window's first steps
  (if [ "${3:-}" = later ]; then sleep "$HB_SECONDS"; fi
   while kill -0 "$$" 2>/dev/null; do part "$1" <(printf 'touch %q\n' "$2") 0 0 >/dev/null 2>&1; sleep "$HB_SECONDS"; done) &
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

finish_failed() { # idx id message
  if [ "$NO_ROLLBACK" = 1 ]; then hold_guards; log result - failed "$3"; exit 0; fi
  if rollback; then log result - rolled-back "$3"; else log result - rollback-failed "$3"; fi
  exit 0
}

# Restarted after a crash (or started twice): never run a step twice.
if grep -q "	result	" "$J" 2>/dev/null; then exit 0; fi
if [ -s "$J" ]; then
  log restart
  while IFS=$'\t' read -r _ ev idx _ _; do
    case $ev in run) echo running >"$B/$idx.status" ;; done) echo done >"$B/$idx.status" ;; failed) echo failed >"$B/$idx.status" ;; undone) : >"$B/$idx.undone" ;; esac
  done <"$J"
  # the guards of what the window did stay quiet while this decides
  while IFS=$'\t' read -ra s; do [ "${s[14]}" != - ] && [ "$(status_of "${s[0]}")" != none ] && heartbeat_start "${s[14]}" "${s[15]}"; done <"$B/steps"
  if awk -F'\t' '{ print $1 }' "$B/steps" | while read -r i; do [ "$(status_of "$i")" = done ] || exit 1; done; then log result - done 'every step had finished before the restart'; exit 0; fi
  finish_failed - - 'the coordinator was restarted in the middle of the cutover: rolled back what it had done'
fi

log start - "$RUN"
mapfile -t LINES <"$B/steps"
WINDOW_STARTED=0
# One watcher for the whole run: when the operator aborts, it stops the process groups of the
# steps running then (the batch's pids, in $B/running), and the loop below rolls back.
(while [ ! -e "$B/abort" ]; do kill -0 "$$" 2>/dev/null || exit 0; sleep 0.05; done
 read -ra rp <"$B/running" 2>/dev/null; for p in "${rp[@]}"; do kill -- -"$p" 2>/dev/null; done) &
WATCHER=$!
trap 'heartbeat_stop; kill -- -"$WATCHER" 2>/dev/null' EXIT
n=${#LINES[@]}
i=0
while [ "$i" -lt "$n" ]; do
  IFS=$'\t' read -ra f <<<"${LINES[$i]}"
  # an abort seen between two steps: the next one is recorded as failed before it started, so the
  # journal (and the operator) name where the rollback began
  if [ -e "$B/abort" ]; then
    echo failed >"$B/${f[0]}.status"; log failed "${f[0]}" "${f[2]}" 'interrupted by the operator before it started'
    finish_failed "${f[0]}" "${f[2]}" 'interrupted by the operator'
  fi
  # a concurrent group: consecutive steps with the same group name run at once
  batch=("$i"); group=${f[3]}
  while [ "$group" != - ] && [ $((i + ${#batch[@]})) -lt "$n" ]; do
    IFS=$'\t' read -ra g <<<"${LINES[$((i + ${#batch[@]}))]}"
    [ "${g[3]}" = "$group" ] || break
    batch+=($((i + ${#batch[@]})))
  done
  pids=()
  for k in "${batch[@]}"; do
    IFS=$'\t' read -ra s <<<"${LINES[$k]}"
    if [ "${s[4]}" = 1 ] && [ "$WINDOW_STARTED" = 0 ]; then log window-start "${s[0]}" "${s[2]}"; WINDOW_STARTED=1; fi
    echo running >"$B/${s[0]}.status"
    log run "${s[0]}" "${s[2]}"
    step "${s[@]}" &
    pids+=($!)
  done
  # wait for the batch (the next step starts the moment the last of it ends); the watcher stops
  # it when the operator aborts (an abort that came before it read the pids: the check below)
  printf '%s\n' "${pids[*]}" >"$B/running"
  [ -e "$B/abort" ] && for p in "${pids[@]}"; do kill -- -"$p" 2>/dev/null; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
  : >"$B/running" # ended: nothing of this batch for the watcher to stop (its pids may be reused)
  failed=""
  for k in "${batch[@]}"; do
    IFS=$'\t' read -ra s <<<"${LINES[$k]}"
    if [ "$(status_of "${s[0]}")" = done ]; then
      said=''; [ -s "$B/${s[0]}.out" ] && said=$(tail8 "$B/${s[0]}.out") # no process for a step that printed nothing
      log done "${s[0]}" "${s[2]}" "$said"
      [ "${s[5]}" = 1 ] && log window-end "${s[0]}" "${s[2]}"
      [ "${s[14]}" != - ] && heartbeat_start "${s[14]}" "${s[15]}" later
    else
      [ -e "$B/abort" ] && echo 'interrupted by the operator' >>"$B/${s[0]}.msg"
      echo failed >"$B/${s[0]}.status"
      log failed "${s[0]}" "${s[2]}" "$(cat "$B/${s[0]}.msg")"
      failed=${failed:-${s[0]}}
    fi
  done
  if [ -n "$failed" ]; then finish_failed "$failed" "$(field "$failed" 3)" "$(cat "$B/$failed.msg")"; fi
  i=$((i + ${#batch[@]}))
done
heartbeat_stop
log result - done 'the cutover finished: stopped, copied, checked, started, routed, verified and confirmed'
