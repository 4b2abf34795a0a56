// The logs (docs/deploy.md "Logs"): both programs write one format, chosen by --log-format, and a
// line at info for each rate-limit close, refused token, kick, lost / recovered hub link and
// slow-consumer close, rate-limited per kind with the count of what was left out. Every stderr line
// of a hub and a frontend is parsed (JSON.parse, or the logfmt parser below) while each event is
// provoked through real sockets; a flood of bad tokens gives a bounded number of lines whose count
// plus the suppressed counts is exactly the number of tokens sent.
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, describe, test } from 'node:test';

import { Client, clusterPool, sleep, until } from './harness.mjs';

const newCluster = clusterPool(after);
const TS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}\+00:00$/;
const LEVELS = new Set(['trace', 'debug', 'info', 'warn', 'error', 'critical']);

// One logfmt line -> { key: value }: key=bare or key="quoted" with \" \\ \n \r \t \uXXXX. Throws on
// anything else, so a line that is not clean logfmt fails the test.
export function parseLogfmt(line) {
  const out = {};
  let i = 0;
  const fail = (why) => { throw new Error(`not logfmt (${why} at ${i}): ${JSON.stringify(line)}`); };
  while (i < line.length) {
    const eq = line.indexOf('=', i);
    if (eq <= i) fail('no key');
    const key = line.slice(i, eq);
    if (!/^[a-z_]+$/.test(key)) fail(`bad key ${key}`);
    i = eq + 1;
    let value = '';
    if (line[i] === '"') {
      for (i++; ; i++) {
        if (i >= line.length) fail('unterminated quote');
        const c = line[i];
        if (c === '"') { i++; break; }
        if (c !== '\\') { value += c; continue; }
        const e = line[++i];
        if (e === 'u') { value += String.fromCharCode(parseInt(line.slice(i + 1, i + 5), 16)); i += 4; }
        else if (e in { '"': 1, '\\': 1 }) value += e;
        else if (e in { n: 1, r: 1, t: 1 }) value += { n: '\n', r: '\r', t: '\t' }[e];
        else fail(`bad escape \\${e}`);
      }
    } else {
      const end = line.indexOf(' ', i);
      value = line.slice(i, end < 0 ? line.length : end);
      if (value === '' || /["=\\]/.test(value)) fail('bad bare value');
      i += value.length;
    }
    if (key in out) fail(`key ${key} twice`);
    out[key] = value;
    if (i < line.length) {
      if (line[i] !== ' ') fail('no space');
      i++;
    }
  }
  return out;
}

// Every line of a process's output as a record; each must parse and carry the fixed keys.
function records(proc, format, program, id) {
  const lines = proc.log.split('\n');
  assert.equal(lines.pop(), '', `${proc.name}: the output ends with a newline`);
  return lines.map((line) => {
    const r = format === 'json' ? JSON.parse(line) : parseLogfmt(line);
    assert.match(r.ts, TS, line);
    assert.ok(LEVELS.has(r.level), line);
    assert.equal(r.program, program, line);
    assert.equal(r.id, id, line);
    assert.equal(typeof r.msg, 'string', line);
    return r;
  });
}

const events = (recs, event) => recs.filter((r) => r.event === event);

// A GET /events (SSE) that reads its head and then nothing more.
async function stalledEvents(cluster, fe, user, ch) {
  const res = await fetch(`http://127.0.0.1:${fe.port}/session`, { method: 'POST', body: JSON.stringify({ token: cluster.token(user, [ch]) }) });
  assert.equal(res.status, 200);
  const { sid } = await res.json();
  return new Promise((resolve, reject) => {
    const socket = net.connect({ port: fe.port, host: '127.0.0.1' });
    socket.on('error', () => {});
    socket.once('connect', () => socket.write(`GET /events?sid=${sid}&ch=${ch} HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n`));
    socket.once('data', () => {
      socket.pause();
      resolve(socket);
    });
    setTimeout(() => reject(new Error('no answer to GET /events')), 5000);
  });
}

async function wsAuth(fe, token) {
  const c = await Client.connect(fe.url);
  c.ws.send(JSON.stringify({ op: 'auth', id: 1, token }));
  return c;
}

// Provokes each event once on `fe` (whose hub is the cluster's) and returns the hub processes used.
async function provokeEach(cluster, fe, format) {
  const secretish = 'not.a-real.token-' + 'x'.repeat(20);
  // Refused tokens: a malformed one, and an expired one (the reason, never the token).
  const bad = await wsAuth(fe, secretish);
  assert.equal((await bad.closed).code, 4001);
  const expired = await wsAuth(fe, cluster.token('late', [], { exp: Math.floor(Date.now() / 1000) - 3600 }));
  assert.equal((await expired.closed).code, 4001);

  // A rate-limit close (4008): more requests at once than the burst.
  const flooder = await Client.connect(fe.url);
  await flooder.auth(cluster.token('flooder', []));
  for (let i = 0; i < 50; i++) flooder.ws.send(JSON.stringify({ op: 'nop', id: 100 + i }));
  assert.equal((await flooder.closed).code, 4008);

  // Slow consumers: a WebSocket subscriber (4009) and an SSE stream that stop reading while the
  // room is busy.
  const room = 'room:slow';
  const slow = await Client.connect(fe.url);
  await slow.auth(cluster.token('sloth', [room]));
  assert.equal((await slow.request('sub', { ch: room })).op, 'ok');
  slow.ws._socket.pause();
  const slowStream = await stalledEvents(cluster, fe, 'snail', room);
  await sleep(300);  // joined
  const pad = 'x'.repeat(60000);
  const pubs = [];
  for (let i = 0; i < 400; i++) pubs.push({ op: 'pub', ch: room, data: { i, pad } });
  for (const reply of await cluster.appRequests(pubs, 20000)) assert.equal(reply.ok, true, JSON.stringify(reply));
  await until(() => (fe.log.match(/slow_consumer_close/g) || []).length >= 2, 'the slow-consumer lines', 15000);
  slow.ws._socket.resume();
  slowStream.destroy();

  // A kick.
  const kicked = await Client.connect(fe.url);
  await kicked.auth(cluster.token('kicky', []));
  assert.equal((await cluster.appRequest({ op: 'kick', user: 'kicky', code: 4003, reason: 'banned "now"\n' })).ok, true);
  assert.equal((await kicked.closed).code, 4003);

  // The hub killed, then started again.
  const oldHub = cluster.hub;
  await oldHub.stop('SIGKILL');
  await until(() => /hub_link_lost/.test(fe.log), 'the link-lost line');
  await cluster.startHub(['--log-format', format]);
  await until(() => /hub_link_back/.test(fe.log), 'the link-back line', 15000);
  return { secretish, hubs: [oldHub, cluster.hub] };
}

function checkEvents(recs, secretish, fe) {
  const rejected = events(recs, 'token_rejected');
  assert.ok(rejected.some((r) => r.reason === 'malformed token' && r.credential === 'token' && r.transport === 'ws'), JSON.stringify(rejected));
  assert.ok(rejected.some((r) => r.reason === 'token expired'), JSON.stringify(rejected));
  assert.ok(rejected.every((r) => /^127\.0\.0\.1:\d+$/.test(r.addr) && r.level === 'info'), JSON.stringify(rejected));
  assert.ok(!fe.log.includes(secretish), 'a refused token is never logged');

  const limited = events(recs, 'rate_limit_close');
  assert.equal(limited.length, 1, JSON.stringify(limited));
  assert.equal(limited[0].user, 'flooder');
  assert.equal(String(limited[0].code), '4008');

  const slow = events(recs, 'slow_consumer_close');
  assert.equal(slow.length, 2, JSON.stringify(slow));
  const ws = slow.find((r) => r.transport === 'ws');
  const sse = slow.find((r) => r.transport === 'sse');
  assert.deepEqual([ws?.user, ws?.why, String(ws?.code)], ['sloth', 'backlog', '4009'], JSON.stringify(slow));
  assert.deepEqual([sse?.user, sse?.why], ['snail', 'backlog'], JSON.stringify(slow));
  for (const r of slow) assert.match(r.addr, /^127\.0\.0\.1:\d+$/);

  const kicks = events(recs, 'kick');
  assert.equal(kicks.length, 1, JSON.stringify(kicks));
  assert.deepEqual([kicks[0].user, String(kicks[0].connections), String(kicks[0].code), kicks[0].reason],
    ['kicky', '1', '4003', 'banned "now"\n']);

  const lost = events(recs, 'hub_link_lost');
  const back = events(recs, 'hub_link_back');
  assert.equal(lost.length, 1, JSON.stringify(lost));
  assert.equal(back.length, 1, JSON.stringify(back));
  assert.ok(Number(back[0].down_ms) >= 0);
  assert.equal(back[0].hub, lost[0].hub);
}

for (const format of ['json', 'logfmt']) {
  describe(`--log-format ${format}`, () => {
    test('every line of both programs parses; each event has its line', async () => {
      const cluster = newCluster();
      await cluster.startHub(['--log-format', format]);
      const fe = await cluster.startFrontend(['--log-format', format, '--rate-limit', '5', '--rate-burst', '10',
        '--max-backlog-bytes', '262144', '--write-timeout-ms', '60000']);
      const { secretish, hubs } = await provokeEach(cluster, fe, format);
      await sleep(200);
      const feRecs = records(fe, format, 'webim-frontend', 'fe1');
      for (const hub of hubs) {
        const recs = records(hub, format, 'webim-broadcast', 'hub');
        assert.ok(recs.some((r) => /webim-broadcast ready/.test(r.msg)));
      }
      checkEvents(feRecs, secretish, fe);
      if (format === 'json') {
        assert.equal(typeof events(feRecs, 'kick')[0].connections, 'number', 'numbers are JSON numbers');
      }
    });
  });
}

test('a flood of bad tokens: a bounded number of lines, the rest counted', async () => {
  const cluster = newCluster();
  await cluster.startHub(['--log-format', 'json']);
  const fe = await cluster.startFrontend(['--log-format', 'json']);
  const total = 3000;
  const started = Date.now();
  let sent = 0;
  const worker = async () => {
    while (sent < total) {
      sent++;
      const res = await fetch(`http://127.0.0.1:${fe.port}/session`, { method: 'POST', body: JSON.stringify({ token: 'bad.token.here' }) });
      assert.equal(res.status, 401);
      await res.arrayBuffer();
    }
  };
  await Promise.all(Array.from({ length: 32 }, worker));
  const seconds = (Date.now() - started) / 1000;
  // The counts of what was left out come within a second or so.
  const suppressed = () => events(records(fe, 'json', 'webim-frontend', 'fe1'), 'log_suppressed')
    .filter((r) => r.kind === 'token_rejected').reduce((sum, r) => sum + r.suppressed, 0);
  const lines = () => events(records(fe, 'json', 'webim-frontend', 'fe1'), 'token_rejected').length;
  await until(() => lines() + suppressed() === total, `lines + suppressed = ${total}`, 5000);
  const written = lines();
  console.log(`# flood: ${total} bad tokens in ${seconds.toFixed(2)} s -> ${written} lines, ${suppressed()} suppressed`);
  assert.ok(written >= 50, `the burst is written (${written})`);
  assert.ok(written <= 50 + 10 * (seconds + 2), `bounded: ${written} lines in ${seconds} s`);
  const summaries = events(records(fe, 'json', 'webim-frontend', 'fe1'), 'log_suppressed');
  assert.ok(summaries.length <= seconds + 3, `one summary a second at most (${summaries.length})`);
});
