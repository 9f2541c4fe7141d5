// migen lab: load client run inside the lab's operator network namespace (see clients.ts).
// argv[2] = JSON {mode: 'writer'|'prober'|'dns'|'name', address, port, host, intervalMs, maxMs,
//                 maxCount, timeoutMs, attachEvery, servers, name}
// mode dns: an A query for `name` to each of `servers` (addresses, port 53) in turn, like a
// resolver with fallback servers; ok when one answers with an address (host = that server).
// mode name: the same resolution (no cache of its own, like glibc's stub resolver), then
// GET /healthz on the address it got (port `port`, Host: `name`); ok on 200, host = the body
// (the serving lab host), answer = the address, server = the DNS server that answered.
// Prints one JSON line per request: {t, ok, ms, status?, id?, host?, err?}, then {"done":true}.
// Stops on SIGTERM/SIGINT (after the request in flight has finished, so that no acknowledgement
// is lost), or when maxMs / maxCount is reached.
import dgram from 'node:dgram';
import http from 'node:http';

const o = JSON.parse(process.argv[2]);
const agent = new http.Agent({ keepAlive: false });
let stopping = false;
process.on('SIGTERM', () => (stopping = true));
process.on('SIGINT', () => (stopping = true));

function request(method, path, body, address = o.address, hostHeader = o.host) {
  return new Promise((resolve) => {
    const started = Date.now();
    const req = http.request(
      {
        host: address,
        port: o.port ?? 80,
        method,
        path,
        agent,
        headers: { Host: hostHeader, 'Content-Type': 'text/plain', ...(body !== undefined ? { 'Content-Length': Buffer.byteLength(body) } : {}) },
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

function dnsQuery(server, name, timeoutMs) {
  return new Promise((resolve) => {
    const started = Date.now();
    const sock = dgram.createSocket('udp4');
    const id = Math.floor(Math.random() * 65536);
    const qname = Buffer.concat([...name.split('.').filter(Boolean).map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l)])), Buffer.from([0])]);
    const header = Buffer.alloc(12);
    header.writeUInt16BE(id, 0);
    header.writeUInt16BE(0x0100, 2);
    header.writeUInt16BE(1, 4);
    const q = Buffer.concat([header, qname, Buffer.from([0, 1, 0, 1])]);
    let settled = false;
    const done = (r) => { if (settled) return; settled = true; clearTimeout(timer); sock.close(); resolve({ started, ...r }); };
    const timer = setTimeout(() => done({ err: 'timeout' }), timeoutMs);
    sock.on('error', (e) => done({ err: String(e.message ?? e) }));
    sock.on('message', (m) => {
      if (m.length < 12 || m.readUInt16BE(0) !== id) return;
      const rcode = m.readUInt16BE(2) & 0xf;
      const a = rcode === 0 ? firstA(m) : undefined;
      if (!a) return done({ err: `rcode ${rcode}, ${m.readUInt16BE(6)} answers, no A` });
      done({ answer: a });
    });
    sock.send(q, 53, server);
  });
}

// the first A record of the answer section (names may be compressed: RFC 1035 4.1.4)
function firstA(m) {
  const skipName = (i) => {
    while (i < m.length) {
      const len = m[i];
      if (len === 0) return i + 1;
      if ((len & 0xc0) === 0xc0) return i + 2;
      i += len + 1;
    }
    return i;
  };
  let i = 12;
  for (let q = m.readUInt16BE(4); q > 0; q--) i = skipName(i) + 4;
  for (let an = m.readUInt16BE(6); an > 0 && i + 10 <= m.length; an--) {
    i = skipName(i);
    const type = m.readUInt16BE(i);
    const rdlen = m.readUInt16BE(i + 8);
    i += 10;
    if (type === 1 && rdlen === 4 && i + 4 <= m.length) return `${m[i]}.${m[i + 1]}.${m[i + 2]}.${m[i + 3]}`;
    i += rdlen;
  }
  return undefined;
}

async function resolveName() {
  let got = { err: 'no servers' };
  for (const server of o.servers) {
    got = await dnsQuery(server, o.name, o.timeoutMs ?? 300);
    if (got.answer) return { ...got, server };
  }
  return got;
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
  } else if (o.mode === 'dns') {
    r = { started: Date.now() };
    const got = await resolveName();
    const t = Date.now();
    if (got.answer) out({ t, ok: true, ms: t - r.started, host: got.server, answer: got.answer });
    else out({ t, ok: false, ms: t - r.started, err: got.err });
  } else if (o.mode === 'name') {
    r = { started: Date.now() };
    const got = await resolveName();
    const res = got.answer ? await request('GET', '/healthz', undefined, got.answer, o.name) : { err: `dns: ${got.err}` };
    const t = Date.now();
    const base = { t, ms: t - r.started, server: got.server, answer: got.answer };
    if (res.status === 200) out({ ...base, ok: true, host: res.body.trim() });
    else out({ ...base, ok: false, status: res.status, err: res.err ?? res.body?.slice(0, 200) });
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
