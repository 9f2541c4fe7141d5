#!/usr/bin/env python3
"""migen lab: a small stateful service standing in for Vaultwarden / Headscale.

python3 stdlib only. State lives in $STATE_DIR:
  db.sqlite3 (+ -wal, -shm)   WAL mode, synchronous=FULL, table items(id, body, attachment, created)
  attachments/<id>.bin        written when POST /items?attach=1
  rsa_key.pem                 created at first start (stands in for Vaultwarden's rsa_key.pem:
                              the bytes must survive a migration, or every "user" is logged out)
Endpoints:
  POST /items[?attach=1]  body: text. Inserts, commits (and fsyncs the attachment first), and only
                          then answers 201 with the id as text.
  GET  /items/<id>        200 with the body, 404 if absent
  GET  /items?count       200 with the number of rows
  GET  /items             200 with the ids, one per line
  GET  /healthz           200 with $LAB_HOST (which host served)
  GET  /alive             200 "ok" (Vaultwarden's health endpoint)
  POST /dns/<name>        body: an IPv4 address. Sets the A record of <name> (table dns), 201.
  GET  /dns/<name>        200 with the address, 404 if absent
Optional DNS responder (a stand-in for AdGuard Home): with DNS_LISTEN=addr:port the service also
answers DNS over UDP there: A queries from table dns(name, a) of the same database (NOERROR with
the address, NXDOMAIN for unknown names, NOERROR without answers for other types of known names).
Environment: STATE_DIR (required), LISTEN=addr:port (default 127.0.0.1:8222), LAB_HOST,
DNS_LISTEN=addr:port (optional).
Refuses to start (exit 3) if $STATE_DIR/FAIL_START exists or FAIL_START is set in the
environment (the environment variable survives a state copy with --delete), to test broken starts.
With UNHEALTHY set in the environment it starts but answers every request 503 (and writes
nothing): a new host that comes up broken.
"""
import os
import secrets
import signal
import socket
import sqlite3
import struct
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

STATE_DIR = os.environ.get("STATE_DIR")
LISTEN = os.environ.get("LISTEN", "127.0.0.1:8222")
HOST = os.environ.get("LAB_HOST", "unknown")
DNS_LISTEN = os.environ.get("DNS_LISTEN")


def log(msg):
    sys.stderr.write("app[%s] %s\n" % (HOST, msg))
    sys.stderr.flush()


def fsync_dir(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def init_state():
    if not STATE_DIR:
        log("STATE_DIR not set")
        sys.exit(2)
    if os.path.exists(os.path.join(STATE_DIR, "FAIL_START")):
        log("refusing to start: %s exists" % os.path.join(STATE_DIR, "FAIL_START"))
        sys.exit(3)
    if os.environ.get("FAIL_START"):
        log("refusing to start: FAIL_START is set in the environment")
        sys.exit(3)
    os.makedirs(os.path.join(STATE_DIR, "attachments"), exist_ok=True)
    key = os.path.join(STATE_DIR, "rsa_key.pem")
    if not os.path.exists(key):
        # not a real RSA key (stdlib has no RSA): random bytes in PEM armour are enough to prove
        # that the file was carried over byte for byte
        body = secrets.token_bytes(1190)
        import base64

        b64 = base64.encodebytes(body).decode().replace("\n", "")
        lines = [b64[i : i + 64] for i in range(0, len(b64), 64)]
        tmp = key + ".tmp"
        with open(tmp, "w") as f:
            f.write("-----BEGIN PRIVATE KEY-----\n" + "\n".join(lines) + "\n-----END PRIVATE KEY-----\n")
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o600)
        os.rename(tmp, key)
        fsync_dir(STATE_DIR)
    db = connect()
    db.execute(
        "CREATE TABLE IF NOT EXISTS items (id INTEGER PRIMARY KEY AUTOINCREMENT, body TEXT NOT NULL,"
        " attachment TEXT, created REAL NOT NULL)"
    )
    db.execute("CREATE TABLE IF NOT EXISTS dns (name TEXT PRIMARY KEY, a TEXT NOT NULL)")
    db.commit()
    db.close()


def connect():
    db = sqlite3.connect(os.path.join(STATE_DIR, "db.sqlite3"), timeout=10, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    db.execute("PRAGMA busy_timeout=10000")
    return db


local = threading.local()


def conn():
    db = getattr(local, "db", None)
    if db is None:
        db = connect()
        local.db = db
    return db


class Handler(BaseHTTPRequestHandler):
    server_version = "migen-lab-app/1"
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):  # quiet: one line per error only
        pass

    def reply(self, code, text, ctype="text/plain"):
        data = text.encode() if isinstance(text, str) else text
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        if os.environ.get("UNHEALTHY"):
            return self.reply(503, "unhealthy")
        u = urlsplit(self.path)
        q = parse_qs(u.query, keep_blank_values=True)
        if u.path == "/healthz":
            return self.reply(200, HOST)
        if u.path == "/alive":
            return self.reply(200, "ok")
        if u.path.startswith("/dns/"):
            row = conn().execute("SELECT a FROM dns WHERE name = ?", (dns_name(u.path[5:]),)).fetchone()
            return self.reply(200, row[0]) if row else self.reply(404, "not found")
        if u.path == "/items":
            db = conn()
            if "count" in q:
                (n,) = db.execute("SELECT count(*) FROM items").fetchone()
                return self.reply(200, str(n))
            ids = [str(r[0]) for r in db.execute("SELECT id FROM items ORDER BY id")]
            return self.reply(200, "\n".join(ids) + ("\n" if ids else ""))
        if u.path.startswith("/items/"):
            try:
                item_id = int(u.path[len("/items/") :])
            except ValueError:
                return self.reply(400, "bad id")
            row = conn().execute("SELECT body FROM items WHERE id = ?", (item_id,)).fetchone()
            if row is None:
                return self.reply(404, "not found")
            return self.reply(200, row[0])
        return self.reply(404, "not found")

    def do_POST(self):
        if os.environ.get("UNHEALTHY"):
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            return self.reply(503, "unhealthy")
        u = urlsplit(self.path)
        q = parse_qs(u.query, keep_blank_values=True)
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n).decode("utf-8", "replace")
        if u.path.startswith("/dns/"):
            try:
                addr = socket.inet_ntoa(socket.inet_aton(body.strip()))
            except OSError:
                return self.reply(400, "not an IPv4 address")
            conn().execute("INSERT OR REPLACE INTO dns (name, a) VALUES (?, ?)", (dns_name(u.path[5:]), addr))
            return self.reply(201, addr)
        if u.path != "/items":
            return self.reply(404, "not found")
        attach = q.get("attach", ["0"])[0] not in ("", "0")
        db = conn()
        try:
            db.execute("BEGIN IMMEDIATE")
            cur = db.execute("INSERT INTO items (body, created) VALUES (?, ?)", (body, time.time()))
            item_id = cur.lastrowid
            if attach:
                name = "%d.bin" % item_id
                path = os.path.join(STATE_DIR, "attachments", name)
                with open(path, "wb") as f:
                    f.write(body.encode() + b"\n" + secrets.token_bytes(256))
                    f.flush()
                    os.fsync(f.fileno())
                fsync_dir(os.path.join(STATE_DIR, "attachments"))
                db.execute("UPDATE items SET attachment = ? WHERE id = ?", (name, item_id))
            db.execute("COMMIT")
        except Exception as e:  # noqa: BLE001
            try:
                db.execute("ROLLBACK")
            except Exception:  # noqa: BLE001
                pass
            log("insert failed: %r" % (e,))
            return self.reply(500, "error: %s" % e)
        return self.reply(201, str(item_id))


def dns_name(s):
    return s.strip().rstrip(".").lower()


def dns_answer(query):
    """The reply to one DNS query packet (None to drop it)."""
    if len(query) < 12:
        return None
    qid, flags, qdcount = struct.unpack(">HHH", query[:6])
    if flags & 0x8000 or qdcount != 1:
        return None
    labels, i = [], 12
    while True:
        if i >= len(query):
            return None
        n = query[i]
        i += 1
        if n == 0:
            break
        if n & 0xC0 or i + n > len(query):
            return None
        labels.append(query[i : i + n].decode("ascii", "replace"))
        i += n
    if i + 4 > len(query):
        return None
    qtype, qclass = struct.unpack(">HH", query[i : i + 4])
    question = query[12 : i + 4]
    name = dns_name(".".join(labels))
    try:
        row = conn().execute("SELECT a FROM dns WHERE name = ?", (name,)).fetchone()
    except sqlite3.Error as e:
        log("dns lookup failed: %r" % (e,))
        rflags = 0x8180 | (flags & 0x0100) | 2  # SERVFAIL
        return struct.pack(">HHHHHH", qid, rflags, 1, 0, 0, 0) + question
    answers = b""
    rcode = 0
    if row is None:
        rcode = 3  # NXDOMAIN
    elif qtype in (1, 255) and qclass == 1:
        answers = struct.pack(">HHHIH", 0xC00C, 1, 1, 60, 4) + socket.inet_aton(row[0])
    rflags = 0x8000 | 0x0400 | (flags & 0x0100) | 0x0080 | rcode  # QR AA RD(copied) RA
    return struct.pack(">HHHHHH", qid, rflags, 1, 1 if answers else 0, 0, 0) + question + answers


def serve_dns(listen):
    addr, _, port = listen.rpartition(":")
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((addr or "0.0.0.0", int(port)))
    log("dns on %s (udp)" % listen)

    def loop():
        while True:
            try:
                data, peer = sock.recvfrom(4096)
                reply = dns_answer(data)
                if reply is not None:
                    sock.sendto(reply, peer)
            except Exception as e:  # noqa: BLE001
                log("dns error: %r" % (e,))

    threading.Thread(target=loop, daemon=True).start()


def main():
    init_state()
    if DNS_LISTEN:
        serve_dns(DNS_LISTEN)
    addr, _, port = LISTEN.rpartition(":")
    srv = ThreadingHTTPServer((addr or "0.0.0.0", int(port)), Handler)
    srv.daemon_threads = True

    def stop(signum, frame):
        log("signal %d: shutting down" % signum)
        threading.Thread(target=srv.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    log("listening on %s, state in %s" % (LISTEN, STATE_DIR))
    srv.serve_forever(poll_interval=0.2)
    srv.server_close()
    log("stopped")


if __name__ == "__main__":
    main()
