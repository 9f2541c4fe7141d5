export const RUN_USAGE = `Usage: migen run NAME [options]   (or: node generated/runbooks/migrate-NAME.mjs [options])

  --dry-run          print every command in order, with its host; run nothing
  --resume           continue an interrupted run from its journal (.migen/NAME/journal.json)
  --rollback         undo what an interrupted run did, in reverse order
  --yes              do not ask before the first step that stops a service
  --no-rollback      on a failed cutover, stop and print the undo commands instead of running them
  --forward-agent    forward your ssh agent to the host that runs rsync (host-to-host copy)
  --ssh-config FILE  ssh_config to use (also MIGEN_SSH_CONFIG)
  --root DIR         the repository root holding the manifest and generated/ (default: .)

Exit status: 0 done, 1 failed before any service stopped (nothing changed), 2 usage,
3 rolled back (the service runs on the old host again), 4 rollback incomplete (act by hand),
130 interrupted.`;
