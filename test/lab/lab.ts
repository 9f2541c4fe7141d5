/**
 * migen lab: a fleet of "hosts" on one Linux machine, so that generated runbooks (zx scripts
 * that ssh to hosts and run bash there) can be executed for real in tests and benchmarks.
 *
 * What a lab is
 * - One network namespace per host (`<id>-h-<name>`), each with an `eth0` veth whose peer sits on
 *   a bridge `<id>br` inside a per-lab operator network namespace (`<id>-operator`, address
 *   `operatorAddress`, default 100.64.255.254/10). Nothing is added to the root namespace but the
 *   /run/netns entries, so several labs with the same host addresses run side by side.
 * - Per host, a mount + PID + UTS namespace (`unshare --mount --propagation private --uts --pid
 *   --fork --mount-proc`, `hostname` = the host's name) whose PID 1 is the host's real sshd. Private bind mounts of per-host
 *   directories under lab.dir over /var/lib, /etc/nginx, /run, /root, /var/log,
 *   /usr/local/sbin, /backup, /etc/nixos and /nix/var/nix/profiles; `<lab.dir>/hosts` is hidden by a tmpfs, so
 *   a host's processes see only their own state. Its own PID namespace means `ps`/`pkill` on a host
 *   see only that host, and sshd (PID 1 there) reaps the host's orphans; killing it ends the host.
 *   Everything else (/usr, /etc, /tmp, /nix/store) is shared with the machine.
 * - /etc/systemd is private too (its `system` is the current configuration's unit directory).
 * - sshd per host: own ed25519 host key, port 22 on the host address, PermitRootLogin
 *   prohibit-password, key auth only, no AcceptEnv, UsePAM no, pidfile /run/sshd.pid. One lab
 *   client key is authorized everywhere; every host's /root/.ssh has that key, a known_hosts with
 *   every host's real key (by name and address) and an ssh config, so host-to-host ssh and
 *   `rsync -e ssh` work with StrictHostKeyChecking yes. Host keys are never unchecked.
 *
 * STAND-INS (what cannot be real here, and why; each file cites the implementation it follows)
 * - systemd cannot run in the lab (it needs to be PID 1 with cgroup delegation; this machine's
 *   PID 1 is not systemd and /usr/bin/systemctl cannot talk to anything). Every host gets a
 *   service manager stand-in, stand-ins/lab-systemd.sh + lab-units.sh (in /usr/local/sbin/.lab),
 *   driven by `/usr/local/sbin/systemctl` (first in root's PATH, for ssh sessions and lab.exec),
 *   `systemd-run` and `journalctl -u UNIT` (the unit's log /var/log/lab-units/<unit>.log):
 *   - what a unit runs (exec, env, user, readiness, KillSignal=, KillMode=mixed, TimeoutStopSec=,
 *     ExecReload=, RuntimeDirectory=, Restart=) comes from `defineUnit`, written to
 *     /nix/var/nix/profiles/.lab-units/<unit> (the installed system: it survives a reboot);
 *   - its unit file comes from the active configuration, as on NixOS: /etc/systemd/system (a
 *     private mount of the host: a symlink to /run/current-system/etc/systemd/system), written by
 *     `system()` from a profile (system.ts): Condition lines, X-RestartIfChanged=false, wantedBy as
 *     <target>.wants/ entries; runtime drop-ins /run/systemd/system/<unit>.service.d/*.conf apply
 *     too; a unit without a unit file still runs (no conditions, not wanted);
 *   - Condition*= is checked whenever a start runs (systemctl, activation, boot, a target, a
 *     timer): unmet, the start is skipped (exit 0, inactive, ConditionResult=no), as systemd.unit(5)
 *     and unit.c/job.c do; a supervisor per started unit (its process-group leader) records
 *     ExecMainStatus=/Result= and applies Restart=/RestartSec=/StartLimitBurst= (systemd.service(5));
 *   - start waits for the lab's readiness (the NixOS unit's postStart wait); stop = KillSignal= to
 *     the process group, TimeoutStopSec= (10 s), SIGKILL; no ordering but targets' Wants=, no
 *     cgroups (children that leave the process group survive a stop). nixos-containers:
 *     test/lab/container.ts.
 * - systemd-run (stand-ins/systemd-run, systemd-run(1)): transient services in their own session
 *   under the stand-in's supervisor (they outlive the ssh session that started them), with a clean
 *   environment, Restart= and friends, --on-active timers, CollectMode=; `killUnit()` SIGKILLs a
 *   unit's main process (Restart= applies) or its whole process group (for good).
 * - NixOS activation: `system()` writes each profile (system.ts) under /nix/var/nix/profiles/system
 *   (base) and .../system/specialisation/<profile> with unit files, nginx.conf, `activate` (its
 *   activation snippets, /etc, then /run/current-system) and bin/switch-to-configuration, the
 *   stand-in for switch-to-configuration-ng (stand-ins/switch-to-configuration, main.rs's order:
 *   boot default for switch/boot, changed active units stopped/restarted unless
 *   X-RestartIfChanged=false, activation, nginx reloaded as nixpkgs' ExecReload does, then every
 *   unit wanted by multi-user.target/machines.target that is not running started: nixpkgs issue
 *   #294312; exit 4 when a unit failed). `nginx()` is `system()` with only vhosts.
 *   `reboot()` (stand-ins/lab-reboot): units stopped in reverse start order, every other process
 *   but sshd killed, /run emptied (but sshd's and /run/agenix), the boot profile activated and its
 *   wanted units started; /var/lib and the other private directories persist.
 * - The system path: root's PATH ends with /run/current-system/sw/bin, as on NixOS; a profile's
 *   `packages` (pnames) put their programs in its sw/bin (system.ts installPrograms: copies of the
 *   machine's binaries). packages.ts hides the machine's on a host, adds packages to the current
 *   profiles and makes sshd read the generated modules' authorized-keys files.
 * - `nixos-rebuild` on the operator's PATH appends its arguments to
 *   <lab.dir>/operator/nixos-rebuild.log and, for switch/test/boot --target-host T, runs
 *   `ssh T /nix/var/nix/profiles/system/bin/switch-to-configuration ACTION` (the host's base
 *   profile stands for the built closure), exit status propagated.
 * - The operator's PATH also has an `ssh` wrapper that adds `-F <lab.sshConfig>`.
 * - TLS: a lab CA (EC P-256, openssl) is made at start; `system()` issues one certificate for every
 *   server name it is given and every vhost also listens on 443 with it. The CA is in operatorEnv
 *   as CURL_CA_BUNDLE and SSL_CERT_FILE (lab.caFile), so the operator's curl verifies the proxy
 *   like a real client (no -k anywhere); every host has it in its system trust store
 *   (/etc/ssl/certs/ca-certificates.crt, bind-mounted per host), so a host's curl verifies too.
 * - The operator's TMPDIR is <lab.dir>/t (ssh control sockets of a killed runbook stay in the lab).
 * - `hostEnv` adds variables to a host's ssh sessions (sshd SetEnv) and lab.exec, the way a
 *   host's own environment would carry them (e.g. RESTIC_PASSWORD_FILE: no secret in a runbook).
 *
 * Requirements: root, iproute2, util-linux (unshare, nsenter), openssh-server, nginx, curl,
 * python3, sqlite3, openssl. A missing /backup or /etc/nixos on the machine is created (empty) as a mount point.
 */
import { spawn, spawnSync, type ChildProcess, type SpawnOptions, type StdioOptions } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll } from 'vitest';
import { BOOT_RECORD, serverNames, topOf, writeProfiles, type SystemSpec } from './system.js';

export type { NginxProfile, ProfileUnit, SystemProfile, SystemSpec } from './system.js';

export const LAB_PREFIX = 'mglab';
const TMP_ROOT = '/tmp';
const HERE = path.dirname(fileURLToPath(import.meta.url));
const STANDINS = path.join(HERE, 'stand-ins');
/** root's PATH on a host; last, as on NixOS, the current system's packages (environment.systemPackages: SystemProfile.packages) */
export const HOST_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:/run/current-system/sw/bin';

export interface LabHostSpec { name: string; address: string }
export interface LabOptions {
  hosts: LabHostSpec[];
  operatorAddress?: string; // default 100.64.255.254
  prefixLen?: number; // default 10
  diskMiB?: Record<string, number>; // size-limited tmpfs as that host's /var/lib
  /** operator ssh connection sharing (ControlMaster auto, ControlPersist 60 s): a second ssh to a
   * host costs ~10 ms instead of ~250 ms (a full key exchange on this machine). Default off. */
  sshMultiplex?: boolean;
  /** extra environment of a host's ssh sessions (sshd SetEnv) and of lab.exec on it */
  hostEnv?: Record<string, Record<string, string>>;
}
export interface ExecResult { code: number; stdout: string; stderr: string }
/** env is merged over the default environment (operatorEnv for the operator, root's for a host) */
export interface RunOptions { input?: string; env?: NodeJS.ProcessEnv; cwd?: string; timeoutMs?: number }
export interface SpawnOpts { env?: NodeJS.ProcessEnv; cwd?: string; stdio?: StdioOptions }
export interface UnitSpec {
  exec: string[];
  env?: Record<string, string>;
  user?: string;
  /** cmd: a bash command run on the host that must succeed (after tcp/http), e.g. `pg_isready -q` (NixOS units wait in postStart) */
  ready?: { tcp?: number; http?: string; cmd?: string; timeoutSec?: number };
  /** systemd's KillSignal= (default SIGTERM) and KillMode= ('control-group', the default: the signal
   * goes to the unit's whole process group; 'mixed': to the main process only, and SIGKILL to what is
   * left of the group once it has exited) */
  killSignal?: string;
  killMode?: 'control-group' | 'mixed';
  /** TimeoutStopSec= of the stand-in (default 10 s, then SIGKILL) */
  stopTimeoutSec?: number;
  /** ExecReload= commands (bash, $MAINPID set), in order; without: `systemctl reload` sends SIGHUP to the main process */
  reload?: string[];
  /** RuntimeDirectory=: directories under /run created (owned by `user`) before each start */
  runtimeDirectory?: string[];
  /** Restart= (default no), RestartSec= (default 0.1 s), StartLimitBurst= (default 5 in 10 s when Restart= is set) */
  restart?: 'no' | 'always' | 'on-success' | 'on-failure' | 'on-abnormal' | 'on-abort';
  restartSec?: number;
  startLimitBurst?: number;
}
/** where defineUnit writes: `unitsDir` is a directory on the host (default
 * /nix/var/nix/profiles/.lab-units: the installed system, it survives reboots), e.g. a container's
 * system profile from which its init installs the units at boot */
export interface DefineUnitOptions { unitsDir?: string }
export interface NginxVhost { serverName: string; locations: Record<string, { proxyPass: string | null }> }

export interface Lab {
  id: string;
  dir: string;
  sshConfig: string;
  operatorEnv: NodeJS.ProcessEnv;
  hosts: LabHostSpec[];
  operatorAddress: string;
  /** the lab CA's certificate (PEM); nginx's certificates are issued by it */
  caFile: string;
  operator(cmd: string[], opts?: RunOptions): Promise<ExecResult>;
  operatorSpawn(cmd: string[], opts?: SpawnOpts): ChildProcess;
  /**
   * The operator's machine on a link of its own (a "laptop": namespace `<id>-laptop`, address
   * laptopAddress, one veth on the bridge), so that a test can cut the operator's network
   * (setLaptopLink(false)) while the clients, in the operator namespace, keep theirs.
   */
  laptopSpawn(cmd: string[], opts?: SpawnOpts): ChildProcess;
  setLaptopLink(up: boolean): Promise<void>;
  readonly laptopAddress: string;
  exec(host: string, script: string, opts?: RunOptions): Promise<ExecResult>;
  defineUnit(host: string, unit: string, spec: UnitSpec, opts?: DefineUnitOptions): Promise<void>;
  /** cuts (false) or restores (true) the host's network link: its veth peer on the bridge goes down/up */
  setLink(host: string, up: boolean): Promise<void>;
  /**
   * Gives the host its system configurations (profiles: units with conditions and wantedBy,
   * nginx, activation; see system.ts), replacing earlier ones, and activates `active` with its
   * switch-to-configuration (`switch`, or `test` when `boot` names another profile). The first
   * activation with nginx waits until nginx serves.
   */
  system(host: string, spec: SystemSpec): Promise<void>;
  /** lab.system with only nginx vhosts per profile (units and activation of same-named profiles kept) */
  nginx(host: string, profiles: Record<string, NginxVhost[]>, active: string): Promise<void>;
  /**
   * A clean reboot: every unit stopped (reverse start order; TERM, then KILL after its timeout),
   * every other process but the host's sshd killed, /run cleared (but sshd's and /run/agenix),
   * then the boot profile's activation and its wanted units (conditions apply).
   */
  reboot(host: string): Promise<void>;
  /**
   * SIGKILL (or `signal`) to a unit's main process: its supervisor sees it die and Restart= applies.
   * `forGood`: SIGKILL to the unit's whole process group, supervisor included, as if the service
   * manager had stopped it (inactive; no restart).
   */
  killUnit(host: string, unit: string, opts?: { signal?: string; forGood?: boolean }): Promise<void>;
  /** per-host directory under lab.dir (its var-lib, run, root, ... as seen from the machine) */
  hostDir(host: string): string;
  /** the machine's path of `file` on the host (under one of the host's private mounts: /var/lib, /run, /root, ...) */
  hostFile(host: string, file: string): string;
  /** PID (in the machine's PID namespace) of the host's init = its sshd */
  hostPid(host: string): number;
  teardown(): Promise<void>;
}

// ---------------------------------------------------------------- helpers

/** nixpkgs' nginx.service as the lab runs it: ExecReload `nginx -t` then SIGHUP of the master, RuntimeDirectory=nginx */
const NGINX_UNIT: UnitSpec = {
  exec: ['/usr/sbin/nginx', '-g', 'daemon off;', '-e', '/var/log/nginx/error.log'],
  ready: { tcp: 80 },
  reload: ['/usr/sbin/nginx -t -q -e /var/log/nginx/error.log', 'kill -HUP "$MAINPID"'],
  runtimeDirectory: ['nginx'],
};

export const sq = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

function run(cmd: string, args: string[], opts: RunOptions & { spawnOpts?: SpawnOptions } = {}): Promise<ExecResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      env: opts.env ?? process.env,
      cwd: opts.cwd,
      stdio: ['pipe', 'pipe', 'pipe'],
      ...opts.spawnOpts,
    });
    let stdout = '';
    let stderr = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    let timer: NodeJS.Timeout | undefined;
    if (opts.timeoutMs) {
      timer = setTimeout(() => {
        stderr += `\n[lab] timeout after ${opts.timeoutMs} ms, killed`;
        child.kill('SIGKILL');
      }, opts.timeoutMs);
    }
    child.on('error', (e) => { if (timer) clearTimeout(timer); reject(e); });
    child.on('close', (code, signal) => {
      if (timer) clearTimeout(timer);
      resolve({ code: code ?? (signal ? 128 + (signalNumber(signal) ?? 9) : 1), stdout, stderr });
    });
    child.stdin!.on('error', () => {});
    child.stdin!.end(opts.input ?? '');
  });
}

function signalNumber(sig: NodeJS.Signals): number | undefined {
  const n = (fs.constants as unknown as { signals?: Record<string, number> }).signals?.[sig];
  return n ?? ({ SIGKILL: 9, SIGTERM: 15, SIGINT: 2, SIGHUP: 1 } as Record<string, number>)[sig];
}

async function must(cmd: string, args: string[], opts: RunOptions = {}): Promise<ExecResult> {
  const r = await run(cmd, args, opts);
  if (r.code !== 0) throw new Error(`lab: ${cmd} ${args.join(' ')} exited ${r.code}: ${r.stderr.trim()}`);
  return r;
}

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function write(file: string, content: string, mode = 0o644): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, content, { mode });
  fs.chmodSync(file, mode);
}

const NAME_RE = /^[a-z0-9][a-z0-9-]{0,30}$/i;
const IPV4_RE = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

// host directory name under lab.dir/hosts/<name>/ -> mount point inside the host
const HOST_MOUNTS: [string, string][] = [
  ['var-lib', '/var/lib'],
  ['etc-nginx', '/etc/nginx'],
  ['run', '/run'],
  ['root', '/root'],
  ['var-log', '/var/log'],
  ['usr-local-sbin', '/usr/local/sbin'],
  ['backup', '/backup'],
  ['nix-profiles', '/nix/var/nix/profiles'],
  ['etc-systemd', '/etc/systemd'],
  // where the example fleet keeps host secrets such as restic's password file (/etc/nixos/restic-password)
  ['etc-nixos', '/etc/nixos'],
];

// ---------------------------------------------------------------- registry / last-resort hooks

const live = new Set<LabImpl>();
let hooksInstalled = false;
function installHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  process.on('exit', () => {
    for (const lab of [...live]) lab.teardownSync();
  });
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(sig, () => {
      for (const lab of [...live]) lab.teardownSync();
      process.kill(process.pid, sig);
    });
  }
}

// ---------------------------------------------------------------- the lab

interface HostState {
  spec: LabHostSpec;
  index: number;
  ns: string;
  dir: string;
  sshdDir: string;
  child?: ChildProcess;
  unsharePid?: number;
  initPid?: number;
  /** the host's unit definitions (defineUnit without unitsDir) and its system configurations */
  units: Map<string, UnitSpec>;
  system?: SystemSpec;
}

class LabImpl implements Lab {
  readonly id: string;
  readonly dir: string;
  readonly sshConfig: string;
  readonly operatorEnv: NodeJS.ProcessEnv;
  readonly hosts: LabHostSpec[];
  readonly operatorAddress: string;
  readonly caFile: string;
  readonly prefixLen: number;
  readonly opNs: string;
  readonly laptopNs: string;
  readonly laptopAddress: string;
  readonly bridge: string;
  readonly byName = new Map<string, HostState>();
  private torn = false;

  constructor(readonly opts: LabOptions) {
    this.id = LAB_PREFIX + randomBytes(3).toString('hex');
    this.dir = path.join(TMP_ROOT, this.id);
    this.hosts = opts.hosts.map((h) => ({ ...h }));
    this.operatorAddress = opts.operatorAddress ?? '100.64.255.254';
    this.prefixLen = opts.prefixLen ?? 10;
    this.opNs = `${this.id}-operator`;
    this.laptopNs = `${this.id}-laptop`;
    this.laptopAddress = '100.64.255.253';
    this.bridge = `${this.id}br`;
    this.sshConfig = path.join(this.dir, 'operator', 'ssh_config');
    this.caFile = path.join(this.dir, 'operator', 'ca.pem');
    this.operatorEnv = {
      ...process.env,
      PATH: `${path.join(this.dir, 'operator', 'bin')}:${process.env.PATH ?? '/usr/bin:/bin'}`,
      TMPDIR: path.join(this.dir, 't'),
      CURL_CA_BUNDLE: this.caFile,
      SSL_CERT_FILE: this.caFile,
      MIGEN_SSH_CONFIG: this.sshConfig,
      MIGEN_LAB: this.id,
      MIGEN_LAB_DIR: this.dir,
    };
    this.hosts.forEach((spec, index) => {
      this.byName.set(spec.name, {
        spec,
        index,
        ns: `${this.id}-h-${spec.name}`,
        dir: path.join(this.dir, 'hosts', spec.name),
        sshdDir: path.join(this.dir, 'sshd', spec.name),
        units: new Map(),
      });
    });
  }

  validate(): void {
    const names = new Set<string>();
    const addrs = new Set<string>([this.operatorAddress]);
    if (this.hosts.length === 0) throw new Error('lab: no hosts');
    if (this.hosts.length > 999) throw new Error('lab: at most 999 hosts');
    if (!IPV4_RE.test(this.operatorAddress)) throw new Error(`lab: bad operatorAddress ${this.operatorAddress}`);
    for (const h of this.hosts) {
      if (!NAME_RE.test(h.name)) throw new Error(`lab: bad host name ${JSON.stringify(h.name)} (want ${NAME_RE})`);
      if (!IPV4_RE.test(h.address)) throw new Error(`lab: bad address ${h.address} for ${h.name}`);
      if (names.has(h.name)) throw new Error(`lab: duplicate host name ${h.name}`);
      if (addrs.has(h.address)) throw new Error(`lab: duplicate address ${h.address}`);
      names.add(h.name);
      addrs.add(h.address);
    }
    for (const k of Object.keys(this.opts.diskMiB ?? {})) {
      if (!names.has(k)) throw new Error(`lab: diskMiB names unknown host ${k}`);
    }
    for (const [k, env] of Object.entries(this.opts.hostEnv ?? {})) {
      if (!names.has(k)) throw new Error(`lab: hostEnv names unknown host ${k}`);
      for (const [n, v] of Object.entries(env)) {
        if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(n) || /[\s"'\\]/.test(v)) throw new Error(`lab: hostEnv ${k}: bad variable ${n}=${JSON.stringify(v)}`);
      }
    }
  }

  host(name: string): HostState {
    const h = this.byName.get(name);
    if (!h) throw new Error(`lab ${this.id}: no host ${JSON.stringify(name)} (hosts: ${[...this.byName.keys()].join(', ')})`);
    return h;
  }

  hostDir(name: string): string {
    return this.host(name).dir;
  }

  hostFile(name: string, file: string): string {
    const norm = path.posix.normalize(file);
    for (const [sub, target] of HOST_MOUNTS) {
      if (norm === target || norm.startsWith(`${target}/`)) return path.join(this.host(name).dir, sub, norm.slice(target.length));
    }
    throw new Error(`lab: ${file} is not under a private mount of ${name} (${HOST_MOUNTS.map(([, t]) => t).join(', ')})`);
  }

  hostPid(name: string): number {
    const h = this.host(name);
    if (!h.initPid) throw new Error(`lab ${this.id}: host ${name} not running`);
    return h.initPid;
  }

  // ---------------------------------------------------------------- creation

  async start(): Promise<void> {
    this.validate();
    for (const p of ['/backup', '/nix/var/nix/profiles', '/etc/nixos']) fs.mkdirSync(p, { recursive: true });
    fs.mkdirSync(this.dir, { mode: 0o711 });
    const opDir = path.join(this.dir, 'operator');
    fs.mkdirSync(path.join(opDir, 'bin'), { recursive: true });
    fs.mkdirSync(path.join(this.dir, 't'), { mode: 0o700 });

    // keys
    const clientKey = path.join(opDir, 'id_ed25519');
    await Promise.all([
      must('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '2', '-subj', `/CN=migen lab ${this.id} CA`,
        '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
        '-keyout', path.join(opDir, 'ca.key'), '-out', this.caFile]),
      must('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', `${this.id}-operator`, '-f', clientKey]),
      ...[...this.byName.values()].map(async (h) => {
        fs.mkdirSync(h.sshdDir, { recursive: true, mode: 0o700 });
        await must('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', `${this.id}-${h.spec.name}`, '-f', path.join(h.sshdDir, 'ssh_host_ed25519_key')]);
      }),
    ]);
    const clientPriv = fs.readFileSync(clientKey, 'utf8');
    const clientPub = fs.readFileSync(`${clientKey}.pub`, 'utf8');
    const knownHosts = [...this.byName.values()]
      .map((h) => {
        const [type, key] = fs.readFileSync(path.join(h.sshdDir, 'ssh_host_ed25519_key.pub'), 'utf8').trim().split(/\s+/);
        return `${h.spec.name},${h.spec.address} ${type} ${key}\n`;
      })
      .join('');

    const sshCfg = (identity: string, known: string, multiplex = false) =>
      `# migen lab ${this.id}\n` +
      [...this.byName.values()]
        .map((h) =>
          [
            `Host ${h.spec.name}`,
            `  HostName ${h.spec.address}`,
            `  User root`,
            `  IdentityFile ${identity}`,
            `  UserKnownHostsFile ${known}`,
            `  StrictHostKeyChecking yes`,
            `  BatchMode yes`,
            '',
          ].join('\n'),
        )
        .join('\n') +
      [
        '',
        'Host *',
        '  User root',
        `  IdentityFile ${identity}`,
        '  IdentitiesOnly yes',
        `  UserKnownHostsFile ${known}`,
        '  GlobalKnownHostsFile /dev/null',
        '  StrictHostKeyChecking yes',
        '  BatchMode yes',
        '  ConnectTimeout 5',
        '  LogLevel ERROR',
        ...(multiplex ? ['  ControlMaster auto', `  ControlPath ${path.join(this.dir, 'operator', 'cm-%C')}`, '  ControlPersist 60'] : []),
        '',
      ].join('\n');

    // operator files
    write(path.join(opDir, 'known_hosts'), knownHosts);
    write(this.sshConfig, sshCfg(clientKey, path.join(opDir, 'known_hosts'), this.opts.sshMultiplex), 0o600);
    write(path.join(opDir, 'nixos-rebuild.log'), '');
    write(
      path.join(opDir, 'bin', 'nixos-rebuild'),
      fs.readFileSync(path.join(STANDINS, 'nixos-rebuild'), 'utf8').replace('@LOG@', sq(path.join(opDir, 'nixos-rebuild.log'))),
      0o755,
    );
    write(
      path.join(opDir, 'bin', 'ssh'),
      `#!/bin/sh\n# migen lab ${this.id}: ssh with the lab's ssh_config (strict host key checking)\nexec /usr/bin/ssh -F ${sq(this.sshConfig)} "$@"\n`,
      0o755,
    );

    // host files
    // the stand-ins: commands in /usr/local/sbin, the service manager's parts in /usr/local/sbin/.lab
    const standins: [string, string, number][] = [
      ['systemctl', 'systemctl', 0o755], ['journalctl', 'journalctl', 0o755], ['systemd-run', 'systemd-run', 0o755],
      ['lab-systemd.sh', '.lab/lab-systemd.sh', 0o644], ['lab-units.sh', '.lab/lab-units.sh', 0o644],
      ['switch-to-configuration', '.lab/switch-to-configuration', 0o755], ['lab-reboot', '.lab/lab-reboot', 0o755],
    ].map(([src, dst, mode]) => [fs.readFileSync(path.join(STANDINS, src as string), 'utf8'), dst as string, mode as number]);
    for (const h of this.byName.values()) {
      for (const [sub] of HOST_MOUNTS) fs.mkdirSync(path.join(h.dir, sub), { recursive: true, mode: 0o755 });
      fs.chmodSync(path.join(h.dir, 'root'), 0o700);
      fs.mkdirSync(path.join(h.dir, 'run', 'sshd'), { mode: 0o755 });
      fs.mkdirSync(path.join(h.dir, 'run', 'lab-units'), { mode: 0o755 });
      fs.mkdirSync(path.join(h.dir, 'run', 'nginx'), { mode: 0o755 });
      fs.mkdirSync(path.join(h.dir, 'var-log', 'nginx'), { recursive: true });
      fs.mkdirSync(path.join(h.dir, 'var-log', 'lab-units'), { recursive: true });
      fs.mkdirSync(path.join(h.dir, 'nix-profiles', 'system'), { recursive: true });
      fs.mkdirSync(path.join(h.dir, 'nix-profiles', '.lab-units'), { recursive: true });
      // NixOS: /etc/systemd/system -> /etc/static/systemd/system, the current system's units
      fs.symlinkSync('/run/current-system/etc/systemd/system', path.join(h.dir, 'etc-systemd', 'system'));
      fs.writeFileSync(path.join(h.dir, 'run', 'lab-host'), `${h.spec.name}\n`);
      const dotSsh = path.join(h.dir, 'root', '.ssh');
      fs.mkdirSync(dotSsh, { mode: 0o700 });
      write(path.join(dotSsh, 'authorized_keys'), clientPub, 0o600);
      write(path.join(dotSsh, 'id_ed25519'), clientPriv, 0o600);
      write(path.join(dotSsh, 'id_ed25519.pub'), clientPub, 0o644);
      write(path.join(dotSsh, 'known_hosts'), knownHosts, 0o644);
      write(path.join(dotSsh, 'config'), sshCfg('/root/.ssh/id_ed25519', '/root/.ssh/known_hosts'), 0o600);
      for (const [content, dst, mode] of standins) write(path.join(h.dir, 'usr-local-sbin', dst), content, mode);
      write(
        path.join(h.sshdDir, 'sshd_config'),
        [
          `# migen lab ${this.id} host ${h.spec.name}`,
          'Port 22',
          'AddressFamily inet',
          `ListenAddress ${h.spec.address}:22`,
          `HostKey ${path.join(h.sshdDir, 'ssh_host_ed25519_key')}`,
          'PidFile /run/sshd.pid',
          'PermitRootLogin prohibit-password',
          'PubkeyAuthentication yes',
          'AuthenticationMethods publickey',
          'PasswordAuthentication no',
          'KbdInteractiveAuthentication no',
          'UsePAM no',
          'AuthorizedKeysFile .ssh/authorized_keys',
          'StrictModes yes',
          '# AcceptEnv: none (no AcceptEnv line, so no client environment is accepted)',
          `SetEnv PATH=${HOST_PATH} MIGEN_LAB=${this.id} LAB_HOST=${h.spec.name} LANG=C.UTF-8${Object.entries(this.opts.hostEnv?.[h.spec.name] ?? {}).map(([k, v]) => ` ${k}=${v}`).join('')}`,
          'UseDNS no',
          'PrintMotd no',
          'PrintLastLog no',
          'X11Forwarding no',
          'MaxStartups 200',
          'MaxSessions 100',
          'LogLevel INFO',
          'Subsystem sftp internal-sftp',
          '',
        ].join('\n'),
        0o600,
      );
    }

    await this.network();
    await Promise.all([...this.byName.values()].map((h) => this.startHost(h)));
  }

  private async network(): Promise<void> {
    const p = this.prefixLen;
    const root = [`netns add ${this.opNs}`, `netns add ${this.laptopNs}`, `link add ${this.id}vl netns ${this.opNs} type veth peer name eth0 netns ${this.laptopNs}`];
    const op = [
      'link set lo up',
      `link add ${this.bridge} type bridge stp_state 0 forward_delay 0`,
      `addr add ${this.operatorAddress}/${p} dev ${this.bridge}`,
      `link set ${this.bridge} up`,
      `link set ${this.id}vl master ${this.bridge}`, `link set ${this.id}vl up`,
    ];
    for (const h of this.byName.values()) {
      const veth = `${this.id}v${h.index}`;
      root.push(`netns add ${h.ns}`);
      root.push(`link add ${veth} netns ${this.opNs} type veth peer name eth0 netns ${h.ns}`);
      op.push(`link set ${veth} master ${this.bridge}`, `link set ${veth} up`);
    }
    await must('ip', ['-batch', '-'], { input: root.join('\n') + '\n' });
    await must('ip', ['-n', this.opNs, '-batch', '-'], { input: op.join('\n') + '\n' });
    await must('ip', ['-n', this.laptopNs, '-batch', '-'], { input: ['link set lo up', `addr add ${this.laptopAddress}/${p} dev eth0`, 'link set eth0 up', ''].join('\n') });
    await Promise.all(
      [...this.byName.values()].map((h) =>
        must('ip', ['-n', h.ns, '-batch', '-'], {
          input: ['link set lo up', `addr add ${h.spec.address}/${p} dev eth0`, 'link set eth0 up', ''].join('\n'),
        }),
      ),
    );
  }

  private async startHost(h: HostState): Promise<void> {
    const disk = this.opts.diskMiB?.[h.spec.name];
    const lines = ['set -e', `hostname ${h.spec.name}`];
    for (const [sub, target] of HOST_MOUNTS) {
      if (target === '/var/lib' && disk !== undefined) {
        lines.push(`mount -t tmpfs -o size=${Math.max(1, Math.floor(disk))}m,mode=0755 ${this.id}-${h.spec.name}-varlib /var/lib`);
      } else {
        lines.push(`mount --bind ${sq(path.join(h.dir, sub))} ${target}`);
      }
    }
    // The lab CA is in the host's system trust store, as a real host trusts its certificates'
    // issuer (NixOS: security.pki.certificateFiles end up in /etc/ssl/certs/ca-certificates.crt):
    // curl on the host, in an ssh session or a systemd unit, verifies the lab's vhosts.
    const SYSTEM_BUNDLE = '/etc/ssl/certs/ca-certificates.crt';
    if (fs.existsSync(SYSTEM_BUNDLE)) {
      fs.writeFileSync(path.join(h.dir, 'ca-certificates.crt'), `${fs.readFileSync(SYSTEM_BUNDLE, 'utf8')}\n${fs.readFileSync(this.caFile, 'utf8')}`);
      lines.push(`mount --bind ${sq(path.join(h.dir, 'ca-certificates.crt'))} ${SYSTEM_BUNDLE}`);
    }
    // hide every host's directories (including this one's) from the host's processes
    lines.push(`mount -t tmpfs -o size=64k,mode=0700 ${this.id}-hidden ${sq(path.join(this.dir, 'hosts'))}`);
    lines.push(`exec /usr/sbin/sshd -D -f ${sq(path.join(h.sshdDir, 'sshd_config'))} -E /var/log/sshd.log`);
    const log = fs.openSync(path.join(this.dir, `host-${h.spec.name}.log`), 'a');
    const child = spawn(
      'nsenter',
      [`--net=/run/netns/${h.ns}`, '--', 'unshare', '--mount', '--propagation', 'private', '--uts', '--pid', '--fork', '--mount-proc', '--kill-child', '--', '/bin/sh', '-c', lines.join('\n')],
      {
        env: { PATH: HOST_PATH, MIGEN_LAB: this.id, LAB_HOST: h.spec.name, LANG: 'C.UTF-8', HOME: '/root' },
        stdio: ['ignore', log, log],
        detached: true,
        cwd: '/',
      },
    );
    fs.closeSync(log);
    child.unref();
    h.child = child;
    h.unsharePid = child.pid;
    let exited: string | undefined;
    child.on('exit', (code, sig) => (exited = `exited ${code ?? sig}`));
    const pidfile = path.join(h.dir, 'run', 'sshd.pid');
    const deadline = Date.now() + 15000;
    for (;;) {
      if (!h.initPid && h.unsharePid) {
        try {
          const kids = fs.readFileSync(`/proc/${h.unsharePid}/task/${h.unsharePid}/children`, 'utf8').trim();
          if (kids) h.initPid = Number(kids.split(/\s+/)[0]);
        } catch { /* not yet */ }
      }
      if (h.initPid && fs.existsSync(pidfile)) return;
      if (exited || Date.now() > deadline) {
        let why = '';
        try { why = fs.readFileSync(path.join(this.dir, `host-${h.spec.name}.log`), 'utf8'); } catch { /* none */ }
        try { why += fs.readFileSync(path.join(h.dir, 'var-log', 'sshd.log'), 'utf8'); } catch { /* none */ }
        throw new Error(`lab ${this.id}: host ${h.spec.name} did not start (${exited ?? 'timeout'}): ${why.trim()}`);
      }
      await sleep(10);
    }
  }

  // ---------------------------------------------------------------- operator

  operatorSpawn(cmd: string[], opts: SpawnOpts = {}): ChildProcess {
    if (this.torn) throw new Error(`lab ${this.id} is torn down`);
    return spawn('nsenter', [`--net=/run/netns/${this.opNs}`, '--', ...cmd], {
      env: { ...this.operatorEnv, ...opts.env },
      cwd: opts.cwd,
      stdio: opts.stdio ?? ['pipe', 'pipe', 'pipe'],
    });
  }

  laptopSpawn(cmd: string[], opts: SpawnOpts = {}): ChildProcess {
    if (this.torn) throw new Error(`lab ${this.id} is torn down`);
    return spawn('nsenter', [`--net=/run/netns/${this.laptopNs}`, '--', ...cmd], {
      env: { ...this.operatorEnv, ...opts.env },
      cwd: opts.cwd,
      stdio: opts.stdio ?? ['pipe', 'pipe', 'pipe'],
    });
  }

  async setLaptopLink(up: boolean): Promise<void> {
    await must('ip', ['-n', this.opNs, 'link', 'set', `${this.id}vl`, up ? 'up' : 'down']);
  }

  operator(cmd: string[], opts: RunOptions = {}): Promise<ExecResult> {
    if (this.torn) return Promise.reject(new Error(`lab ${this.id} is torn down`));
    return run('nsenter', [`--net=/run/netns/${this.opNs}`, '--', ...cmd], { ...opts, env: { ...this.operatorEnv, ...opts.env } });
  }

  // ---------------------------------------------------------------- hosts

  exec(host: string, script: string, opts: RunOptions = {}): Promise<ExecResult> {
    const h = this.host(host);
    const pid = this.hostPid(host);
    return run('nsenter', ['-t', String(pid), '-m', '-n', '-p', '-u', '--', '/bin/bash', '-c', `cd /root || exit 1\n${script}`], {
      ...opts,
      cwd: '/',
      env: { PATH: HOST_PATH, HOME: '/root', USER: 'root', LOGNAME: 'root', LANG: 'C.UTF-8', MIGEN_LAB: this.id, LAB_HOST: h.spec.name, ...this.opts.hostEnv?.[host], ...opts.env },
    });
  }

  async defineUnit(host: string, unit: string, spec: UnitSpec, opts: DefineUnitOptions = {}): Promise<void> {
    const h = this.host(host);
    const name = unit.replace(/\.service$/, '');
    if (!/^[A-Za-z0-9@._:-]+$/.test(name) || name.startsWith('.')) throw new Error(`lab: bad unit name ${unit}`);
    if (!spec.exec.length) throw new Error(`lab: unit ${unit} has no exec`);
    for (const k of Object.keys(spec.env ?? {})) if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(k)) throw new Error(`lab: bad env name ${k}`);
    const d = path.join(this.hostFile(host, opts.unitsDir ?? '/nix/var/nix/profiles/.lab-units'), name);
    fs.mkdirSync(d, { recursive: true });
    if (!opts.unitsDir) h.units.set(name, { ...spec });
    const envs = [
      `PATH=${HOST_PATH}`,
      'LANG=C.UTF-8',
      `MIGEN_LAB=${this.id}`,
      `LAB_HOST=${h.spec.name}`,
      `LAB_UNIT=${name}`,
      ...Object.entries(spec.env ?? {}).map(([k, v]) => `${k}=${v}`),
    ];
    const user = spec.user && spec.user !== 'root' ? spec.user : undefined;
    const script = [
      '#!/bin/bash',
      `# migen lab unit ${name} on ${h.spec.name} (started by the systemctl stand-in)`,
      `s=$(</proc/$$/stat); s=\${s##*) }; read -ra f <<<"$s"`,
      `mkdir -p /run/lab-units/${name} && echo "$$ \${f[19]}" >/run/lab-units/${name}/pid.tmp && mv -f /run/lab-units/${name}/pid.tmp /run/lab-units/${name}/pid`,
      '# close inherited descriptors (locks, pipes) beyond stdio, as systemd would',
      'for fd in /proc/$$/fd/*; do fd=${fd##*/}; case $fd in 0|1|2|255) ;; *) eval "exec $fd>&-" ;; esac; done',
      'cd /',
      user
        ? `home=$(getent passwd ${sq(user)} | cut -d: -f6); exec env -i HOME="\${home:-/}" USER=${sq(user)} LOGNAME=${sq(user)} ${envs.map(sq).join(' ')} setpriv --reuid=${sq(user)} --regid="$(id -g ${sq(user)})" --init-groups -- ${spec.exec.map(sq).join(' ')}`
        : `exec env -i HOME=/root USER=root LOGNAME=root ${envs.map(sq).join(' ')} ${spec.exec.map(sq).join(' ')}`,
      '',
    ].join('\n');
    write(path.join(d, 'run'), script, 0o755);
    const files = ['ready.tcp', 'ready.http', 'ready.cmd', 'ready.timeout', 'kill.signal', 'kill.mode', 'stop.timeout', 'reload', 'runtime.dirs', 'user', 'restart', 'restart.sec', 'startlimit.burst'];
    for (const f of files) fs.rmSync(path.join(d, f), { force: true });
    if (user) write(path.join(d, 'user'), `${user}\n`);
    if (spec.reload?.length) write(path.join(d, 'reload'), spec.reload.map((l) => `${l.replace(/\n/g, ' ')}\n`).join(''));
    for (const r of spec.runtimeDirectory ?? []) if (!/^[A-Za-z0-9._-]+(\/[A-Za-z0-9._-]+)*$/.test(r) || r.includes('..')) throw new Error(`lab: bad runtimeDirectory ${r}`);
    if (spec.runtimeDirectory?.length) write(path.join(d, 'runtime.dirs'), spec.runtimeDirectory.map((r) => `${r}\n`).join(''));
    if (spec.restart) write(path.join(d, 'restart'), `${spec.restart}\n`);
    if (spec.restartSec !== undefined) write(path.join(d, 'restart.sec'), `${Number(spec.restartSec)}\n`);
    if (spec.startLimitBurst !== undefined) write(path.join(d, 'startlimit.burst'), `${Math.floor(spec.startLimitBurst)}\n`);
    if (spec.killSignal !== undefined) {
      if (!/^(SIG)?[A-Z0-9+]+$/.test(spec.killSignal)) throw new Error(`lab: bad killSignal ${spec.killSignal}`);
      write(path.join(d, 'kill.signal'), `${spec.killSignal.replace(/^SIG/, '')}\n`);
    }
    if (spec.killMode !== undefined) write(path.join(d, 'kill.mode'), `${spec.killMode}\n`);
    if (spec.stopTimeoutSec !== undefined) write(path.join(d, 'stop.timeout'), `${Math.ceil(spec.stopTimeoutSec)}\n`);
    if (spec.ready?.tcp !== undefined) write(path.join(d, 'ready.tcp'), `${Number(spec.ready.tcp)}\n`);
    if (spec.ready?.http !== undefined) write(path.join(d, 'ready.http'), `${spec.ready.http}\n`);
    if (spec.ready?.cmd !== undefined) write(path.join(d, 'ready.cmd'), `${spec.ready.cmd}\n`);
    if (spec.ready?.timeoutSec !== undefined) write(path.join(d, 'ready.timeout'), `${Math.ceil(spec.ready.timeoutSec)}\n`);
  }

  async setLink(host: string, up: boolean): Promise<void> {
    const h = this.host(host);
    await must('ip', ['-n', this.opNs, 'link', 'set', `${this.id}v${h.index}`, up ? 'up' : 'down']);
  }

  async system(host: string, spec: SystemSpec): Promise<void> {
    const h = this.host(host);
    const boot = spec.boot === undefined ? spec.active : spec.boot;
    const withNginx = Object.values(spec.profiles).some((p) => p.nginx);
    if (withNginx) {
      await this.issueCert(h, serverNames(spec));
      await this.defineUnit(host, 'nginx', NGINX_UNIT);
    }
    writeProfiles(path.join(h.dir, 'nix-profiles'), spec, h.units, '/usr/local/sbin/.lab/switch-to-configuration', path.join(h.sshdDir, 'sshd_config'));
    h.system = structuredClone(spec);
    const record = path.join(h.dir, 'nix-profiles', path.basename(BOOT_RECORD));
    if (spec.active != null) {
      const stc = `${topOf(spec.active)}/bin/switch-to-configuration`;
      const action = boot === spec.active ? 'switch' : 'test';
      const settle = spec.settle ?? !!spec.profiles[spec.active]!.nginx;
      const r = await this.exec(host, settle ? activateAndSettle(stc, action) : `${sq(stc)} ${action}`);
      if (r.code !== 0) throw new Error(`lab: ${host}: switch-to-configuration ${action} of profile ${spec.active} failed (${r.code}): ${r.stderr}${r.stdout}`);
    }
    if (boot !== spec.active) {
      if (boot == null) fs.rmSync(record, { force: true });
      else fs.writeFileSync(record, `${topOf(boot)}\n`);
    }
  }

  async nginx(host: string, profiles: Record<string, NginxVhost[]>, active: string): Promise<void> {
    const old = this.host(host).system?.profiles ?? {};
    const merged: SystemSpec['profiles'] = {};
    for (const [name, p] of Object.entries(old)) merged[name] = { ...p };
    for (const [name, vhosts] of Object.entries(profiles)) merged[name] = { ...merged[name], nginx: { vhosts } };
    await this.system(host, { profiles: merged, active });
  }

  async reboot(host: string): Promise<void> {
    const r = await this.exec(host, '/usr/local/sbin/.lab/lab-reboot', { timeoutMs: 240_000 });
    if (r.code !== 0) throw new Error(`lab: reboot of ${host} failed (${r.code}): ${r.stderr}${r.stdout}`);
  }

  async killUnit(host: string, unit: string, opts: { signal?: string; forGood?: boolean } = {}): Promise<void> {
    const u = unit.replace(/\.service$/, '');
    if (!/^[A-Za-z0-9@._:-]+$/.test(u)) throw new Error(`lab: bad unit name ${unit}`);
    const sig = (opts.signal ?? 'KILL').replace(/^SIG/, '');
    if (!/^[A-Z0-9+]+$/.test(sig)) throw new Error(`lab: bad signal ${opts.signal}`);
    const script = opts.forGood
      ? [
          'source /usr/local/sbin/.lab/lab-systemd.sh',
          `u=${sq(u)}; d=$LAB_STATE/$u`,
          'pg=$(unit_pgid "$u") || { echo "$u has no process" >&2; exit 1; }',
          ': >"$d/stopping"; kill_group KILL "$pg"',
          'for i in $(seq 1 200); do main_pid "$u" >/dev/null || super_pid "$u" >/dev/null || break; sleep 0.01; done',
          'rm -f "$d/pid" "$d/auto-restart"; echo signal >"$d/result"; echo 9 >"$d/status"; echo killed >"$d/status.code"',
          'echo "-- lab: $u killed for good (its process group, supervisor included)" >>"$LAB_LOGS/$u.log"',
        ].join('\n')
      : `systemctl kill --kill-whom=main --signal=${sig} ${sq(u)}`;
    const r = await this.exec(host, script);
    if (r.code !== 0) throw new Error(`lab: killUnit ${host} ${unit} failed (${r.code}): ${r.stderr}${r.stdout}`);
  }

  /** a certificate for `names` (and localhost) issued by the lab CA, as /etc/nginx/lab-tls/{cert,key}.pem on the host */
  private async issueCert(h: HostState, names: string[]): Promise<void> {
    const dir = path.join(h.dir, 'etc-nginx', 'lab-tls');
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    const key = path.join(dir, 'key.pem');
    const csr = path.join(dir, 'req.csr');
    const ext = path.join(dir, 'ext.cnf');
    const san = [...names, 'localhost'].map((n) => `DNS:${n}`).join(',');
    write(ext, `subjectAltName=${san}\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n`);
    await must('openssl', ['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', `/CN=${h.spec.name}`, '-keyout', key, '-out', csr]);
    await must('openssl', ['x509', '-req', '-in', csr, '-CA', this.caFile, '-CAkey', path.join(this.dir, 'operator', 'ca.key'), '-CAcreateserial', '-days', '2', '-extfile', ext, '-out', path.join(dir, 'cert.pem')]);
    fs.chmodSync(key, 0o600);
  }

  // ---------------------------------------------------------------- teardown

  async teardown(): Promise<void> {
    this.teardownSync();
  }

  teardownSync(): void {
    if (this.torn && !fs.existsSync(this.dir)) return;
    this.torn = true;
    const nss = [this.opNs, this.laptopNs, ...[...this.byName.values()].map((h) => h.ns)];
    const existing = new Set(listNetns());
    for (let round = 0; round < 5; round++) {
      const pids = new Set<number>();
      for (const ns of nss) if (existing.has(ns)) for (const p of netnsPids(ns)) pids.add(p);
      for (const h of this.byName.values()) {
        if (h.unsharePid) pids.add(h.unsharePid);
        if (h.initPid) pids.add(h.initPid);
      }
      for (const p of processesMatching(this.id)) pids.add(p.pid);
      pids.delete(process.pid);
      const alive = [...pids].filter(isAlive);
      if (alive.length === 0) break;
      for (const p of alive) {
        try { process.kill(p, 'SIGKILL'); } catch { /* gone */ }
      }
      const until = Date.now() + 2000;
      while (Date.now() < until && alive.some(isAlive)) sleepSync(10);
      for (const h of this.byName.values()) { h.unsharePid = undefined; h.initPid = undefined; }
    }
    const del = nss.filter((ns) => existing.has(ns)).map((ns) => `netns del ${ns}`);
    if (del.length) spawnSync('ip', ['-force', '-batch', '-'], { input: del.join('\n') + '\n', stdio: ['pipe', 'ignore', 'ignore'] });
    for (const m of mountsMatching(this.dir).reverse()) spawnSync('umount', ['-l', m], { stdio: 'ignore' });
    try {
      fs.rmSync(this.dir, { recursive: true, force: true, maxRetries: 3 });
    } catch { /* reported by findLeftovers */ }
    live.delete(this);
  }
}

// ---------------------------------------------------------------- activation

/**
 * A bash script that runs `stc ACTION` (a profile's switch-to-configuration) on a lab host and
 * returns once nginx answers new connections only with that profile: no worker of the previous
 * configuration still accepting (gone, or "worker process is shutting down"), and the generation
 * endpoint answering the profile's token. The lab's setup and tests use it; runbooks wait the same
 * way (src/generator/plan/proxy.ts, activateProxy). It ends with `exit`: run it as a script of its
 * own, or in a subshell.
 */
export function activateAndSettle(stc: string, action: 'switch' | 'test' = 'test'): string {
  const top = stc.replace(/\/bin\/switch-to-configuration$/, '');
  return [
    "before=$(pgrep -d ' ' -f '^nginx: worker process *$' || true)",
    `${sq(stc)} ${action} || exit $?`,
    `want=$(<${sq(`${top}/etc/nginx/generation`)})`,
    'for i in $(seq 1 400); do',
    "  now=\" $(pgrep -d ' ' -f '^nginx: worker process *$' || true) \"",
    '  stale=0; for p in $before; do case $now in *" $p "*) stale=1 ;; esac; done',
    "  got=$(curl -s --noproxy '*' --max-time 1 -H 'Host: lab-generation.invalid' http://127.0.0.1/.lab/generation || true)",
    '  if [ "$stale" = 0 ] && [ "$got" = "$want" ]; then exit 0; fi',
    '  sleep 0.025',
    'done',
    'echo "nginx did not settle on generation $want within 10 s" >&2; exit 1',
  ].join('\n');
}

// ---------------------------------------------------------------- process / ns scanning (shared with leftovers.ts)

export function listNetns(): string[] {
  const r = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' });
  return (r.stdout ?? '')
    .split('\n')
    .map((l) => l.trim().split(/\s+/)[0] ?? '')
    .filter(Boolean);
}

export function netnsPids(ns: string): number[] {
  const r = spawnSync('ip', ['netns', 'pids', ns], { encoding: 'utf8' });
  return (r.stdout ?? '').split(/\s+/).filter(Boolean).map(Number).filter((n) => n > 0);
}

export function isAlive(pid: number): boolean {
  try {
    const st = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    if (!st.includes(')')) return false; // read while it was reaped: gone
    const state = st.slice(st.lastIndexOf(')') + 2, st.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

/** live processes whose command line or environment mentions `needle` (not this process) */
export function processesMatching(needle: string): { pid: number; cmd: string }[] {
  const out: { pid: number; cmd: string }[] = [];
  for (const e of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    const pid = Number(e);
    if (pid === process.pid || pid === process.ppid) continue;
    let cmd = '';
    let env = '';
    try { cmd = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ').trim(); } catch { continue; }
    try { env = fs.readFileSync(`/proc/${pid}/environ`, 'utf8'); } catch { /* gone or zombie */ }
    if ((cmd.includes(needle) || env.includes(`MIGEN_LAB=${needle}`)) && isAlive(pid)) out.push({ pid, cmd });
  }
  return out;
}

/** mount points (in this mount namespace) whose path or source mentions `needle` */
export function mountsMatching(needle: string): string[] {
  let info = '';
  try { info = fs.readFileSync('/proc/self/mountinfo', 'utf8'); } catch { return []; }
  const out: string[] = [];
  for (const line of info.split('\n')) {
    if (!line.includes(needle)) continue;
    const mp = line.split(' ')[4];
    if (mp) out.push(mp.replace(/\\040/g, ' '));
  }
  return out;
}

// ---------------------------------------------------------------- public entry points

export async function createLab(opts: LabOptions): Promise<Lab> {
  installHooks();
  const lab = new LabImpl(opts);
  live.add(lab);
  // the suite's leftover check (leftovers.global.ts) looks at every lab of this run
  if (process.env.MIGEN_LAB_REGISTRY) fs.appendFileSync(process.env.MIGEN_LAB_REGISTRY, `${lab.id}\n`);
  try {
    await lab.start();
  } catch (e) {
    lab.teardownSync();
    throw e;
  }
  return lab;
}

/** vitest helper: creates the lab in beforeAll, tears it down in afterAll (also on failure). */
export function useLab(opts: LabOptions | (() => LabOptions), timeoutMs = 60_000): { readonly lab: Lab } {
  let lab: Lab | undefined;
  beforeAll(async () => {
    lab = await createLab(typeof opts === 'function' ? opts() : opts);
  }, timeoutMs);
  afterAll(async () => {
    await lab?.teardown();
  }, timeoutMs);
  return {
    get lab(): Lab {
      if (!lab) throw new Error('useLab: the lab exists only inside tests (after beforeAll)');
      return lab;
    },
  };
}

/** the lab's stateful service (python3 stdlib); run it as `/usr/bin/python3 APP_PY` in a unit */
export const APP_PY = path.join(HERE, 'service', 'app.py');
