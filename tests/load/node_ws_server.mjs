// A minimal Node.js `ws` chat server with webim's client protocol (docs/protocol.md section 1), the
// baseline for scripts/bench-compare: HS256 auth with the same token, sub/unsub/pub with grants,
// `msg` deliveries with an in-memory seq per channel (no durability, no history, no hub).
// One process, one core, like one webim frontend.
//   node tests/load/node_ws_server.mjs --listen 127.0.0.1:PORT --secret-file F
// Prints "node-ws ready listening on HOST:PORT" on stderr; stops on SIGTERM/SIGINT.
import { createHmac, timingSafeEqual, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { createRequire } from 'node:module';

const require = createRequire(new URL('../node/package.json', import.meta.url));
const { WebSocketServer } = require('ws');

const args = process.argv.slice(2);
const opt = (name, dflt) => { const i = args.indexOf(name); return i >= 0 ? args[i + 1] : dflt; };
const listen = opt('--listen', '127.0.0.1:8090');
const secret = readFileSync(opt('--secret-file'), 'utf8').split('\n')[0].trim();
const [host, portText] = [listen.slice(0, listen.lastIndexOf(':')), listen.slice(listen.lastIndexOf(':') + 1)];

const epoch = randomBytes(4).toString('hex');
const channels = new Map();  // name -> { seq, subs: Set<ws> }
let connCounter = 0;
const CHANNEL_RE = /^[A-Za-z0-9_.:-]{1,128}$/;

function verify(token) {
  if (typeof token !== 'string') return null;
  const parts = token.split('.');
  if (parts.length !== 3) return null;
  let header, claims;
  try {
    header = JSON.parse(Buffer.from(parts[0], 'base64url'));
    claims = JSON.parse(Buffer.from(parts[1], 'base64url'));
  } catch { return null; }
  if (header.alg !== 'HS256') return null;
  const mac = createHmac('sha256', secret).update(`${parts[0]}.${parts[1]}`).digest();
  const sig = Buffer.from(parts[2], 'base64url');
  if (sig.length !== mac.length || !timingSafeEqual(sig, mac)) return null;
  const now = Date.now() / 1000;
  if (typeof claims.sub !== 'string' || typeof claims.exp !== 'number' || claims.exp + 30 < now) return null;
  if (typeof claims.nbf === 'number' && claims.nbf - 30 > now) return null;
  return claims;
}

const matches = (patterns, ch) => Array.isArray(patterns) &&
  patterns.some((p) => typeof p === 'string' && (p.endsWith('*') ? ch.startsWith(p.slice(0, -1)) : p === ch));

function maySub(claims, ch) {
  if (ch.startsWith('user:')) return ch === `user:${claims.sub}`;
  if (ch.startsWith('dm:')) { const [, a, b] = ch.split(':'); return (a === claims.sub || b === claims.sub) && a < b; }
  return matches(claims.ch, ch);
}
function mayPub(claims, ch) {
  if (ch.startsWith('pub:')) return false;
  if (ch.startsWith('dm:')) return maySub(claims, ch);
  return matches(claims.pub ?? claims.ch, ch);
}

const server = createServer((req, res) => {
  if (req.url === '/healthz') { res.end('ok\n'); return; }
  res.writeHead(404).end();
});
const wss = new WebSocketServer({ server, path: '/ws', perMessageDeflate: false, maxPayload: 64 * 1024, clientTracking: false });

wss.on('connection', (ws) => {
  let claims = null;
  const subs = new Set();
  const send = (obj) => ws.send(JSON.stringify(obj));
  const err = (id, code, msg) => send({ op: 'err', id, code, msg });
  const authTimer = setTimeout(() => { if (!claims) ws.close(4001, 'auth timeout'); }, 10000);
  ws.on('error', () => {});
  ws.on('close', () => {
    clearTimeout(authTimer);
    for (const name of subs) {
      const c = channels.get(name);
      if (c) { c.subs.delete(ws); if (c.subs.size === 0 && c.seq === 0) channels.delete(name); }
    }
  });
  ws.on('message', (data, isBinary) => {
    if (isBinary) { ws.close(1003, 'binary'); return; }
    let req;
    try { req = JSON.parse(data); } catch { ws.close(1007, 'bad json'); return; }
    const id = req.id;
    if (req.op === 'auth') {
      const c = verify(req.token);
      if (!c || (claims && c.sub !== claims.sub)) { ws.close(4001, 'auth failed'); return; }
      claims = c;
      clearTimeout(authTimer);
      send({ op: 'ok', id, user: c.sub, conn: `node-${++connCounter}` });
      return;
    }
    if (!claims) { ws.close(4001, 'auth first'); return; }
    const ch = req.ch;
    if (typeof ch !== 'string' || !CHANNEL_RE.test(ch)) { err(id, 'bad_request', 'bad channel'); return; }
    if (req.op === 'sub') {
      if (!maySub(claims, ch)) { err(id, 'forbidden', 'not granted'); return; }
      let c = channels.get(ch);
      if (!c) { c = { seq: 0, subs: new Set() }; channels.set(ch, c); }
      c.subs.add(ws);
      subs.add(ch);
      send({ op: 'ok', id, epoch, seq: c.seq });
    } else if (req.op === 'unsub') {
      channels.get(ch)?.subs.delete(ws);
      subs.delete(ch);
      send({ op: 'ok', id });
    } else if (req.op === 'pub') {
      if (!mayPub(claims, ch)) { err(id, 'forbidden', 'not granted'); return; }
      let c = channels.get(ch);
      if (!c) { c = { seq: 0, subs: new Set() }; channels.set(ch, c); }
      const seq = ++c.seq;
      send({ op: 'ok', id, epoch, seq });
      // Serialize once, share the bytes among all subscribers.
      const frame = Buffer.from(JSON.stringify({ op: 'msg', ch, epoch, seq, from: claims.sub, ts: Date.now(), data: req.data }));
      for (const sub of c.subs) sub.send(frame, { binary: false });
    } else {
      err(id, 'bad_request', 'unknown op');
    }
  });
});

server.listen(Number(portText), host, () => {
  const a = server.address();
  process.stderr.write(`node-ws ready listening on ${a.address}:${a.port}\n`);
});
const stop = () => { server.close(); wss.close(); setTimeout(() => process.exit(0), 200).unref(); for (const c of wss.clients ?? []) c.terminate(); };
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
