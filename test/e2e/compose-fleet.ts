/**
 * e2e [10]: a lab where h001 runs both of the example's services that move to h002, for
 * compose.test.ts: Forgejo in its nixos-container (test/lab/forgejo/) and Zitadel with its
 * PostgreSQL (test/lab/pg/zitadel.ts), as examples/homelab has them (Forgejo's container PostgreSQL
 * on 5433, Zitadel's on 5432, both on the host's network). The two setups share hosts, addresses
 * and h001's restic repository; each is told not to deploy, and every host then gets ONE
 * configuration holding both services (test/e2e/deployed.ts), o001 the example's proxy profiles.
 */
import fs from 'node:fs';
import path from 'node:path';
import { expect } from 'vitest';
import type { Lab, LabOptions } from '../lab/index.js';
import { forgejoLabOptions, NEIGHBOURS, setupForgejo, startNeighbours, type ForgejoSetup } from '../lab/forgejo/index.js';
import { setupZitadel, sql, type ZitadelSetup } from '../lab/pg/zitadel.js';
import { deployHost } from './deployed.js';
import { makeForgejoRoot } from './forgejo-fleet.js';
import { proxyProfiles, REPO } from './helpers.js';

/** the units of both services on h001 and h002 (Zitadel's app is a host unit in the lab) */
export const BOTH = ['container@forgejo', 'container@zitadel', 'zitadel', 'nginx'];

/** forgejoLabOptions and zitadelLabOptions are the same fleet (o001, h001, h002; h001's restic environment) */
export const composeLabOptions = (extra: Partial<LabOptions> = {}): LabOptions => forgejoLabOptions(extra);

export async function setupCompose(lab: Lab): Promise<{ fj: ForgejoSetup; zitadel: ZitadelSetup; root: string }> {
  // Zitadel first: it initialises h001's restic repository, which Forgejo's backup shares (same password file)
  const zitadel = await setupZitadel(lab, { deploy: false });
  const fj = await setupForgejo(lab, { proxy: 'inventory', deploy: false });
  await deployHost(lab, 'h001', BOTH, 'old');
  await deployHost(lab, 'h002', BOTH, 'new');
  // one proxy configuration for both: each call checks its own migration's moved routes against it
  const z = await proxyProfiles('zitadel');
  const f = await proxyProfiles('forgejo');
  expect(f.profiles).toEqual(z.profiles);
  await lab.system(f.proxy, { profiles: f.profiles, active: 'previous' });
  // h001's other backends; sso is Zitadel itself here (127.0.0.1:8080)
  await startNeighbours(lab, 'h001', Object.keys(NEIGHBOURS).filter((n) => n !== 'sso'));
  const root = makeForgejoRoot(lab);
  fs.copyFileSync(path.join(REPO, 'examples/homelab/migrations/zitadel.yaml'), path.join(root, 'examples/homelab/migrations/zitadel.yaml'));
  return { fj, zitadel, root };
}

/** the ids of Zitadel's items table on a host */
export const itemIds = async (lab: Lab, host: string): Promise<Set<number>> =>
  new Set((await sql(lab, host, 'zitadel', 'SELECT id FROM items;')).split('\n').filter(Boolean).map(Number));
