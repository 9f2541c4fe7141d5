// Deploying a host's configuration from the flake, with the tool the host is deployed with.
import { cmd } from './shell.js';
import type { Ctx, HostRef } from './types.js';

export function deployScript(c: Ctx, h: HostRef): string {
  switch (h.deploy) {
    case 'colmena': return cmd`colmena apply --on ${h.name} switch`;
    case 'deploy-rs': return cmd`deploy --skip-checks ${`${c.flake}#${h.name}`}`;
    default: return cmd`nixos-rebuild switch --flake ${`${c.flake}#${h.name}`} --target-host ${h.ssh}`;
  }
}
