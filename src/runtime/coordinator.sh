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
#   MS EVENT IDX ID MESSAGE ("%" and then the text with %, tab, newline and CR percent-encoded; base64 before)
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
# shellcheck source=coordinator-steps.sh
. "$B/coordinator-steps.sh"

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
(while [ ! -e "$B/abort" ]; do alive || exit 0; sleep 0.05; done
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
