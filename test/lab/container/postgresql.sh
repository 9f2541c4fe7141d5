#!/bin/bash
# migen lab: main process of a container's `postgresql` unit (runs as postgres), as nixpkgs'
# postgresql.service (nixos/modules/services/databases/postgresql.nix): preStart initialises the data
# directory when PG_VERSION is missing (removing *.conf, `initdb -U postgres`) and links
# postgresql.conf from the system profile (NixOS: from the store), then ExecStart=postgres, exec'd so
# that the main pid is the postmaster and KillSignal=SIGINT (a fast shutdown) reaches it.
# usage: postgresql.sh BINDIR   (PGDATA and the config path come from the unit's environment)
set -eu
bin=$1
if ! test -e "$PGDATA/PG_VERSION"; then
  rm -f "$PGDATA"/*.conf
  "$bin/initdb" -U postgres >/dev/null
  touch "$PGDATA/.first_startup"
fi
ln -sfn "$PG_CONFIG_FILE" "$PGDATA/postgresql.conf"
exec "$bin/postgres"
