#!/bin/bash
# migen lab: main process of the `postgresql` unit (runs as postgres). NixOS's postgresql.service
# has KillSignal=SIGINT (fast shutdown); the lab's systemctl stand-in stops a unit with SIGTERM
# (smart shutdown: waits for every client to disconnect). This wrapper turns the TERM into INT.
# usage: postgres-unit.sh BINDIR DATADIR
"$1/postgres" -D "$2" &
pid=$!
trap 'kill -INT "$pid" 2>/dev/null' TERM INT
while kill -0 "$pid" 2>/dev/null; do wait "$pid"; done
