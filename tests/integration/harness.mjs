// Test harness: starts a real hub and real frontends on ephemeral endpoints in a temp dir, issues
// tokens the way the PHP app does (HS256 with Node's crypto, independent of our C++ code), and
// drives real WebSocket clients (Node's `ws`, a strict RFC 6455 client).
import { execFile, spawn } from 'node:child_process';
import { createHmac, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { createServer } from 'node:net';
import { join } from 'node:path';

const require = createRequire(new URL('../node/package.json', import.meta.url));
export const WebSocket = require('ws');

export const FRONTEND = process.env.WEBIM_FRONTEND;
export const BROADCAST = process.env.WEBIM_BROADCAST;
if (!FRONTEND || !BROADCAST) throw new Error('set WEBIM_FRONTEND and WEBIM_BROADCAST to the built binaries');

const b64url = (buf) => Buffer.from(buf).toString('base64url');

export function makeToken(secret, claims, header = { alg: 'HS256', typ: 'JWT' }) {
  const now = Math.floor(Date.now() / 1000);
  const body = { iat: now, exp: now + 3600, ...claims };
  const signingInput = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(body))}`;
  const signature = createHmac('sha256', secret).update(signingInput).digest();
  return `${signingInput}.${b64url(signature)}`;
}

// Resolves with the first stderr line matching `pattern` (the process's readiness line).
function waitForLine(child, pattern, what, timeoutMs = 15000) {
  return new Promise((resolve, reject) => {
    let seen = '';
    const timer = setTimeout(() => reject(new Error(`${what} not ready in ${timeoutMs} ms:\n${seen}`)), timeoutMs);
    const onData = (chunk) => {
      seen += chunk.toString();
      const m = seen.match(pattern);
      if (m) {
        clearTimeout(timer);
        child.stderr.off('data', onData);
        resolve(m);
      }
    };
    child.stderr.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${what} exited with ${code} before it was ready:\n${seen}`));
    });
  });
}

export class Process {
  constructor(name, bin, args) {
    this.name = name;
    this.log = '';
    this.child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child.stderr.on('data', (d) => { this.log += d.toString(); });
    this.child.stdout.on('data', (d) => { this.log += d.toString(); });
    this.exited = new Promise((resolve) => this.child.once('exit', (code, signal) => resolve({ code, signal })));
  }
  async stop(signal = 'SIGTERM', timeoutMs = 10000) {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return this.exited;
    this.child.kill(signal);
    const timer = setTimeout(() => this.child.kill('SIGKILL'), timeoutMs);
    const result = await this.exited;
    clearTimeout(timer);
    return result;
  }
}

export class Cluster {
  constructor() {
    this.dir = mkdtempSync(join(tmpdir(), 'webim-it-'));
    this.secret = randomBytes(32).toString('hex');
    this.secretFile = join(this.dir, 'secret');
    writeFileSync(this.secretFile, this.secret + '\n');
    this.apiKey = randomBytes(24).toString('hex');
    this.apiKeyFile = join(this.dir, 'api-keys');
    writeFileSync(this.apiKeyFile, this.apiKey + '\n');
    this.endpoints = {
      app: `ipc://${this.dir}/app`,
      ingress: `ipc://${this.dir}/ingress`,
      pub: `ipc://${this.dir}/pub`,
    };
    this.frontends = [];
    this.hub = null;
  }

  async startHub(extraArgs = []) {
    this.hubArgs = extraArgs;
    this.hub = new Process('hub', BROADCAST, [
      '--app-ingress', this.endpoints.app, '--hub-ingress', this.endpoints.ingress,
      '--hub-pub', this.endpoints.pub, '--data', join(this.dir, 'hub'), '--log-level', 'info', ...extraArgs,
    ]);
    await waitForLine(this.hub.child, /webim-broadcast ready/, 'hub');
    this.hub.metricsPort = hubMetricsPort(this.hub);
    return this.hub;
  }

  // The hub with failpoints set (WEBIM_FAILPOINTS, common/failpoint.h): only this process sees them.
  async startHubWith(failpoints, extraArgs = []) {
    process.env.WEBIM_FAILPOINTS = failpoints;
    try {
      return await this.startHub(extraArgs);
    } finally {
      delete process.env.WEBIM_FAILPOINTS;
    }
  }

  // Several hubs, each owning part of the slots through one shard table (docs/protocol.md section 4).
  // Frontends started afterwards connect to all of them (--shards). curveKeys: one
  // { pub, key } (files from `webim-broadcast keygen`) per hub, for hubs that speak CURVE.
  async startShards(ranges, extraArgs = [], curveKeys = []) {
    const shards = ranges.map((slots, i) => ({
      name: `hub${i}`,
      slots,
      app_ingress: `ipc://${this.dir}/app${i}`,
      hub_ingress: `ipc://${this.dir}/ingress${i}`,
      hub_pub: `ipc://${this.dir}/pub${i}`,
      ...(curveKeys[i] ? { curve_server_key: readFileSync(curveKeys[i].pub, 'utf8').trim() } : {}),
    }));
    this.shardFile = join(this.dir, 'shards.json');
    writeFileSync(this.shardFile, JSON.stringify({ slots: 1024, shards }));
    this.shardHubs = [];
    for (const [i, shard] of shards.entries()) {
      const hub = new Process(shard.name, BROADCAST, [
        '--app-ingress', shard.app_ingress, '--hub-ingress', shard.hub_ingress, '--hub-pub', shard.hub_pub,
        '--data', join(this.dir, shard.name), '--shards', this.shardFile, '--shard', shard.name,
        ...(curveKeys[i] ? ['--curve-secret-key-file', curveKeys[i].key] : []), ...extraArgs,
      ]);
      await waitForLine(hub.child, /webim-broadcast ready/, shard.name);
      hub.metricsPort = hubMetricsPort(hub);
      this.shardHubs.push(hub);
    }
    this.endpoints.app = shards[0].app_ingress;
    return shards;
  }

  // `--id`, `--listen`, `--admin-listen` or `--drain-window-ms` in extraArgs replace the defaults
  // (fe1, fe2, ...; an ephemeral port each; 0). fe.port is the public port, fe.adminPort the private
  // one (/metrics, /api).
  async startFrontend(extraArgs = []) {
    const take = (flag, fallback) => {
      const at = extraArgs.indexOf(flag);
      if (at < 0) return fallback;
      const value = extraArgs[at + 1];
      extraArgs = [...extraArgs.slice(0, at), ...extraArgs.slice(at + 2)];
      return value;
    };
    const id = take('--id', `fe${this.frontends.length + 1}`);
    const listen = take('--listen', '127.0.0.1:0');
    // Tests stop frontends with open clients: close them all at once unless a test drains.
    const drainWindow = take('--drain-window-ms', '0');
    const adminListen = take('--admin-listen', '127.0.0.1:0');
    const fe = new Process(id, FRONTEND, [
      '--listen', listen, '--admin-listen', adminListen, '--hub-ingress', this.endpoints.ingress, '--hub-pub', this.endpoints.pub,
      '--secret-file', this.secretFile, '--api-key-file', this.apiKeyFile, '--id', id, '--log-level', 'info',
      '--drain-window-ms', drainWindow,
      ...(this.shardFile ? ['--shards', this.shardFile] : []), ...extraArgs,
    ]);
    const m = await waitForLine(fe.child, /webim-frontend ready.* listening on (?:127\.0\.0\.1|0\.0\.0\.0):(\d+)/, id);
    fe.port = Number(m[1]);
    fe.adminPort = Number(fe.log.match(/private listener .* on 127\.0\.0\.1:(\d+)/)[1]);
    privatePorts.set(fe.port, fe.adminPort);
    fe.url = `ws://127.0.0.1:${fe.port}/ws`;
    this.frontends.push(fe);
    return fe;
  }

  // One request on the hub's app ingress (as the PHP app sends it), through `webim-broadcast request`.
  appRequest(request, timeoutMs = 5000, endpoint = this.endpoints.app) {
    return hubRequest(endpoint, request, timeoutMs);
  }

  // The hub's `stats` reply (failing unless it is ok).
  async hubStats(endpoint = this.endpoints.app) {
    const stats = await this.appRequest({ op: 'stats' }, 5000, endpoint);
    if (stats.ok !== true) throw new Error(`stats failed: ${JSON.stringify(stats)}`);
    return stats;
  }

  // Several requests through one `webim-broadcast request -`; see hubRequests.
  appRequests(requests, timeoutMs = 5000, endpoint = this.endpoints.app) {
    return hubRequests(endpoint, requests, timeoutMs);
  }

  token(sub, ch = [], extra = {}) {
    return makeToken(this.secret, { sub, ch, ...extra });
  }

  // Stops everything with SIGTERM and returns each process's exit status (all must be clean).
  async stop() {
    const results = {};
    for (const fe of this.frontends) results[fe.name] = await fe.stop();
    if (this.hub) results.hub = await this.hub.stop();
    for (const hub of this.shardHubs || []) results[hub.name] = await hub.stop();
    rmSync(this.dir, { recursive: true, force: true });
    return results;
  }

  // stop(), then fails unless every process exited 0 on SIGTERM (nothing crashed or hung).
  async stopCleanly() {
    const results = await this.stop();
    const unclean = Object.entries(results).filter(([, r]) => r.code !== 0 || r.signal !== null);
    if (unclean.length > 0) {
      throw new Error(`did not exit cleanly: ${JSON.stringify(Object.fromEntries(unclean))}\n${this.logs()}`);
    }
  }

  // What a failing test prints to explain itself: the hub's stats, each frontend's metrics (those
  // not 0), and the tail of every process's log.
  async diagnose(tailChars = 3000) {
    const parts = [];
    try { parts.push(`hub stats: ${JSON.stringify(await this.hubStats())}`); } catch (e) { parts.push(`hub stats: ${e.message}`); }
    for (const fe of this.frontends) {
      try {
        const body = (await httpGet(fe.port, '/metrics')).body;
        parts.push(`${fe.name}: ${body.split('\n').filter((l) => l.startsWith('webim_') && !l.endsWith(' 0')).join(' ')}`);
      } catch (e) { parts.push(`${fe.name} metrics: ${e.message}`); }
    }
    for (const p of [this.hub, ...(this.shardHubs || []), ...this.frontends].filter(Boolean)) {
      parts.push(`--- ${p.name} (log tail)\n${p.log.slice(-tailChars)}`);
    }
    return parts.join('\n');
  }

  logs() {
    return [this.hub, ...(this.shardHubs || []), ...this.frontends].filter(Boolean).map((p) => `--- ${p.name}\n${p.log}`).join('\n');
  }
}

// new Cluster() for each call, every one stopped by `afterHook` (node:test's `after`).
export function clusterPool(afterHook) {
  const clusters = [];
  afterHook(async () => {
    for (const c of clusters) await c.stop();
  });
  return () => {
    const c = new Cluster();
    clusters.push(c);
    return c;
  };
}

// A protocol client: request() resolves with the reply carrying the same id; messages are queued.
export class Client {
  static async connect(url, options = {}) {
    const client = new Client(new WebSocket(url, options));
    await new Promise((resolve, reject) => {
      client.ws.once('open', resolve);
      client.ws.once('error', reject);
      client.ws.once('unexpected-response', (req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
    });
    return client;
  }

  constructor(ws) {
    this.ws = ws;
    this.nextId = 1;
    this.waiting = new Map();
    this.msgs = [];
    this.msgWaiters = [];
    this.closed = new Promise((resolve) => ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })));
    ws.on('error', () => {});
    ws.on('message', (data, isBinary) => {
      const obj = JSON.parse(data.toString());
      if (obj.op === 'msg' || obj.op === 'resync') {
        this.msgs.push(obj);
        this.msgWaiters = this.msgWaiters.filter((w) => !w());
      } else if (this.waiting.has(obj.id)) {
        this.waiting.get(obj.id)(obj);
        this.waiting.delete(obj.id);
      }
    });
  }

  request(op, fields = {}, timeoutMs = 5000) {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no reply to ${op} #${id}`)), timeoutMs);
      this.waiting.set(id, (reply) => { clearTimeout(timer); resolve(reply); });
      this.ws.send(JSON.stringify({ op, id, ...fields }));
    });
  }

  // A publish sent again with its cid until it is acked (a hub restarting, a store undoing a failed
  // batch), pausing 200 ms after each refusal; resolves with the last reply.
  async publishUntilOk(fields, { attempts = 20, timeoutMs = 5000 } = {}) {
    let reply;
    for (let attempt = 0; attempt < attempts && reply?.op !== 'ok'; attempt++) {
      reply = await this.request('pub', fields, timeoutMs);
      if (reply.op !== 'ok') await sleep(200);
    }
    return reply;
  }

  async auth(token) {
    const reply = await this.request('auth', { token });
    if (reply.op !== 'ok') throw new Error(`auth failed: ${JSON.stringify(reply)}`);
    return reply;
  }

  // Waits until `count` msgs matching `filter` have arrived; resolves with them.
  waitForMsgs(count, filter = () => true, timeoutMs = 5000) {
    return new Promise((resolve, reject) => {
      const check = () => {
        const got = this.msgs.filter(filter);
        if (got.length >= count) {
          clearTimeout(timer);
          resolve(got);
          return true;
        }
        return false;
      };
      const timer = setTimeout(() => {
        this.msgWaiters = this.msgWaiters.filter((w) => w !== check);
        const got = this.msgs.filter(filter);
        const seqs = got.map((m) => m.seq).join(',').slice(0, 300);
        reject(new Error(`got ${got.length}/${count} msgs (seqs ${seqs})`));
      }, timeoutMs);
      if (!check()) this.msgWaiters.push(check);
    });
  }

  close() {
    this.ws.close(1000);
    return this.closed;
  }
}

// A frontend's private port (admin_listen: /metrics, /api) from its public one (fe.port); the
// port itself when it is not a frontend's started by a Cluster.
const privatePorts = new Map();
export function privatePort(port) {
  return privatePorts.get(port) ?? port;
}

// The port of a hub's metrics listener (metrics_listen; its log names the one bound).
function hubMetricsPort(hub) {
  const m = hub.log.match(/metrics on 127\.0\.0\.1:(\d+)/);
  return m ? Number(m[1]) : undefined;
}

// POST /api/<path> on a frontend (by its public port: sent to its private listener) with the
// cluster's API key (or `key`); resolves {status, body}.
export async function apiPost(port, path, body, key) {
  const res = await fetch(`http://127.0.0.1:${privatePort(port)}/api/${path}`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', ...(key === null ? {} : { Authorization: `Bearer ${key}` }) },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  let json;
  try { json = JSON.parse(text); } catch { json = text; }
  return { status: res.status, body: json };
}

// A port nothing listens on right now (on 127.0.0.1).
export async function freePort() {
  const server = createServer();
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

// Runs a program to its end: { code, stdout, stderr } (code 1 when it was killed by a signal).
// `webim-broadcast request` exits 3 when the hub answered {"ok":false,...}: still an answer.
const HUB_REFUSED = 3;
function runHubRequest(endpoint, args, timeoutMs, stdin) {
  return new Promise((resolve, reject) => {
    const child = execFile(BROADCAST, ['request', '--app-ingress', endpoint, '--timeout-ms', String(timeoutMs), ...args],
      { maxBuffer: 256 << 20 }, (error, stdout, stderr) => {
        if (error && !(error.code === HUB_REFUSED && stdout)) reject(new Error(`app request failed: ${stderr || error.message}`));
        else resolve(stdout);
      });
    if (stdin !== undefined) child.stdin.end(stdin);
  });
}

// One request on a hub's app ingress (as the PHP app sends it); resolves with the parsed reply,
// ok or not; rejects when the hub does not answer within timeoutMs.
export async function hubRequest(endpoint, request, timeoutMs = 5000) {
  return JSON.parse(await runHubRequest(endpoint, [JSON.stringify(request)], timeoutMs));
}

// Several requests through one `webim-broadcast request -` (pipelined); the replies in order.
export async function hubRequests(endpoint, requests, timeoutMs = 5000) {
  const stdout = await runHubRequest(endpoint, ['-'], timeoutMs, requests.map((r) => JSON.stringify(r)).join('\n') + '\n');
  return stdout.split('\n').filter((line) => line).map((line) => JSON.parse(line));
}

export function runProgram(bin, args, options = {}) {
  return new Promise((resolve) => {
    execFile(bin, args, { timeout: 20000, ...options }, (error, stdout, stderr) => {
      resolve({ code: error ? (error.code ?? 1) : 0, stdout, stderr });
    });
  });
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Resolves with the first truthy value of `check()` (which may be async), polling every
// `intervalMs`; rejects naming `what` after the deadline.
export async function until(check, what, timeoutMs = 8000, intervalMs = 20) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(intervalMs);
  }
}

// The HTTP fallback's event stream: POST /session on `sessionPort` with `token`, then GET /events
// (SSE) for `channels` on `streamPort`. Everything received accumulates in `text()`; `cancel()` ends it.
export async function openEventStream(sessionPort, streamPort, token, channels) {
  const session = await fetch(`http://127.0.0.1:${sessionPort}/session`, { method: 'POST', body: JSON.stringify({ token }) });
  const { sid } = await session.json();
  const stream = await fetch(`http://127.0.0.1:${streamPort}/events?sid=${sid}&ch=${channels}`, {
    headers: { Accept: 'text/event-stream' },
  });
  const reader = stream.body.getReader();
  let text = '';
  (async () => {
    for (;;) {
      const { done, value } = await reader.read().catch(() => ({ done: true }));
      if (done) break;
      text += new TextDecoder().decode(value);
    }
  })();
  return { sid, status: stream.status, text: () => text, cancel: () => reader.cancel() };
}

// GET `path` on a frontend by its public port; /metrics and /api/ go to its private listener.
export async function httpGet(port, path) {
  const to = path.startsWith('/metrics') || path.startsWith('/api/') ? privatePort(port) : port;
  const res = await fetch(`http://127.0.0.1:${to}${path}`);
  return { status: res.status, body: await res.text() };
}
