// A worker process of drain.test.mjs: holds a slice of the drained frontend's WebSocket clients
// (several workers, so that no process nears the 20,000-file limit and each has a core's worth of
// event loop). Each client authenticates, subscribes to its room, and records every msg it sees.
// Closed with 1012, it notes the time and reconnects to the other frontend, subscribing again with
// `since` = the last (epoch, seq) it saw: the resume a browser's client does.
//
// Messages from the parent (child_process.fork): {cmd:'connect', ...} -> {ready}; {cmd:'verify',
// acked: {ch: [seq...]}} -> {report}. Every count is taken on the wire, before any de-duplication.
import { makeToken, WebSocket } from './harness.mjs';

const clients = [];
let options;

function send(ws, obj) {
  if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(obj));
}

// One client's connection; `since` is given after a 1012 (the resume).
function attach(client, url, since) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    client.ws = ws;
    ws.on('error', (e) => reject(e));
    ws.on('open', () => send(ws, { op: 'auth', id: 1, token: client.token }));
    ws.on('message', (data) => {
      const m = JSON.parse(data.toString());
      if (m.op === 'msg') {
        if (client.seen.has(m.seq)) {
          client.dupes++;
          client.errors.push(`duplicate ${client.ch} seq ${m.seq} on ${since ? 'the resumed' : 'the first'} ` +
            `connection (since ${since?.seq}, last ${client.last.seq})`);
        }
        client.seen.add(m.seq);
        client.last = { epoch: m.epoch, seq: Math.max(client.last.seq, m.seq) };
      } else if (m.id === 1 && m.op === 'ok') {
        send(ws, { op: 'sub', id: 2, ch: client.ch, ...(since ? { since } : {}) });
      } else if (m.id === 2) {
        if (m.op !== 'ok') return reject(new Error(`sub: ${JSON.stringify(m)}`));
        if (since && m.recovered !== true) client.unrecovered++;
        if (!since) {
          client.first = m.seq;
          client.last = { epoch: m.epoch, seq: m.seq };
        }
        client.subscribedAt = Date.now();
        resolve();
      } else if (m.op === 'err' || m.op === 'resync') {
        client.errors.push(JSON.stringify(m).slice(0, 200));
      }
    });
    ws.on('close', (code) => {
      client.codes[code] = (client.codes[code] || 0) + 1;
      if (ws !== client.ws || code !== 1012 || client.moved) return;
      client.moved = true;
      client.closedAt = Date.now();
      attach(client, options.urlB, { epoch: client.last.epoch, seq: client.last.seq })
        .catch((e) => client.errors.push(`reconnect: ${e.message}`));
    });
  });
}

async function connectAll(msg) {
  options = msg;
  for (let i = msg.from; i < msg.to; ++i) {
    clients.push({
      ch: `room:drain-${i % msg.rooms}`,
      token: makeToken(msg.secret, { sub: `d${i}`, ch: ['room:*'] }),
      seen: new Set(), dupes: 0, unrecovered: 0, errors: [], codes: {}, first: 0, last: { epoch: '', seq: 0 },
    });
  }
  const batch = 100;
  for (let i = 0; i < clients.length; i += batch) {
    await Promise.all(clients.slice(i, i + batch).map((c) => attach(c, msg.urlA)));
  }
  process.send({ ready: clients.length });
}

function verify(acked) {
  let missing = 0;
  const examples = [];
  for (const c of clients) {
    for (const seq of acked[c.ch] || []) {
      if (seq > c.first && !c.seen.has(seq)) {
        ++missing;
        if (examples.length < 5) examples.push(`${c.ch} seq ${seq} (client first ${c.first})`);
      }
    }
  }
  return {
    clients: clients.length,
    closeTimes: clients.filter((c) => c.closedAt).map((c) => c.closedAt),
    onB: clients.filter((c) => c.moved && c.subscribedAt >= c.closedAt && c.ws.readyState === WebSocket.OPEN).length,
    missing, examples,
    dupes: clients.reduce((n, c) => n + c.dupes, 0),
    unrecovered: clients.reduce((n, c) => n + c.unrecovered, 0),
    errors: clients.flatMap((c) => c.errors).slice(0, 5),
    codes: clients.reduce((all, c) => {
      for (const [code, n] of Object.entries(c.codes)) all[code] = (all[code] || 0) + n;
      return all;
    }, {}),
  };
}

process.on('message', (msg) => {
  if (msg.cmd === 'connect') connectAll(msg).catch((e) => process.send({ error: e.message }));
  else if (msg.cmd === 'verify') process.send({ report: verify(msg.acked) });
  else if (msg.cmd === 'exit') {
    for (const c of clients) c.ws.terminate();
    process.exit(0);
  }
});
