// Every step of a migration, phase by phase (phases/*.ts; PostgreSQL's parts in pg/).
import { cutover } from './phases/cutover.js';
import { finalize } from './phases/finalize.js';
import { containerUsersCheck } from './container-map.js';
import { deployScript } from './deploy.js';
import { preflight, touchedHosts } from './phases/preflight.js';
import { prepare } from './phases/prepare.js';
import { sync } from './phases/sync.js';
import { verify } from './phases/verify.js';
import { isDatabaseDir, pgApp, pgPreflight } from './pg/index.js';
import { on, stepsOf } from './step.js';
import { toolsCheck, toolsOf } from './tools.js';
import type { Ctx, HostTools, Step } from './types.js';

export function buildSteps(c: Ctx): Step[] {
  const hot = c.strategy === 'hot' && c.database !== null;
  // In a hot migration rsync copies only the files beside the database.
  const copy: Ctx = hot ? { ...c, state: c.state.filter((s) => !isDatabaseDir(s.path)) } : c;
  const checks = [...preflight(c, copy.state), ...containerUsersCheck(c), ...(hot ? pgPreflight(c) : [])];
  const rest = [
    ...prepare(c, hot ? { app: pgApp(c).unit } : null),
    ...sync(copy, hot),
    ...cutover(copy, hot),
    ...verify(c, hot),
    ...finalize(c),
  ];
  // Right after every host answered: each has the commands the steps run there.
  const tools = toolsOf([...checks, ...rest], c.copyAccess).map((t) => toolsStep(c, t));
  const reached = checks.filter((s) => s.id.startsWith('reach-')).length;
  return [...checks.slice(0, reached), ...tools, ...checks.slice(reached), ...rest];
}

function toolsStep(c: Ctx, t: HostTools): Step {
  const h = touchedHosts(c).find((x) => x.name === t.host);
  const deploy = h ? `: ${deployScript(c, h)}` : '';
  return stepsOf('preflight').check(`tools-${t.host}`, `${t.host} has the commands the runbook runs there (${t.commands.join(', ')})`, on(t.host, toolsCheck(t)),
    t.packages.length
      ? `${t.host} lacks commands the runbook runs there: deploy ${t.host} with the generated module first (generated/hosts/${t.host}.nix adds ${t.packages.map((p) => `pkgs.${p}`).join(', ')} to environment.systemPackages)${deploy}`
      : `${t.host} lacks commands every NixOS host has (environment.systemPackages of nixos/modules/config/system-path.nix): is it a NixOS host, and root's PATH its own?`);
}
