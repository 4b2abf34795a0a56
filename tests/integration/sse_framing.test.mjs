// An event stream's framing survives any JSON `data`: JSON may hold raw line breaks between its
// tokens (PHP's JSON_PRETTY_PRINT, a browser's JSON.stringify(x, null, 2)), and an SSE event ends
// its data at a line break, so such data must go out as several `data:` lines, which the client
// joins with '\n' (the SSE rule) back into the same JSON. Parsed here as EventSource does.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { Client, Cluster, openEventStream, sleep } from './harness.mjs';

let cluster;
let fe;

before(async () => {
  cluster = new Cluster();
  await cluster.startHub();
  fe = await cluster.startFrontend();
});

after(() => cluster.stopCleanly());

// The events of an SSE text (WHATWG "event stream interpretation"): data lines joined with '\n'.
function sseEvents(text) {
  const events = [];
  let data = null;
  for (const line of text.split(/\r\n|\r|\n/)) {
    if (line === '') {
      if (data !== null) events.push(data.join('\n'));
      data = null;
    } else if (line.startsWith('data:')) {
      (data ||= []).push(line.slice(line[5] === ' ' ? 6 : 5));
    }
  }
  return events;
}

test('messages and signals whose data holds raw line breaks arrive whole on an event stream', async () => {
  const stream = await openEventStream(fe.port, fe.port, cluster.token('reader', ['room:nl']), 'room:nl');
  const writer = await Client.connect(fe.url);
  await writer.auth(cluster.token('writer', ['room:nl']));
  // The stream says nothing until its subscription is live: signal until one shows.
  for (let i = 0; i < 30 && !stream.text().includes('"op":"signal"'); i++) {
    writer.ws.send(`{"op":"signal","id":${100 + i},"ch":"room:nl","data":{"typing":\n${i}}}`);
    await sleep(100);
  }
  writer.ws.send('{"op":"pub","id":1,"ch":"room:nl","cid":"c1","data":{"a":\r\n  [1,\n\n2]}}');
  const app = await cluster.appRequest({ op: 'pub', ch: 'room:nl', data: { b: 'x' } });
  assert.equal(app.ok, true, JSON.stringify(app));
  await sleep(500);
  await stream.cancel();
  const text = stream.text();
  const parsed = sseEvents(text).map((data) => {
    try {
      return JSON.parse(data);
    } catch {
      return { unparsable: data };
    }
  });
  assert.deepEqual(parsed.filter((e) => e.unparsable), [], `events whose data is not JSON: ${JSON.stringify(text)}`);
  assert.ok(parsed.some((e) => e.op === 'signal' && typeof e.data.typing === 'number'), JSON.stringify(text));
  assert.deepEqual(parsed.filter((e) => e.op === 'msg').map((e) => e.data), [{ a: [1, 2] }, { b: 'x' }]);
  writer.ws.close();
});
