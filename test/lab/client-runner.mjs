// migen lab: load client run inside the lab's operator network namespace (see clients.ts).
// argv[2] = JSON {mode: 'writer'|'prober', address, port, host, intervalMs, maxMs, maxCount,
//                 timeoutMs, attachEvery}
// Prints one JSON line per request: {t, ok, ms, status?, id?, host?, err?}, then {"done":true}.
// Stops on SIGTERM/SIGINT (after the request in flight has finished, so that no acknowledgement
// is lost), or when maxMs / maxCount is reached.
import http from 'node:http';

const o = JSON.parse(process.argv[2]);
const agent = new http.Agent({ keepAlive: false });
let stopping = false;
process.on('SIGTERM', () => (stopping = true));
process.on('SIGINT', () => (stopping = true));

function request(method, path, body) {
  return new Promise((resolve) => {
    const started = Date.now();
    const req = http.request(
      {
        host: o.address,
        port: o.port ?? 80,
        method,
        path,
        agent,
        headers: { Host: o.host, 'Content-Type': 'text/plain', ...(body !== undefined ? { 'Content-Length': Buffer.byteLength(body) } : {}) },
        timeout: o.timeoutMs ?? 2000,
      },
      (res) => {
        let data = '';
        res.setEncoding('utf8');
        res.on('data', (d) => (data += d));
        res.on('end', () => resolve({ status: res.statusCode, body: data, started }));
        res.on('error', (e) => resolve({ err: String(e.message ?? e), started }));
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (e) => resolve({ err: String(e.message ?? e), started }));
    req.end(body);
  });
}

const out = (x) => process.stdout.write(JSON.stringify(x) + '\n');
const t0 = Date.now();
let n = 0;
while (!stopping && Date.now() - t0 < (o.maxMs ?? 60000) && n < (o.maxCount ?? 1e9)) {
  n++;
  let r;
  if (o.mode === 'writer') {
    const attach = o.attachEvery && n % o.attachEvery === 0;
    r = await request('POST', attach ? '/items?attach=1' : '/items', `w${n}-${t0}`);
    const t = Date.now();
    if (r.status === 201 && /^\d+$/.test(r.body.trim())) out({ t, ok: true, ms: t - r.started, id: Number(r.body.trim()), seq: n, attach: !!attach });
    else out({ t, ok: false, ms: t - r.started, status: r.status, err: r.err ?? r.body?.slice(0, 200), seq: n });
  } else {
    r = await request('GET', '/healthz');
    const t = Date.now();
    if (r.status === 200) out({ t, ok: true, ms: t - r.started, host: r.body.trim() });
    else out({ t, ok: false, ms: t - r.started, status: r.status, err: r.err ?? r.body?.slice(0, 200) });
  }
  const wait = r.started + (o.intervalMs ?? 50) - Date.now();
  if (wait > 0 && !stopping) await new Promise((res) => setTimeout(res, wait));
}
out({ done: true });
