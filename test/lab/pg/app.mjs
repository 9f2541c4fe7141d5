// migen lab: the application stand-in of the hot (PostgreSQL) tests, in the role of Zitadel.
// Node + pg, run as a lab unit on the host that serves it.
//   POST /items          one transaction: INSERT into items (serial id) and events (bigserial),
//                        UPDATE items.n of the row inserted 5 ids earlier, DELETE the event 50 ids
//                        earlier; answers 201 with the new id only after COMMIT, else 503.
//   GET /healthz, /debug/healthz   200 with the host's name when `SELECT 1` works, else 503.
// env: LISTEN (address:port), LAB_HOST; PGHOST/PGDATABASE/PGUSER (default /run/postgresql,
// zitadel, zitadel); APP_BROKEN=1 exits at once (a deployment whose application cannot start);
// HEALTHZ_FAIL_HOST=NAME answers /debug/healthz asked with Host: NAME (through the proxy) with 503,
// while taking writes and answering its unit's readiness check (a verification failing after the start).
import http from 'node:http';
import pg from 'pg';

if (process.env.APP_BROKEN) {
  console.error('app: APP_BROKEN is set: exiting before listening');
  process.exit(1);
}
const [addr, port] = (process.env.LISTEN ?? '127.0.0.1:80').split(':');
const me = process.env.LAB_HOST ?? 'unknown';
const pool = new pg.Pool({
  host: process.env.PGHOST ?? '/run/postgresql',
  database: process.env.PGDATABASE ?? 'zitadel',
  user: process.env.PGUSER ?? 'zitadel',
  max: 4,
  connectionTimeoutMillis: 2000,
  idleTimeoutMillis: 5000,
});
// a terminated idle connection (pg_terminate_backend, a restart) must not end the process
pool.on('error', (e) => console.error(`app: idle client error: ${e.message}`));
// ... nor one that breaks while checked out between two queries (the query in flight fails on its own)
pool.on('connect', (client) => client.on('error', (e) => console.error(`app: client error: ${e.message}`)));

const log = (s) => console.log(`${new Date().toISOString()} ${s}`);

async function insert(body) {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const { rows } = await client.query('INSERT INTO items (body) VALUES ($1) RETURNING id', [body]);
    const id = rows[0].id;
    const ev = await client.query("INSERT INTO events (item_id, kind) VALUES ($1, 'insert') RETURNING id", [id]);
    await client.query('UPDATE items SET n = n + 1 WHERE id = $1', [id - 5]);
    await client.query('DELETE FROM events WHERE id = $1', [Number(ev.rows[0].id) - 50]);
    await client.query('COMMIT');
    client.release();
    return id;
  } catch (e) {
    try { await client.query('ROLLBACK'); } catch { /* connection gone */ }
    client.release(e);
    throw e;
  }
}

const server = http.createServer((req, res) => {
  const send = (code, text) => { res.writeHead(code, { 'Content-Type': 'text/plain', 'X-Served-By': me }); res.end(`${text}\n`); };
  let body = '';
  req.setEncoding('utf8');
  req.on('data', (d) => (body += d));
  req.on('end', async () => {
    const url = new URL(req.url ?? '/', 'http://x');
    try {
      if (req.method === 'POST' && url.pathname === '/items') {
        const id = await insert(body.slice(0, 500));
        send(201, String(id));
      } else if (req.method === 'GET' && url.pathname === '/debug/healthz' && process.env.HEALTHZ_FAIL_HOST && (req.headers.host ?? '').split(':')[0] === process.env.HEALTHZ_FAIL_HOST) {
        send(503, 'unhealthy (HEALTHZ_FAIL_HOST)');
      } else if (req.method === 'GET' && (url.pathname === '/healthz' || url.pathname === '/debug/healthz')) {
        await pool.query('SELECT 1');
        send(200, me);
      } else send(404, 'not found');
    } catch (e) {
      log(`${req.method} ${url.pathname}: ${e.message}`);
      send(503, `database error: ${e.message}`);
    }
  });
});
server.listen(Number(port), addr, () => log(`app on ${me} listening on ${addr}:${port}`));
for (const sig of ['SIGTERM', 'SIGINT']) {
  process.on(sig, () => {
    log(`app: ${sig}, exiting`);
    server.close();
    void pool.end().finally(() => process.exit(0));
    setTimeout(() => process.exit(0), 1000).unref();
  });
}
