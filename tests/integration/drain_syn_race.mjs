// Run inside its own network namespace by scripts/drain-syn-race (unshare -rn): two frontends on
// one port (SO_REUSEPORT), clients connecting as fast as they can while one frontend is drained
// (SIGTERM), with net.ipv4.tcp_migrate_req as set by the caller. Counts the connections that were
// reset or refused instead of upgraded: the handshakes that raced the drained listener's close.
// Prints one JSON line.
import net from 'node:net';

import { Cluster, sleep } from './harness.mjs';

const RATE_PARALLEL = Number(process.env.PARALLEL || 200);  // connection attempts in flight
const cluster = new Cluster();
await cluster.startHub();
const fe1 = await cluster.startFrontend(['--drain-window-ms', '1000']);
const port = fe1.port;
await cluster.startFrontend(['--listen', `127.0.0.1:${port}`]);
const counts = { upgraded: 0, reset: 0, refused: 0, other: 0 };
let running = true;

function attempt() {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    let answer = '';
    const done = (what) => { counts[what]++; socket.destroy(); resolve(); };
    socket.on('connect', () => socket.write('GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
      'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n'));
    socket.on('data', (d) => {
      answer += d.toString('latin1');
      if (answer.startsWith('HTTP/1.1 101')) done('upgraded');
    });
    socket.on('error', (e) => done(e.code === 'ECONNRESET' ? 'reset' : e.code === 'ECONNREFUSED' ? 'refused' : 'other'));
    socket.on('close', () => { if (!socket.destroyed || answer === '') resolve(); });
  });
}

const loops = Array.from({ length: RATE_PARALLEL }, async () => {
  while (running) await attempt();
});
await sleep(1000);
const before = { ...counts };
fe1.child.kill('SIGTERM');
const exit = await fe1.exited;
await sleep(500);
running = false;
await Promise.all(loops);
await cluster.stop();
console.log(JSON.stringify({ before, total: counts, exit }));
