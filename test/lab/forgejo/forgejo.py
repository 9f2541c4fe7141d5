#!/usr/bin/env python3
"""migen lab: STAND-IN for Forgejo (nixpkgs services.forgejo, `forgejo web`), run by the container's
`forgejo` unit as the forgejo user. Real Forgejo is not packaged for Debian; this keeps what a
migration depends on:
- state in FORGEJO_WORK_DIR (/var/lib/forgejo in the container): bare repositories under
  repositories/<owner>/<repo>.git, served by git's own smart HTTP (`git http-backend` as CGI, one
  process per request, Debian's git); push needs HTTP basic auth of the owner (401 otherwise) and
  then runs with REMOTE_USER set, which is what enables receive-pack in http-backend;
- the database (PostgreSQL over the unix socket PGHOST, database forgejo, peer auth as forgejo):
  users, repository, push_events. At start, as the unit's preStart does (`forgejo migrate`,
  `forgejo admin regenerate hooks`): the tables are created if missing (a missing database fails
  the start) and every repository's hooks are rewritten;
- hooks: pre-receive refuses a push when the repository is not in the database (Forgejo asks its
  API); post-receive records every updated ref as a push_events row (repo, ref, old and new commit
  id, pusher, host, time) in one transaction, and prints `migen-lab: push-event ID REF OLD NEW` once
  it has committed. receive-pack runs post-receive after updating the refs and sending the status
  report, and before the final sideband flush that ends the response (git builtin/receive-pack.c,
  cmd_receive_pack: execute_commands, report, run_receive_hook("post-receive"), packet_flush); its
  output reaches the client as "remote: ...", and git push waits for that flush. So a client that
  saw the line knows the row is committed; post-receive's exit status does not fail a push, hence
  the line. forgejo.service has the default KillMode=control-group: a stop also ends a running
  hook (the ref has moved, no row, the client gets an error).
- GET / (200, names the lab host), GET /api/healthz (Forgejo's health JSON; 503 when the database
  does not answer), POST /api/v1/user/repos {"name": ...} (creates owner/name, 201).
- SIGTERM: stop accepting, finish the requests in flight (Forgejo's graceful shutdown), exit 0.
Not reproduced: the UI, SSH, LFS, actions, sessions, Forgejo's own schema, ssh keys, secrets.
CLI: forgejo.py web | admin user create --username U --password P | hook pre-receive|post-receive
"""
import base64, hashlib, hmac, json, os, re, secrets, signal, socket, subprocess, sys, threading, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

WORK = os.environ.get('FORGEJO_WORK_DIR', '/var/lib/forgejo')
REPOS = os.path.join(WORK, 'repositories')
PGHOST = os.environ.get('PGHOST', '/run/postgresql')
DB = os.environ.get('FORGEJO_DB', 'forgejo')
HOST = os.environ.get('LAB_HOST') or socket.gethostname()
ROOT_URL = os.environ.get('ROOT_URL', 'http://localhost:3000/')
SELF = os.path.abspath(__file__)
NAME_RE = re.compile(r'^[a-z0-9][a-z0-9._-]{0,62}$')
GIT_RE = re.compile(r'^/([a-z0-9][a-z0-9._-]*)/([a-z0-9][a-z0-9._-]*?)(?:\.git)?(/(?:info/refs|HEAD|git-upload-pack|git-receive-pack|objects/[0-9a-zA-Z/._-]+))$')

MIGRATE = """
CREATE TABLE IF NOT EXISTS users (id serial PRIMARY KEY, name text UNIQUE NOT NULL, salt text NOT NULL,
  passwd text NOT NULL, created_at timestamptz NOT NULL DEFAULT now());
CREATE TABLE IF NOT EXISTS repository (id serial PRIMARY KEY, owner text NOT NULL, name text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(), UNIQUE (owner, name));
CREATE TABLE IF NOT EXISTS push_events (id bigserial PRIMARY KEY, repo text NOT NULL, ref text NOT NULL,
  old_id text NOT NULL, new_id text NOT NULL, pusher text, host text NOT NULL,
  at timestamptz NOT NULL DEFAULT now());
"""


def psql(sql, variables=None):
    args = ['psql', '-X', '-q', '-At', '-v', 'ON_ERROR_STOP=1', '-h', PGHOST, '-d', DB]
    for k, v in (variables or {}).items():
        args += ['-v', f'{k}={v}']
    r = subprocess.run(args, input=sql, capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(r.stderr.strip() or f'psql exited {r.returncode}')
    return r.stdout


def pw_hash(salt, password):
    return hashlib.pbkdf2_hmac('sha256', password.encode(), salt.encode(), 1000).hex()


def check_user(name, password):
    row = psql("SELECT salt || ' ' || passwd FROM users WHERE name = :'u';", {'u': name}).strip()
    if not row:
        return False
    salt, want = row.split(' ', 1)
    return hmac.compare_digest(pw_hash(salt, password), want)


HOOK = """#!/bin/sh
# Forgejo (migen lab stand-in): rewritten at every start, as `forgejo admin regenerate hooks` does
exec /usr/bin/python3 '{self}' hook {name}
"""


def write_hooks(repo_dir):
    for name in ('pre-receive', 'post-receive'):
        p = os.path.join(repo_dir, 'hooks', name)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p + '.tmp', 'w') as f:
            f.write(HOOK.format(self=SELF, name=name))
        os.chmod(p + '.tmp', 0o750)
        os.replace(p + '.tmp', p)


def all_repos():
    if not os.path.isdir(REPOS):
        return []
    return sorted(os.path.join(REPOS, o, r) for o in os.listdir(REPOS) if os.path.isdir(os.path.join(REPOS, o))
                  for r in os.listdir(os.path.join(REPOS, o)) if r.endswith('.git'))


def hook(name):
    rel = os.path.relpath(os.path.realpath(os.getcwd()), os.path.realpath(REPOS))
    owner, repo = rel[:-4].split('/', 1) if rel.endswith('.git') else (None, None)
    delay = os.path.join(WORK, 'custom', 'lab-hook-delay-ms')  # test knob: a slow post-receive
    if name == 'post-receive' and os.path.exists(delay):
        time.sleep(int(open(delay).read().strip() or 0) / 1000)
    try:
        if name == 'pre-receive':
            if psql("SELECT count(*) FROM repository WHERE owner = :'o' AND name = :'n';", {'o': owner, 'n': repo}).strip() != '1':
                print(f'migen-lab: repository {owner}/{repo} is not in the database', flush=True)
                return 1
            return 0
        lines = [l.split() for l in sys.stdin.read().splitlines() if l.strip()]
        v = {'repo': f'{owner}/{repo}', 'pusher': os.environ.get('REMOTE_USER', ''), 'host': HOST}
        sql = ['BEGIN;']
        for i, (old, new, ref) in enumerate(lines):
            v.update({f'old{i}': old, f'new{i}': new, f'ref{i}': ref})
            sql.append(f"INSERT INTO push_events (repo, ref, old_id, new_id, pusher, host) VALUES (:'repo', :'ref{i}', :'old{i}', :'new{i}', :'pusher', :'host') RETURNING id;")
        sql.append('COMMIT;')
        ids = psql('\n'.join(sql) + '\n', v).split()
        for event_id, (old, new, ref) in zip(ids, lines):
            print(f'migen-lab: push-event {event_id} {ref} {old} {new}', flush=True)
        return 0
    except Exception as e:  # noqa: BLE001 - the hook reports and fails
        print(f'migen-lab: {name} failed: {e}', flush=True)
        return 1


class Handler(BaseHTTPRequestHandler):
    server_version = 'Forgejo-lab'

    def log_message(self, fmt, *args):
        sys.stderr.write('%s %s\n' % (self.client_address[0], fmt % args))

    def do_GET(self):
        self.route('GET')

    def do_POST(self):
        self.route('POST')

    def reply(self, code, body, ctype='text/plain; charset=utf-8', headers=None):
        data = body.encode()
        self.send_response(code)
        self.send_header('Content-Type', ctype)
        self.send_header('Content-Length', str(len(data)))
        self.send_header('X-Lab-Host', HOST)
        for k, val in (headers or {}).items():
            self.send_header(k, val)
        self.end_headers()
        self.wfile.write(data)

    def body(self):
        if self.headers.get('Transfer-Encoding', '').lower() == 'chunked':
            out = b''
            while True:
                size = int(self.rfile.readline().split(b';')[0].strip(), 16)
                if size == 0:
                    while self.rfile.readline() not in (b'\r\n', b'\n', b''):
                        pass
                    return out
                out += self.rfile.read(size)
                self.rfile.readline()
        return self.rfile.read(int(self.headers.get('Content-Length') or 0))

    def user(self):
        auth = self.headers.get('Authorization', '')
        if not auth.startswith('Basic '):
            return None
        try:
            name, _, password = base64.b64decode(auth[6:]).decode().partition(':')
        except ValueError:
            return None
        return name if check_user(name, password) else None

    def route(self, method):
        path, _, query = self.path.partition('?')
        if method == 'GET' and path == '/':
            return self.reply(200, f'Forgejo (migen lab stand-in) on {HOST}\n', 'text/html; charset=utf-8')
        if method == 'GET' and path == '/api/healthz':
            try:
                psql('SELECT 1;')
                return self.reply(200, json.dumps({'status': 'pass', 'host': HOST, 'checks': {'database:ping': [{'status': 'pass'}]}}), 'application/health+json')
            except Exception as e:  # noqa: BLE001
                return self.reply(503, json.dumps({'status': 'fail', 'host': HOST, 'checks': {'database:ping': [{'status': 'fail', 'output': str(e)}]}}), 'application/health+json')
        if method == 'POST' and path == '/api/v1/user/repos':
            return self.create_repo()
        m = GIT_RE.match(path)
        if m:
            return self.git(method, m.group(1), m.group(2), m.group(3), query)
        return self.reply(404, 'Not found\n')

    def create_repo(self):
        user = self.user()
        if not user:
            return self.reply(401, 'Unauthorized\n', headers={'WWW-Authenticate': 'Basic realm="Forgejo"'})
        name = str(json.loads(self.body() or b'{}').get('name', ''))
        if not NAME_RE.match(name) or name.endswith('.git'):
            return self.reply(422, 'bad repository name\n')
        d = os.path.join(REPOS, user, name + '.git')
        if os.path.exists(d):
            return self.reply(409, 'repository exists\n')
        os.makedirs(os.path.dirname(d), exist_ok=True)
        subprocess.run(['git', 'init', '-q', '--bare', '--initial-branch=main', d], check=True)
        write_hooks(d)
        psql("INSERT INTO repository (owner, name) VALUES (:'o', :'n');", {'o': user, 'n': name})
        return self.reply(201, json.dumps({'full_name': f'{user}/{name}', 'clone_url': f'{ROOT_URL}{user}/{name}.git'}), 'application/json')

    def git(self, method, owner, repo, rest, query):
        d = os.path.join(REPOS, owner, repo + '.git')
        if not os.path.isdir(d):
            return self.reply(404, 'repository not found\n')
        push = rest == '/git-receive-pack' or (rest == '/info/refs' and 'service=git-receive-pack' in query.split('&'))
        user = None
        if push:
            user = self.user()
            if not user:
                return self.reply(401, 'Unauthorized\n', headers={'WWW-Authenticate': 'Basic realm="Forgejo"'})
            if user != owner:
                return self.reply(403, 'no write access\n')
        data = self.body() if method == 'POST' else b''
        env = dict(os.environ, GIT_PROJECT_ROOT=REPOS, GIT_HTTP_EXPORT_ALL='1', PATH_INFO=f'/{owner}/{repo}.git{rest}',
                   QUERY_STRING=query, REQUEST_METHOD=method, CONTENT_TYPE=self.headers.get('Content-Type', ''),
                   CONTENT_LENGTH=str(len(data)), REMOTE_ADDR=self.client_address[0], GATEWAY_INTERFACE='CGI/1.1',
                   SERVER_PROTOCOL='HTTP/1.1')
        for h, e in (('Content-Encoding', 'HTTP_CONTENT_ENCODING'), ('Git-Protocol', 'HTTP_GIT_PROTOCOL')):
            if self.headers.get(h):
                env[e] = self.headers[h]
        if user:
            env['REMOTE_USER'] = user
        p = subprocess.Popen(['git', 'http-backend'], stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env)
        feeder = threading.Thread(target=lambda: (p.stdin.write(data), p.stdin.close()), daemon=True)
        feeder.start()
        status, headers = 200, []
        while True:
            line = p.stdout.readline()
            if line in (b'\r\n', b'\n', b''):
                break
            k, _, val = line.decode('latin-1').rstrip('\r\n').partition(':')
            if k.lower() == 'status':
                status = int(val.split()[0])
            else:
                headers.append((k, val.strip()))
        self.send_response(status)
        for k, val in headers:
            self.send_header(k, val)
        self.send_header('X-Lab-Host', HOST)
        self.end_headers()
        # the response ends when http-backend does: for a push, after receive-pack ran post-receive
        while chunk := p.stdout.read1(65536):
            self.wfile.write(chunk)
            self.wfile.flush()
        p.wait()
        feeder.join()


class Server(ThreadingHTTPServer):
    daemon_threads = False  # server_close() waits for the requests in flight
    allow_reuse_address = True


def web():
    os.umask(0o027)  # the unit's UMask
    psql(MIGRATE)
    for d in all_repos():
        write_hooks(d)
    srv = Server((os.environ.get('HTTP_ADDR', '0.0.0.0'), int(os.environ.get('HTTP_PORT', '3000'))), Handler)
    stop = lambda *_: threading.Thread(target=srv.shutdown).start()  # noqa: E731
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print(f'forgejo (lab stand-in) on {HOST}: listening on {srv.server_address}, {len(all_repos())} repositories', flush=True)
    srv.serve_forever(poll_interval=0.1)
    srv.server_close()
    print('forgejo (lab stand-in): shut down', flush=True)


def main(argv):
    if argv[:1] == ['web']:
        return web()
    if argv[:1] == ['hook'] and len(argv) == 2:
        return hook(argv[1])
    if argv[:3] == ['admin', 'user', 'create']:
        opts = dict(zip(argv[3::2], argv[4::2]))
        name, password = opts.get('--username', ''), opts.get('--password', '')
        if not NAME_RE.match(name) or not password:
            print('usage: admin user create --username NAME --password PASSWORD', file=sys.stderr)
            return 1
        salt = secrets.token_hex(8)
        psql("INSERT INTO users (name, salt, passwd) VALUES (:'u', :'s', :'p') ON CONFLICT (name) DO UPDATE SET salt = EXCLUDED.salt, passwd = EXCLUDED.passwd;",
             {'u': name, 's': salt, 'p': pw_hash(salt, password)})
        print(f"New user '{name}' has been successfully created!")
        return 0
    print(__doc__.strip().splitlines()[-1], file=sys.stderr)
    return 2


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]) or 0)
