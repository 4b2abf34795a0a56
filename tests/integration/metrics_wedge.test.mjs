// The hub's metrics endpoint (broadcast/metrics_server.cpp, a ZMQ_STREAM socket) never wedges
// (nor the frontend's, served by libuv: the same storm, for comparison):
// clients that send a request and go away before the answer (closed, reset) and frontends coming
// and going (a twin with an existing id) run while a Prometheus-like scraper (Node fetch, keep-alive)
// scrapes in a loop; every scrape must be answered within 2 s, and so must a fresh one at the end.
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, describe, test } from 'node:test';

import { setTimeout as sleep } from 'node:timers/promises';

import { Cluster } from './harness.mjs';

const SCRAPE_TIMEOUT_MS = 2000;

async function scrape(port, what) {
  const started = Date.now();
  let res;
  try {
    res = await fetch(`http://127.0.0.1:${port}/metrics`, { signal: AbortSignal.timeout(SCRAPE_TIMEOUT_MS) });
    const body = await res.text();
    assert.equal(res.status, 200, body);
    return body;
  } catch (e) {
    throw new Error(`${what}: /metrics on port ${port} did not answer within ${SCRAPE_TIMEOUT_MS} ms ` +
      `(after ${Date.now() - started} ms: ${e.message}${e.cause ? `: ${e.cause.message}` : ''})`);
  }
}

// A client that sends a whole request and goes away at once: closed (FIN) or reset (RST).
function hitAndRun(port, reset) {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1', () => {
      socket.write('GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n');
      if (reset) socket.resetAndDestroy(); else socket.destroy();
    });
    socket.on('error', () => {});
    socket.on('close', resolve);
  });
}

describe('the hub metrics endpoint under clients that go away', () => {
  let cluster;

  before(async () => {
    cluster = new Cluster();
    await cluster.startHub();
    await cluster.startFrontend(['--heartbeat-ms', '100', '--hub-timeout-ms', '500']);
  });

  after(() => cluster.stopCleanly());

  const endpoints = [['hub', () => cluster.hub.metricsPort], ['frontend', () => cluster.frontends[0].adminPort]];
  for (const [who, portOf] of endpoints) {
    test(`every ${who} scrape is answered within 2 s while clients hit and run`, async () => {
      const port = portOf();
      let stop = false;
      let scrapes = 0;
      const scraper = (async () => {
        while (!stop) {
          await scrape(port, `scrape ${scrapes + 1}`);
          scrapes += 1;
        }
      })();
      const runners = (async () => {
        // A few at a time: more than kMaxClients (16) connections at once close the oldest by design.
        for (let i = 0; i < 150 && !stop; ++i) {
          await Promise.all([hitAndRun(port, i % 2 === 0), hitAndRun(port, i % 2 === 1), hitAndRun(port, false)]);
          await sleep(10);
        }
      })();
      try {
        await Promise.race([scraper, runners]);
      } finally {
        stop = true;
      }
      await Promise.all([scraper, runners]);
      assert.ok(scrapes > 0, 'the scraper scraped');
      await scrape(port, 'a fresh scrape after the storm');
    });
  }

  test('every scrape is answered within 2 s while a twin frontend comes and goes', async () => {
    const port = cluster.hub.metricsPort;
    let stop = false;
    const scraper = (async () => {
      for (let n = 1; !stop; ++n) await scrape(port, `scrape ${n}`);
    })();
    try {
      for (let i = 0; i < 3; ++i) {
        const twin = await cluster.startFrontend(['--id', cluster.frontends[0].name, '--hub-timeout-ms', '1500']);
        await twin.stop();
        cluster.frontends.splice(cluster.frontends.indexOf(twin), 1);
      }
    } finally {
      stop = true;
    }
    await scraper;
    await scrape(port, 'a fresh scrape after the twins');
  });
});
