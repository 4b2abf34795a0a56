// deploy/nginx-webim.conf, the example in docs/deploy.md, run by a real nginx in front of a real
// frontend: only the addresses, ports and certificate paths are replaced (each replacement must
// match, so a reshaped example fails here rather than going untested). Checks what the example
// promises: wss:// upgrade with messages flowing, the per-address connection limit (limit_conn),
// unbuffered SSE for the HTTP fallback, /metrics hidden, /healthz passed, http -> https.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, chmodSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client, Cluster, WebSocket, freePort, until } from './harness.mjs';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const NGINX = ['/usr/sbin/nginx', '/usr/bin/nginx'].find((p) => existsSync(p));
const LIMIT = 64;  // limit_conn webim_per_ip in the example

let cluster, fe, nginx, dir, httpsPort, httpPort;

function replaceOnce(text, from, to) {
  assert.ok(text.includes(from), `deploy/nginx-webim.conf no longer contains ${JSON.stringify(from)}`);
  return text.split(from).join(to);
}

// One HTTPS request to nginx (self-signed certificate); resolves {status, headers, body}.
function get(path, { method = 'GET', headers = {}, body } = {}) {
  return new Promise((resolve, reject) => {
    const req = httpsRequest({ host: '127.0.0.1', port: httpsPort, path, method, rejectUnauthorized: false,
      headers: { Host: 'chat.example.com', ...headers } }, (res) => {
      let data = '';
      res.on('data', (c) => { data += c; });
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: data }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

const wssUrl = () => `wss://127.0.0.1:${httpsPort}/ws`;
const wssOptions = { rejectUnauthorized: false, headers: { Host: 'chat.example.com' } };

before(async () => {
  if (!NGINX) return;
  cluster = new Cluster();
  await cluster.startHub();
  const fePort = await freePort();
  // The example's upstreams are 127.0.0.1 ... 127.0.0.16 on one port: listen on all of them.
  fe = await cluster.startFrontend(['--listen', `0.0.0.0:${fePort}`]);
  dir = mkdtempSync(join(tmpdir(), 'webim-nginx-'));
  chmodSync(dir, 0o755);
  for (const sub of ['body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']) mkdirSync(join(dir, sub), { mode: 0o777 });
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=chat.example.com',
    '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')], { stdio: 'ignore' });
  [httpsPort, httpPort] = [await freePort(), await freePort()];

  let site = readFileSync(join(ROOT, 'deploy', 'nginx-webim.conf'), 'utf8');
  site = replaceOnce(site, ':8080;', `:${fePort};`);
  site = replaceOnce(site, '    listen 80;\n    listen [::]:80;', `    listen 127.0.0.1:${httpPort};`);
  site = replaceOnce(site, '    listen 443 ssl;\n    listen [::]:443 ssl;', `    listen 127.0.0.1:${httpsPort} ssl;`);
  site = replaceOnce(site, '/etc/letsencrypt/live/chat.example.com/fullchain.pem', join(dir, 'cert.pem'));
  site = replaceOnce(site, '/etc/letsencrypt/live/chat.example.com/privkey.pem', join(dir, 'key.pem'));
  writeFileSync(join(dir, 'webim.conf'), site);
  writeFileSync(join(dir, 'nginx.conf'), `worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path ${dir}/body; proxy_temp_path ${dir}/proxy; fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi; scgi_temp_path ${dir}/scgi;
  include ${dir}/webim.conf;
}
`);
  execFileSync(NGINX, ['-t', '-p', dir, '-c', join(dir, 'nginx.conf')], { stdio: 'pipe' });
  nginx = spawn(NGINX, ['-p', dir, '-c', join(dir, 'nginx.conf'), '-g', 'daemon off;'], { stdio: 'inherit' });
  await until(async () => { try { return (await get('/healthz')).status === 200; } catch { return false; } },
    'nginx answering /healthz', 10000, 50);
});

after(async () => {
  if (nginx) {
    nginx.kill('SIGTERM');
    await new Promise((r) => nginx.once('exit', r));
  }
  if (dir) {
    const log = readFileSync(join(dir, 'error.log'), 'utf8');
    if (log.trim()) console.log(`nginx error.log:\n${log.slice(-4000)}`);
    rmSync(dir, { recursive: true, force: true });
  }
  if (cluster) await cluster.stopCleanly();
});

test('the example proxies wss:// to the frontends and messages flow through it', { skip: !NGINX && 'nginx not installed' }, async () => {
  const c = await Client.connect(wssUrl(), wssOptions);
  await c.auth(cluster.token('ngx', ['room:ngx']));
  assert.equal((await c.request('sub', { ch: 'room:ngx' })).op, 'ok');
  const pub = await cluster.appRequest({ op: 'pub', ch: 'room:ngx', data: { text: 'through nginx' } });
  assert.equal(pub.ok, true);
  const [msg] = await c.waitForMsgs(1);
  assert.deepEqual(msg.data, { text: 'through nginx' });
  await c.close();
});

test(`one address may hold ${LIMIT} connections; the next gets 503 until one closes`, { skip: !NGINX && 'nginx not installed' }, async () => {
  const held = [];
  try {
    for (let i = 0; i < LIMIT; i++) held.push(await Client.connect(wssUrl(), wssOptions));
    await assert.rejects(Client.connect(wssUrl(), wssOptions), /HTTP 503/);
    assert.equal((await get('/healthz')).status, 503, 'plain requests count too');
    await held.pop().close();
    await until(async () => (await get('/healthz')).status === 200, 'a slot free again after a close', 5000, 50);
    held.push(await Client.connect(wssUrl(), wssOptions));
    // Every held connection still works.
    await Promise.all(held.map(async (c, i) => c.auth(cluster.token(`held${i}`))));
  } finally {
    await Promise.all(held.map((c) => c.close()));
  }
});

test('SSE through the example is not buffered: a push arrives while the stream is open', { skip: !NGINX && 'nginx not installed' }, async () => {
  const session = await get('/session', { method: 'POST', headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ token: cluster.token('sse', ['room:sse']) }) });
  assert.equal(session.status, 200, session.body);
  const { sid } = JSON.parse(session.body);
  let text = '';
  const req = httpsRequest({ host: '127.0.0.1', port: httpsPort, path: `/events?sid=${encodeURIComponent(sid)}&ch=room:sse`,
    rejectUnauthorized: false, headers: { Host: 'chat.example.com', Accept: 'text/event-stream' } });
  const response = new Promise((resolve, reject) => { req.on('response', resolve); req.on('error', reject); });
  req.end();
  const res = await response;
  assert.equal(res.statusCode, 200);
  res.on('data', (chunk) => { text += chunk; });
  try {
    // The stream says nothing until its subscription is confirmed: push a few small messages
    // (~1 KB in all, less than one proxy buffer) until one shows; a buffering proxy shows none.
    for (let i = 0; i < 8 && !text.includes('"pushed"'); i++) {
      assert.equal((await cluster.appRequest({ op: 'pub', ch: 'room:sse', data: 'pushed' })).ok, true);
      await until(() => text.includes('"pushed"'), 'a push', 300).catch(() => {});
    }
    assert.ok(text.includes('"pushed"'), `no push arrived on the open stream: ${JSON.stringify(text)}`);
  } finally {
    req.destroy();
  }
});

test('/metrics is hidden, /healthz passes, plain http redirects to https', { skip: !NGINX && 'nginx not installed' }, async () => {
  assert.equal((await get('/metrics')).status, 404);
  const health = await get('/healthz');
  assert.equal(health.status, 200);
  const redirect = await new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port: httpPort, path: '/ws', headers: { Host: 'chat.example.com' } },
      (res) => { res.resume(); resolve(res); });
    req.on('error', reject);
    req.end();
  });
  assert.equal(redirect.statusCode, 301);
  assert.equal(redirect.headers.location, 'https://chat.example.com/ws');
});
