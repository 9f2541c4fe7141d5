import type { DeployTool, Inventory, InventoryHost, Manifest } from '../types.js';

/** A host as the plan sees it: the inventory plus the manifest's overrides. */
export interface HostRef {
  readonly name: string;
  readonly address: string;
  readonly ssh: string;
  readonly deploy: DeployTool;
}

export function hostRef(manifest: Manifest, inv: InventoryHost): HostRef {
  const o = manifest.hosts?.[inv.hostName] ?? {};
  return { name: inv.hostName, address: o.address ?? inv.address ?? '', ssh: o.ssh ?? inv.sshTarget, deploy: o.deploy ?? inv.deploy };
}

const has = (o: object, k: string): boolean => Object.prototype.hasOwnProperty.call(o, k);

export function findHost(inventory: Inventory, name: string): InventoryHost | undefined {
  return has(inventory.hosts, name) ? inventory.hosts[name] : undefined;
}

/** Does the host run the service (on the host, or in the named container)? */
export function runsService(h: InventoryHost, nixosService: string, container: string | null): boolean {
  return container !== null ? has(h.containers, container) : h.services.includes(nixosService);
}

/** Where NixOS puts a secret at run time: agenix /run/agenix/<name>, sops-nix /run/secrets/<name>. */
export function secretPath(h: InventoryHost, name: string): string {
  return h.secrets.sops.includes(name) && !h.secrets.agenix.includes(name) ? `/run/secrets/${name}` : `/run/agenix/${name}`;
}
