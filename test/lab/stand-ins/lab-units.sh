# migen lab: unit states, start, stop, the supervisor, targets and timers of the systemd STAND-IN
# (sourced by lab-systemd.sh; see there for what is reproduced and the sources).

# active | activating (auto-restart) | inactive | failed
unit_state() {
  local u=$1 d=$LAB_STATE/$1 i
  case $u in
    *.target) [[ -e $d/active ]] && echo active || echo inactive; return ;;
    *.timer) case $(defval "$d" state dead) in waiting | elapsed) echo active ;; failed) echo failed ;; *) echo inactive ;; esac; return ;;
  esac
  main_pid "$u" >/dev/null && { echo active; return; }
  if super_pid "$u" >/dev/null; then
    # the main process has just ended (or not yet begun): its supervisor is recording it
    for ((i = 0; i < 100; i++)); do
      [[ -e $d/auto-restart ]] && { echo activating; return; }
      main_pid "$u" >/dev/null && { echo active; return; }
      super_pid "$u" >/dev/null || break
      sleep 0.01
    done
  fi
  if [[ -e $d/failed ]]; then echo failed
  elif [[ -s $d/pid && ! -e $d/stopping ]]; then : >"$d/failed"; echo failed # died with its supervisor
  else echo inactive; fi
}

loaded() { # a definition, a unit file, or a target/timer we know
  case $1 in
    *.target) return 0 ;;
    *.timer) [[ -d $LAB_STATE/$1 ]] ;;
    *) def_dir "$1" >/dev/null || unit_file "$1" >/dev/null ;;
  esac
}

record_start() { mkdir -p "$LAB_STATE/$1"; date +%s.%N >>"$LAB_STATE/$1/starts"; }
# one more start would exceed StartLimitBurst= within StartLimitIntervalSec= (unit_start_limit_test())
start_limited() {
  local def burst interval
  def=$(def_dir "$1") || return 1
  burst=$(defval "$def" startlimit.burst "")
  [[ -z $burst && $(defval "$def" restart no) == no ]] && return 1
  burst=${burst:-5}; interval=$(defval "$def" startlimit.interval 10)
  ((burst > 0)) || return 1
  [[ -s $LAB_STATE/$1/starts ]] || return 1
  awk -v now="$(date +%s.%N)" -v iv="$interval" -v b="$burst" '$1 > now - iv { n++ } END { exit !(n >= b) }' "$LAB_STATE/$1/starts"
}

fail_start() {
  local u=$1 why=$2 pg
  if pg=$(unit_pgid "$u"); then : >"$LAB_STATE/$u/stopping"; kill_group KILL "$pg"; fi
  rm -f "$LAB_STATE/$u/pid" "$LAB_STATE/$u/stopping"
  [[ -s $LAB_STATE/$u/result && $(<"$LAB_STATE/$u/result") != success ]] || echo exit-code >"$LAB_STATE/$u/result"
  : >"$LAB_STATE/$u/failed"
  ulog "$u" "-- lab: $u failed to start: $why"
  echo "Job for $u.service failed because the control process exited with error code." >&2
  echo "See \"systemctl status $u.service\" and \"journalctl -u $u.service\" for details. ($why)" >&2
  return 1
}

do_start() {
  local u=$1
  case $u in *.target) start_target "$u"; return ;; *.timer) timer_start "$u"; return ;; esac
  local d=$LAB_STATE/$u def i c tcp="" http="" timeout=20 deadline type
  def=$(def_dir "$u") || { echo "Failed to start $u.service: Unit $u.service not found." >&2; return 5; }
  case $(unit_state "$u") in active | activating) return 0 ;; esac
  if i=$(super_pid "$u"); then kill_group KILL "$i"; fi # a supervisor that outlived its unit
  mkdir -p "$d" "$LAB_LOGS"
  rm -f "$d/pid" "$d/failed" "$d/stopping" "$d/auto-restart" "$d/result" "$d/status" "$d/status.code" "$d/timeout"
  check_conditions "$u"; c=$?
  if ((c == 1)); then
    echo no >"$d/condition"
    ulog "$u" "$u.service was skipped because of an unmet condition check ($COND_FAILED)."
    return 0
  fi
  ((c == 2)) && { fail_start "$u" "$COND_FAILED: not supported by the lab's systemd stand-in"; return 1; }
  echo yes >"$d/condition"
  if start_limited "$u"; then
    echo start-limit-hit >"$d/result"; : >"$d/failed"
    ulog "$u" "$u.service: Start request repeated too quickly."
    echo "Job for $u.service failed because the start of the service was attempted too often." >&2
    return 1
  fi
  echo 0 >"$d/nrestarts"
  record_start "$u"
  tcp=$(defval "$def" ready.tcp ""); http=$(defval "$def" ready.http ""); timeout=$(defval "$def" ready.timeout 20)
  type=$(defval "$def" type simple)
  if [[ -s $def/runtime.dirs ]]; then # RuntimeDirectory=
    local rd owner; owner=$(defval "$def" user root)
    while read -r rd; do install -d -m 0755 -o "$owner" -g "$(id -gn "$owner")" "/run/$rd"; done <"$def/runtime.dirs"
  fi
  ulog "$u" "-- lab: starting $u at $(date -Is)"
  # a background job is no process-group leader, so setsid execs in place: the supervisor
  # leads the unit's own session and process group (the unit's "cgroup")
  setsid bash "$LAB_LIB" __supervise "$u" >>"$LAB_LOGS/$u.log" 2>&1 </dev/null 9>&- &
  for ((i = 0; i < 300; i++)); do [[ -s $d/pid || -s $d/result || ! -d $d ]] && break; sleep 0.01; done
  [[ -d $d ]] || return 0 # a transient unit that ran and was collected already
  [[ -s $d/pid || -s $d/result ]] || { fail_start "$u" "no main pid"; return 1; }
  # Type=simple: the start job is done once the main process runs, whatever it does next
  if [[ -e $def/transient && $type != oneshot ]]; then echo "$u" >>"$LAB_STATE/.started"; return 0; fi
  if [[ $type == oneshot ]]; then
    while super_pid "$u" >/dev/null; do sleep 0.02; done
    [[ $(defval "$d" result success) == success ]] || { fail_start "$u" "main process exited with status $(defval "$d" status '?')"; return 1; }
    return 0
  fi
  deadline=$((SECONDS + timeout))
  if [[ -n $tcp ]]; then
    until ss -Hltn "sport = :$tcp" 2>/dev/null | grep -q .; do
      main_pid "$u" >/dev/null || { fail_start "$u" "process exited"; return 1; }
      ((SECONDS < deadline)) || { fail_start "$u" "timeout waiting for tcp port $tcp"; return 1; }
      sleep 0.05
    done
  fi
  if [[ -n $http ]]; then
    until curl -fsS --noproxy '*' -o /dev/null --max-time 1 "$http" 2>/dev/null; do
      main_pid "$u" >/dev/null || { fail_start "$u" "process exited"; return 1; }
      ((SECONDS < deadline)) || { fail_start "$u" "timeout waiting for $http"; return 1; }
      sleep 0.05
    done
  fi
  if [[ -f $def/ready.cmd ]]; then
    until bash "$def/ready.cmd" >/dev/null 2>&1; do
      main_pid "$u" >/dev/null || { fail_start "$u" "process exited"; return 1; }
      ((SECONDS < deadline)) || { fail_start "$u" "timeout waiting for $(<"$def/ready.cmd")"; return 1; }
      sleep 0.05
    done
  fi
  if [[ -z $tcp && -z $http && ! -f $def/ready.cmd ]]; then sleep 0.3; fi
  main_pid "$u" >/dev/null || { fail_start "$u" "process exited"; return 1; }
  echo "$u" >>"$LAB_STATE/.started"
  return 0
}

do_stop() {
  local u=$1
  case $u in *.target) rm -f "$LAB_STATE/$u/active"; return 0 ;; *.timer) timer_stop "$u"; gc_unit "$u"; return 0 ;; esac
  local d=$LAB_STATE/$u def="" pid pg i sig=TERM mode=control-group timeout=10
  def=$(def_dir "$u") || { [[ -d $d ]] || { echo "Failed to stop $u.service: Unit $u.service not loaded." >&2; return 5; }; }
  if [[ -n $def ]]; then sig=$(defval "$def" kill.signal TERM); mode=$(defval "$def" kill.mode control-group); timeout=$(defval "$def" stop.timeout 10); fi
  mkdir -p "$d"; : >"$d/stopping"
  pg=$(unit_pgid "$u") || pg=""
  if pid=$(main_pid "$u"); then
    if [[ $mode == mixed ]]; then kill -s "$sig" "$pid" 2>/dev/null || true; else kill_group "$sig" "${pg:-$pid}"; fi
    for ((i = 0; i < timeout * 20; i++)); do main_pid "$u" >/dev/null || break; sleep 0.05; done
    if main_pid "$u" >/dev/null; then
      ulog "$u" "$u.service: State 'stop-sigterm' timed out. Killing."
      kill_group KILL "${pg:-$pid}"
      for ((i = 0; i < 100; i++)); do main_pid "$u" >/dev/null || break; sleep 0.02; done
    fi
    ulog "$u" "-- lab: stopped $u at $(date -Is)"
  fi
  [[ -n $pg ]] && kill_group KILL "$pg" # whatever is left of the unit: its supervisor, stray children
  rm -f "$d/pid" "$d/failed" "$d/auto-restart"
  echo success >"$d/result"
  gc_unit "$u"
  return 0
}

# ExecReload= (the definition's `reload` lines, run with $MAINPID; without: SIGHUP to the main process)
do_reload() {
  local u=$1 pid def line
  pid=$(main_pid "$u") || { echo "Failed to reload $u.service: Unit $u.service is not active." >&2; return 1; }
  def=$(def_dir "$u")
  if [[ -f $def/reload ]]; then
    while IFS= read -r line; do
      [[ -n $line ]] || continue
      MAINPID=$pid bash -c "$line" >>"$LAB_LOGS/$u.log" 2>&1 || {
        echo "Job for $u.service failed because the control process exited with error code." >&2
        echo "See \"systemctl status $u.service\" and \"journalctl -u $u.service\" for details." >&2
        return 1
      }
    done <"$def/reload"
  else kill -HUP "$pid"; fi
}

# the supervisor: bash LIB __supervise UNIT (the unit's process-group leader)
supervise() {
  local u=$1 d=$LAB_STATE/$1 def rc child code st clean result restart policy rsec rmax killer n
  close_fds
  def=$(def_dir "$u") || exit 1
  echo "$$ $(starttime $$)" >"$d/supervisor"
  # handlers, not ignores: the unit's processes start with default dispositions
  trap ':' TERM INT HUP
  policy=$(defval "$def" restart no); rsec=$(defval "$def" restart.sec 0.1); rmax=$(defval "$def" runtime.max "")
  while :; do
    # a background job of a shell without job control starts with SIGINT and SIGQUIT ignored;
    # systemd starts services with every signal at its default
    env --default-signal=INT,QUIT "$def/run" &
    child=$!
    killer=
    if [[ -n $rmax ]]; then
      (sleep "$rmax"; : >"$d/timeout"; kill -TERM "$child" 2>/dev/null; sleep "$(defval "$def" stop.timeout 10)"; kill -KILL "$child" 2>/dev/null) &
      killer=$!
    fi
    while :; do
      { wait "$child"; } 2>/dev/null; rc=$?
      if ((rc > 128)) && kill -0 "$child" 2>/dev/null; then continue; fi # our trap interrupted the wait
      break
    done
    [[ -n $killer ]] && kill "$killer" 2>/dev/null
    [[ -e $d/stopping ]] && exit 0
    if ((rc > 128)); then code=killed; st=$((rc - 128)); else code=exited; st=$rc; fi
    clean=0
    if [[ $code == exited ]]; then ((st == 0)) && clean=1; else case $st in 1 | 2 | 13 | 15) clean=1 ;; esac; fi
    if [[ -e $d/timeout ]]; then result=timeout; clean=0
    elif ((clean)); then result=success
    elif [[ $code == exited ]]; then result=exit-code
    else result=signal; fi
    echo "$st" >"$d/status"; echo "$code" >"$d/status.code"; echo "$result" >"$d/result"
    echo "$u.service: Main process exited, code=$code, status=$st"
    restart=0
    case $policy in
      always) restart=1 ;;
      on-success) ((clean)) && restart=1 ;;
      on-failure) ((clean)) || restart=1 ;;
      on-abnormal) [[ $code == killed || $result == timeout ]] && ((!clean)) && restart=1 ;;
      on-abort) [[ $code == killed ]] && ((!clean)) && restart=1 ;;
    esac
    [[ $result == success ]] || echo "$u.service: Failed with result '$result'."
    if ((restart)); then
      if start_limited "$u"; then
        echo start-limit-hit >"$d/result"
        echo "$u.service: Start request repeated too quickly."
        echo "$u.service: Failed with result 'start-limit-hit'."
      else
        : >"$d/auto-restart"; rm -f "$d/pid"
        n=$(($(defval "$d" nrestarts 0) + 1))
        echo "$u.service: Scheduled restart job, restart counter is at $n."
        sleep "$rsec"
        [[ -e $d/stopping ]] && exit 0
        echo "$n" >"$d/nrestarts"; rm -f "$d/timeout"
        record_start "$u"
        rm -f "$d/auto-restart"
        continue
      fi
    fi
    rm -f "$d/pid" "$d/auto-restart"
    if [[ $(<"$d/result") == success ]]; then gc_unit "$u" inactive; else : >"$d/failed"; gc_unit "$u" failed; fi
    exit 0
  done
}

start_target() {
  local t=$1 w n
  mkdir -p "$LAB_STATE/$t"; : >"$LAB_STATE/$t/active"
  for w in "$CUR_UNITS/$t.wants"/*; do
    [[ -e $w || -L $w ]] || continue
    n=$(norm "${w##*/}")
    # Wants=: a unit that fails or is skipped does not fail the target's job
    do_start "$n" 2>>"$LAB_LOGS/$n.log" || true
  done
  return 0
}

# ---- transient timers (systemd-run --on-active=): OnActiveSec= counts from the timer's start
timer_start() {
  local t=$1 d=$LAB_STATE/$1
  [[ -d $d ]] || { echo "Failed to start $t: Unit $t not found." >&2; return 5; }
  [[ $(unit_state "$t") == active ]] && return 0
  echo waiting >"$d/state"
  setsid bash "$LAB_LIB" __timer "$t" >>"$LAB_LOGS/$t.log" 2>&1 </dev/null 9>&- &
  echo "$! $(starttime $!)" >"$d/pid"
  return 0
}
timer_stop() {
  local t=$1 d=$LAB_STATE/$1 pid
  [[ -d $d ]] || { echo "Failed to stop $t: Unit $t not loaded." >&2; return 5; }
  if pid=$(live_pid "$d/pid"); then kill_group KILL "$pid"; fi
  rm -f "$d/pid"; echo dead >"$d/state"
}
timer_fire() { # bash LIB __timer NAME.timer
  local t=$1 d=$LAB_STATE/$1 svc
  close_fds
  svc=$(<"$d/unit")
  sleep "$(<"$d/on-active")"
  echo elapsed >"$d/state"
  echo "$t: Triggering $svc.service."
  do_start "$svc" 2>>"$LAB_LOGS/$svc.log"
  rm -f "$d/pid"
}
timer_substate() {
  local d=$LAB_STATE/$1
  case $(defval "$d" state dead) in
    waiting) echo waiting ;;
    elapsed) [[ $(unit_state "$(<"$d/unit")") == active ]] && echo running || echo elapsed ;;
    *) echo dead ;;
  esac
}

# CollectMode= (default inactive; --collect: inactive-or-failed) for transient units: an
# inactive transient unit is unloaded unless a timer still refers to it
gc_unit() { # unit [its state, when the caller knows it: the supervisor itself]
  local u=$1 d=$LAB_STATE/$1 st t
  is_transient "$u" || return 0
  [[ -e $d/ref || -n ${LAB_NO_GC:-} ]] && return 0 # systemd-run --wait still reads it; a restart's stop
  st=${2:-$(unit_state "$u")}
  case $u in
    *.timer)
      [[ $st == inactive ]] || return 0
      t=$(<"$d/unit")
      rm -rf "$d" "$TRANSIENT/$u"
      [[ -d $LAB_STATE/$t ]] && gc_unit "$t"
      return 0 ;;
  esac
  [[ $st == inactive || ($st == failed && -e $d/collect) ]] || return 0
  for t in "$LAB_STATE"/*.timer; do [[ -d $t && $(defval "$t" unit "") == "$u" ]] && return 0; done
  rm -rf "$d" "$TRANSIENT/$u.service"
}

# every unit the host knows: definitions, transient units, unit files of the active configuration
all_units() {
  {
    local p
    for p in "$LAB_DEFS"/*/ "$LAB_STATE"/*/; do [[ -d $p ]] && norm "$(basename "$p")"; done
    for p in "$CUR_UNITS"/*.service "$CUR_UNITS"/*.target; do [[ -f $p ]] && norm "${p##*/}"; done
  } | sort -u
}
