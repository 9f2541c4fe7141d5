/**
 * migen lab: checks on a host's state, used by the e2e tests. All run on the host itself
 * (lab.exec: inside its mount namespace), so they see that host's /var/lib only.
 */
import type { Lab } from './lab.js';
import { sq } from './lab.js';

async function onHost(lab: Lab, host: string, script: string): Promise<string> {
  const r = await lab.exec(host, script);
  if (r.code !== 0) throw new Error(`lab check on ${host} failed (${r.code}): ${r.stderr.trim() || r.stdout.trim()}`);
  return r.stdout;
}

/** `PRAGMA integrity_check` of the database: 'ok', or the error text (also when unreadable). */
export async function sqliteIntegrity(lab: Lab, host: string, dbPath: string): Promise<string> {
  const r = await lab.exec(host, `test -f ${sq(dbPath)} || { echo "no such file: ${dbPath.replace(/["$`\\]/g, '')}"; exit 0; }\nsqlite3 -bail ${sq(dbPath)} 'PRAGMA integrity_check;' 2>&1`);
  const out = (r.stdout + r.stderr).trim();
  return out === 'ok' ? 'ok' : out || `sqlite3 exited ${r.code}`;
}

/**
 * The database's content as SQL (`sqlite3 .dump`, read-only: the file, its -wal and -shm are left
 * as they are). Two copies of one database can differ byte for byte and hold the same rows: one
 * has its committed pages still in the -wal, the other has checkpointed them into the main file
 * (SQLite does at the close of the last connection, as the service's start does on the new host).
 */
export async function sqliteDump(lab: Lab, host: string, dbPath: string): Promise<string> {
  return onHost(lab, host, `sqlite3 -bail -readonly ${sq(dbPath)} .dump`);
}

/** ids of a table (default items), ascending. Throws when the query fails. */
export async function rowIds(lab: Lab, host: string, dbPath: string, table = 'items'): Promise<number[]> {
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(table)) throw new Error(`bad table ${table}`);
  const out = await onHost(lab, host, `sqlite3 -bail ${sq(dbPath)} 'SELECT id FROM ${table} ORDER BY id;'`);
  return out.split('\n').filter(Boolean).map(Number);
}

/** number of rows of a table */
export async function rowCount(lab: Lab, host: string, dbPath: string, table = 'items'): Promise<number> {
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(table)) throw new Error(`bad table ${table}`);
  return Number((await onHost(lab, host, `sqlite3 -bail ${sq(dbPath)} 'SELECT count(*) FROM ${table};'`)).trim());
}

const DIGEST_PY = String.raw`
import hashlib, json, os, stat, sys
root = sys.argv[1]
out = {}
if not os.path.isdir(root):
    print(json.dumps(None)); sys.exit(0)
for dp, dns, fns in os.walk(root):
    dns.sort()
    for n in sorted(fns) + [d for d in dns if os.path.islink(os.path.join(dp, d))]:
        p = os.path.join(dp, n); rel = os.path.relpath(p, root)
        st = os.lstat(p)
        if stat.S_ISLNK(st.st_mode): out[rel] = 'symlink:' + os.readlink(p)
        elif stat.S_ISREG(st.st_mode):
            h = hashlib.sha256()
            with open(p, 'rb') as f:
                for b in iter(lambda: f.read(1 << 20), b''): h.update(b)
            out[rel] = h.hexdigest()
        else: out[rel] = 'special:%o' % stat.S_IFMT(st.st_mode)
print(json.dumps(out, sort_keys=True))
`;

/**
 * sha256 of every regular file under `dir`, by path relative to `dir` (symlinks as
 * 'symlink:<target>'). Empty directories are not listed. Throws if `dir` does not exist.
 * Options: `exclude` drops relative paths matching the RegExp (e.g. /-shm$/).
 */
export async function treeDigest(lab: Lab, host: string, dir: string, opts: { exclude?: RegExp } = {}): Promise<Record<string, string>> {
  const out = await onHost(lab, host, `/usr/bin/python3 - ${sq(dir)} <<'MIGEN_LAB_PY'\n${DIGEST_PY}\nMIGEN_LAB_PY`);
  const parsed = JSON.parse(out) as Record<string, string> | null;
  if (parsed === null) throw new Error(`treeDigest: ${host}:${dir} is not a directory`);
  if (!opts.exclude) return parsed;
  return Object.fromEntries(Object.entries(parsed).filter(([k]) => !opts.exclude!.test(k)));
}
