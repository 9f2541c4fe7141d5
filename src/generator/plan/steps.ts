// Every step of a migration, phase by phase (phases/*.ts; PostgreSQL's parts in pg/).
import { cutover } from './phases/cutover.js';
import { finalize } from './phases/finalize.js';
import { containerUsersCheck } from './container-map.js';
import { deployScript } from './deploy.js';
import { preflight, touchedHosts } from './phases/preflight.js';
import { prepare } from './phases/prepare.js';
import { sync } from './phases/sync.js';
import { verify } from './phases/verify.js';
import { isDatabaseDir, pgApp, pgDumpNote, pgPreflight } from './pg/index.js';
import { on, stepsOf } from './step.js';
import { PROVIDERS, toolsCheck, toolsOf } from './tools.js';
import type { Ctx, HostTools, Step } from './types.js';

export function buildSteps(c: Ctx): Step[] {
  const hot = c.strategy === 'hot' && c.database !== null;
  // In a hot migration rsync copies only the files beside the database.
  const copy: Ctx = hot ? { ...c, state: c.state.filter((s) => !isDatabaseDir(s.old)) } : c;
  const checks = [...preflight(c, copy.state), ...containerUsersCheck(c), ...(hot ? pgPreflight(c) : [])];
  const prep = prepare(c, hot ? { app: pgApp(c).unit } : null);
  const later = checkedAtOnce([...sync(copy, hot), ...cutover(copy, hot), ...verify(c, hot), ...finalize(c)]);
  // The commands the steps run on each host: those before the deploys (preflight, the backup)
  // right after every host answered; the rest once the deploys (which bring the generated
  // module's packages) took effect, before the copy starts and long before anything stops.
  const d = prep.findIndex((s) => s.id.startsWith('deploy-'));
  const [before, after] = d < 0 ? [prep, []] : [prep.slice(0, d), prep.slice(d)];
  const early = toolsOf([...checks, ...before], null);
  const late = toolsOf([...after, ...later], c.copyAccess).map((t) => {
    const seen = new Set(early.find((e) => e.host === t.host)?.commands ?? []);
    const commands = t.commands.filter((x) => !seen.has(x));
    return { ...t, commands, packages: t.packages.filter((p) => commands.some((x) => PROVIDERS[x] === p)) };
  }).filter((t) => t.commands.length > 0);
  const reached = checks.filter((s) => s.id.startsWith('reach-')).length;
  const at = after.findIndex((s) => s.id === 'copy-keys' || s.id === 'prepared');
  const cut = at < 0 ? after.length : at;
  return [
    ...checks.slice(0, reached), ...early.map((t) => toolsStep(c, t, 'preflight')), ...checks.slice(reached),
    ...before, ...after.slice(0, cut), ...late.map((t) => toolsStep(c, t, 'prepare')), ...after.slice(cut),
    ...later,
    ...(hot ? [pgDumpNote(c)] : []),
  ];
}

/**
 * The proxy's check of the new backend and the first verification (through the proxy, on the
 * fleet) poll at once: the verification cannot pass before the backend answers anyway, so in turn
 * they only add one round trip to the window; together, the window ends at the verification's
 * first success, and either one failing still rolls back. The backend check then belongs to the
 * verification.
 */
function checkedAtOnce(steps: Step[]): Step[] {
  const i = steps.findIndex((s) => s.id === 'backend-healthy');
  const b = steps[i];
  const v = steps[i + 1];
  if (!b || !v || v.phase !== 'verify' || v.kind !== 'probe' || !v.window || !v.fleet || b.kind !== 'probe' || b.endsWindow) return steps;
  const out = [...steps];
  out[i] = Object.freeze({ ...b, phase: 'verify', concurrent: 'first-checks' }) as Step;
  out[i + 1] = Object.freeze({ ...v, concurrent: 'first-checks' }) as Step;
  return out;
}

function toolsStep(c: Ctx, t: HostTools, phase: 'preflight' | 'prepare'): Step {
  const h = touchedHosts(c).find((x) => x.name === t.host);
  const deploy = h ? `: ${deployScript(c, h)}` : '';
  return stepsOf(phase).check(phase === 'preflight' ? `tools-${t.host}` : `tools-deployed-${t.host}`, `${t.host} has the commands the runbook runs there (${t.commands.join(', ')})`, on(t.host, toolsCheck(t)),
    t.packages.length
      ? `${t.host} lacks commands the runbook runs there: deploy ${t.host} with the generated module first (generated/hosts/${t.host}.nix adds ${t.packages.map((p) => `pkgs.${p}`).join(', ')} to environment.systemPackages)${deploy}`
      : `${t.host} lacks commands every NixOS host has (environment.systemPackages of nixos/modules/config/system-path.nix): is it a NixOS host, and root's PATH its own?`);
}
