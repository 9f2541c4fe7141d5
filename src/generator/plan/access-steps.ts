// The copy keys' life: made on the client and authorized on the server at prepare (after the
// server's deploy, which makes its sshd read the file), proved before anything stops, removed
// once the move is verified (and by a rollback).
import type { Step } from '../../runbook/steps.js';
import { RRSYNC, RSYNC, type CopyAccess } from './access.js';
import { mkdirs } from './rsync.js';
import { cmd } from './shell.js';
import { on, pipe, stepsOf } from './step.js';
import type { Ctx } from './types.js';

const prepareSteps = stepsOf('prepare');
const verifySteps = stepsOf('verify');

const dirOf = (file: string): string => file.slice(0, file.lastIndexOf('/'));
/** What the server holds for the keys: their authorized-keys file and the daemon configurations it names. */
const accessFiles = (a: CopyAccess): string[] => [a.file, ...a.keys.flatMap((k) => (k.config ? [k.config.file] : []))];

/** Closes the keys' master connections (they would outlive the removal of the lines by up to 120 s). */
const closeMasters = (a: CopyAccess): string[] => a.keys.map((k) => `${cmd`${k.ssh.split(' ')} -O exit ${`${a.user}@${a.address}`}`} 2>/dev/null || true`);

export function accessPrepare(c: Ctx): Step[] {
  const a = c.copyAccess;
  if (!a) return [];
  const { command, check } = prepareSteps;
  const removeKeys = [...closeMasters(a), cmd`rm -rf ${a.keyDir}`].join('\n');
  const unauthorize = cmd`rm -f ${accessFiles(a)}`;
  const makeKeys = [
    cmd`install -d -m 0700 ${a.keyDir}`,
    ...a.keys.map((k, i) => cmd`test -s ${k.key} || ssh-keygen -q -t ed25519 -N '' -C ${`migen-${c.name}-${i}@${a.client}`} -f ${k.key}`),
  ].join('\n');
  // One line per key, in the order of the keys: the forced command names that key's directory.
  // Only the key itself comes from the client, and only in the form ssh-keygen writes it.
  // A pulled key's daemon configuration first (root's, 0644 in a root-owned directory), then the lines that name it.
  const configs = a.keys.flatMap((k) => (k.config ? [cmd`printf '%s' ${k.config.text} > ${`${k.config.file}.tmp`} && mv -f ${`${k.config.file}.tmp`} ${k.config.file}`] : []));
  const authorize = [
    ...(a.mode === 'wo' ? [mkdirs(a.keys.map((k) => k.remote))] : []),
    cmd`install -d -m 0755 ${dirOf(a.file)}`,
    ...configs,
    cmd`: > ${`${a.file}.tmp`}`,
    ...a.keys.map((k, i) => [
      `read -r type key _ || { echo 'copy key ${i} missing' >&2; exit 1; }`,
      `[ "$type" = ssh-ed25519 ] && [[ $key =~ ^[A-Za-z0-9+/]+=*$ ]] || { echo 'copy key ${i} is not an ed25519 public key' >&2; exit 1; }`,
      `printf '%s %s %s %s\\n' ${cmd`${`restrict,command="${k.command}"`}`} "$type" "$key" ${cmd`${`migen-${c.name}-${i}`}`} >> ${cmd`${`${a.file}.tmp`}`}`,
    ].join('\n')),
    cmd`chmod 0600 ${`${a.file}.tmp`} && mv -f ${`${a.file}.tmp`} ${a.file}`,
  ].join('\n');
  const via = a.mode === 'ro' ? `rsync's daemon (${RSYNC})` : `rrsync (${RRSYNC})`;
  const proofs = a.keys.map((k, i) => {
    const far = `${a.user}@${a.address}`;
    const reads = a.mode === 'ro'
      ? cmd`rsync --list-only -e ${k.ssh} ${k.far} >/dev/null`
      : cmd`rsync -n -a -e ${k.ssh} ${`${k.local}/`} ${k.far} >/dev/null`;
    return [
      `${reads} || { echo ${cmd`${`copy key ${i} cannot ${a.mode === 'ro' ? 'read' : 'write'} ${k.remote} on ${a.server} through ${via}`}`} >&2; exit 1; }`,
      // The forced command runs nothing else: a key that opens a shell means it is not in effect.
      `if [ "$(${cmd`${k.ssh.split(' ')} ${far} echo migen-shell`} </dev/null 2>/dev/null)" = migen-shell ]; then echo ${cmd`${`copy key ${i} opens a shell on ${a.server}`}`} >&2; exit 1; fi`,
    ].join('\n');
  });
  return [
    command('copy-keys', `${a.client} makes ${c.name}'s copy keys (one per state directory), used by nothing else`, on(a.client, makeKeys),
      { undo: on(a.client, removeKeys), undoLeftover: `${a.keyDir} on ${a.client}, keys ${a.server} no longer accepts (the undo of copy-access came first); the next run reuses them, or remove them with rm -rf ${a.keyDir}` }),
    command('copy-access', `${a.server} accepts them only for ${a.mode === 'ro' ? "rsync's daemon, a read-only module" : 'rrsync -wo (write-only)'} of their state directory (restrict: no shell, pty or forwarding)`,
      pipe(on(a.client, cmd`cat ${a.keys.map((k) => `${k.key}.pub`)}`), on(a.server, authorize)),
      { undo: on(a.server, unauthorize) }),
    check('copy-access-works', `${a.client} reaches ${a.server} with the copy keys, for rsync only`, on(a.client, ['mkdir -p -m 0700 ~/.ssh', ...proofs].join('\n')),
      `${a.client} cannot copy ${a.mode === 'ro' ? 'from' : 'to'} ${a.server} with its migration keys, or they open a shell: ${a.server} must be deployed with the generated module (its sshd reads ${a.authorizedKeysFiles}; ${via})`),
  ];
}

/** After the verification: the server no longer accepts the keys, the client no longer has them. */
export function accessRemove(c: Ctx): Step[] {
  const a = c.copyAccess;
  if (!a) return [];
  const { command } = verifySteps;
  return [
    command('copy-access-closed', `${a.server} no longer accepts ${c.name}'s copy keys`, on(a.server, cmd`rm -f ${accessFiles(a)}`)),
    command('copy-keys-removed', `${a.client} removes ${c.name}'s copy keys`, on(a.client, [...closeMasters(a), cmd`rm -rf ${a.keyDir}`].join('\n'))),
  ];
}
