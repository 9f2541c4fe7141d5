#!/usr/bin/env bash
# The seed's "Warm Migration" (docs: /work/shared/seed/migrating-services-between-hosts.md, steps
# 1-6), typed as a person would, one fresh ssh connection per command, for Vaultwarden o001 -> h002
# in the lab (run in the lab's operator network namespace, whose `ssh` uses the lab's ssh_config).
# Made runnable, nothing added:
# - `rsync oldhost:/x/ newhost:/x/` cannot name two remote hosts, so the new host pulls from the old
#   one (the same -avz --progress, its root's ssh and known_hosts);
# - step 5 `ssh proxy 'nixos-rebuild switch'`: the lab cannot build a NixOS system, so the proxy
#   activates the configuration that rebuild would produce (o001's configuration with its nginx
#   routing vault.joshuabell.xyz to h002, nothing else changed: the profile `seed-cutover` that
#   bench/lib/downtime.ts installs) with its switch-to-configuration, which, like nixpkgs', starts
#   every wanted unit: vaultwarden, still enabled on o001, starts there again. The real rebuild's
#   evaluation, build and copy time is NOT included: this favours the seed.
# - step 6's curl needs --resolve: the lab has no DNS.
# SEED_FINAL_EXTRA (default empty) adds options to step 3 only: the bench's variant
# `SEED_FINAL_EXTRA=--delete` is the smallest change that lets the new host start (see bench/README.md).
# Prints one line per step: `step <n> <start ms> <end ms> <exit code>` on fd 3 (timings); the
# commands' own output goes to stdout. No `set -e`: a person reads rsync's warnings and goes on.
STATE=/var/lib/vaultwarden
step() { local n=$1; shift; local t0 t1 rc; t0=$(date +%s%3N); "$@"; rc=$?; t1=$(date +%s%3N); echo "step $n $t0 $t1 $rc" >&3; }

# 1. Initial sync (service still running)
step 1 ssh h002 rsync -avz --progress root@100.64.0.1:$STATE/ $STATE/
# 2. Stop service on old host
step 2 ssh o001 'systemctl stop vaultwarden'
# 3. Final sync (quick - only changes since initial sync)
step 3 ssh h002 rsync -avz --progress ${SEED_FINAL_EXTRA:-} root@100.64.0.1:$STATE/ $STATE/
# 4. Start on new host
step 4 ssh h002 'systemctl start vaultwarden'
# 5. Update reverse proxy immediately (stands in for: ssh o001 'nixos-rebuild switch')
step 5 ssh o001 '/nix/var/nix/profiles/system/specialisation/seed-cutover/bin/switch-to-configuration switch'
# 6. Verify
step 6 curl -sS -o /dev/null -w '%{http_code}\n' --resolve vault.joshuabell.xyz:443:100.64.0.1 https://vault.joshuabell.xyz
