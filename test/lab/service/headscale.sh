#!/bin/bash
# migen lab: STAND-IN for `headscale serve` (juanfont/headscale; nixpkgs runs it as headscale.service,
# state in /var/lib/headscale). What a migration of it relies on, reproduced:
# - noise_private.key, which headscale creates at its first start when it is missing
#   (hscontrol/app.go: NewHeadscale -> readOrCreatePrivateKey(cfg.NoisePrivateKeyPath), format
#   "privkey:<hex>"): clients know the server by it, so the copy must keep it byte for byte, and a
#   new host started on an empty directory would make a different one;
# - its SQLite database in WAL mode: the lab's app (app.py, next to this file), whose database is
#   db.sqlite3 beside the key (a manifest for this stand-in names it in sqlite:), and /healthz
#   answering the host's name (which host a client reached).
# Not reproduced: the Tailscale control protocol, the `headscale` CLI.
set -euo pipefail
: "${STATE_DIR:?STATE_DIR is required}"
key="$STATE_DIR/noise_private.key"
if [ ! -s "$key" ]; then
  mkdir -p "$STATE_DIR"
  (umask 077 && printf 'privkey:%s\n' "$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')" > "$key.tmp" && mv "$key.tmp" "$key")
fi
exec /usr/bin/python3 "$(dirname "$(readlink -f "$0")")/app.py"
