// The example PHP site (deploy/php-example) under `php -S`, against a real hub and frontend: log in
// through the form (HTTP with a cookie jar), take the token chat.php issues to a WebSocket client
// (with the PHP page's Origin) and check its grants, push an announcement through admin.php
// (Webim\Hub on the app ingress) and receive it on pub:all with the seq the page shows, see clear
// errors from a misconfigured site (hub not answering, no secret file). Then, when Chromium exists,
// the same in a real browser: the chat page connects, the announcement appears (screenshot in
// WEBIM_SCREENSHOT_DIR or the working directory).
//
// Skips (prints "skipped: php-cli not found ..." / "skipped: php-zmq ...") without php-cli + php-zmq.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';

import { Client, Cluster, Process, freePort, sleep } from './harness.mjs';

const PHP = process.env.WEBIM_PHP || 'php';
const CHROMIUM = process.env.WEBIM_CHROMIUM || '/usr/bin/chromium';
const REPO = fileURLToPath(new URL('../..', import.meta.url));
const SITE = join(REPO, 'deploy/php-example');
const SHOT_DIR = process.env.WEBIM_SCREENSHOT_DIR || process.cwd();
const require = createRequire(new URL('../node/package.json', import.meta.url));

function phpSkipReason() {
  const probe = spawnSync(PHP, ['-r', 'echo extension_loaded("zmq") ? "zmq" : "no-zmq";'], { encoding: 'utf8' });
  if (probe.error || probe.status !== 0) return `php-cli not found (${PHP}): apt-get install php-cli php-zmq`;
  if (probe.stdout !== 'zmq') return 'php-zmq is not loaded (admin.php needs it): apt-get install php-zmq';
  return false;
}
const SKIP = phpSkipReason();
if (SKIP) console.log(`skipped: ${SKIP}`);
const haveChromium = existsSync(CHROMIUM);

// `php -S 127.0.0.1:port -t deploy/php-example` with the site's settings in its environment.
async function startSite(name, port, env, sessionDir) {
  mkdirSync(sessionDir, { recursive: true });
  const vars = Object.entries(env).map(([k, v]) => `${k}=${v}`);
  const site = new Process(name, 'env', [...vars, PHP, '-d', `session.save_path=${sessionDir}`,
    '-S', `127.0.0.1:${port}`, '-t', SITE]);
  site.base = `http://127.0.0.1:${port}`;
  site.origin = site.base;
  const deadline = Date.now() + 10000;
  for (;;) {
    try {
      if ((await fetch(`${site.base}/`)).status === 200) return site;
    } catch {}
    if (site.child.exitCode !== null || Date.now() > deadline) throw new Error(`${name} did not start:\n${site.log}`);
    await sleep(100);
  }
}

// A minimal browser for HTTP: keeps cookies, does not follow redirects, posts forms.
class Session {
  constructor(base) {
    this.base = base;
    this.cookies = new Map();
  }
  async request(path, { form, headers = {} } = {}) {
    const res = await fetch(new URL(path, this.base), {
      method: form ? 'POST' : 'GET',
      redirect: 'manual',
      headers: {
        ...(this.cookies.size ? { Cookie: [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ') } : {}),
        ...(form ? { 'Content-Type': 'application/x-www-form-urlencoded' } : {}),
        ...headers,
      },
      body: form ? new URLSearchParams(form).toString() : undefined,
    });
    for (const line of res.headers.getSetCookie()) {
      const [pair] = line.split(';');
      const eq = pair.indexOf('=');
      const [k, v] = [pair.slice(0, eq).trim(), pair.slice(eq + 1).trim()];
      if (v === '' || /expires=Thu, 01 Jan 1970/i.test(line) || /max-age=0/i.test(line)) this.cookies.delete(k);
      else this.cookies.set(k, v);
    }
    return { status: res.status, location: res.headers.get('location'), type: res.headers.get('content-type'), body: await res.text() };
  }
  // Logs in through the form; resolves with the chat page's config (user, token, wsUrls, ...).
  async login(name) {
    const form = await this.request('/');
    assert.equal(form.status, 200);
    const res = await this.request('/index.php', { form: { csrf: field(form.body, 'csrf'), name } });
    assert.equal(res.status, 303, `login as ${name}: ${res.body}`);
    assert.match(res.location, /chat\.php$/);
  }
  async chatConfig() {
    const page = await this.request('/chat.php');
    assert.equal(page.status, 200, page.body);
    const m = page.body.match(/<script type="application\/json" id="webim-config">(.*?)<\/script>/s);
    assert.ok(m, 'chat.php embeds the client config');
    return JSON.parse(m[1]);
  }
}

const field = (html, name) => html.match(new RegExp(`name="${name}" value="([^"]*)"`))?.[1];
const claimsOf = (jwt) => JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url').toString());

describe('PHP example site (deploy/php-example)', { skip: SKIP || false, timeout: 60000 }, () => {
  let cluster;
  let fe;
  let site;
  let broken; // the same site, misconfigured: a hub that never answers, no secret file
  let browser;

  before(async () => {
    const [port, brokenPort] = [await freePort(), await freePort()];
    cluster = new Cluster();
    await cluster.startHub();
    // The chat page (PHP origin) opens WebSockets to the frontend (another origin: another port).
    fe = await cluster.startFrontend(['--allowed-origins', `http://127.0.0.1:${port}`,
      '--static-dir', `/=${join(REPO, 'clients/demo')}`, '--static-dir', `/js/=${join(REPO, 'clients/js')}`]);
    site = await startSite('php', port, {
      WEBIM_SECRET_FILE: cluster.secretFile,
      WEBIM_APP_INGRESS: cluster.endpoints.app,
      WEBIM_FRONTEND_URL: `http://127.0.0.1:${fe.port}`,
    }, join(cluster.dir, 'sessions'));
    broken = await startSite('php-broken', brokenPort, {
      WEBIM_SECRET_FILE: join(cluster.dir, 'no-such-secret'),
      WEBIM_APP_INGRESS: `ipc://${cluster.dir}/nobody-listens`,
      WEBIM_FRONTEND_URL: `http://127.0.0.1:${fe.port}`,
      WEBIM_HUB_TIMEOUT_MS: '600',
    }, join(cluster.dir, 'sessions-broken'));
  });

  after(async () => {
    await browser?.close();
    for (const s of [site, broken]) await s?.stop();
    const results = await cluster?.stop();
    for (const [name, r] of Object.entries(results ?? {})) {
      assert.deepEqual(r, { code: 0, signal: null }, `${name} did not exit cleanly:\n${cluster.logs()}`);
    }
  });

  test('login form -> chat.php issues a token the frontend accepts, with the documented grants', async () => {
    const http = new Session(site.base);
    const anonymous = await http.request('/chat.php');
    assert.equal(anonymous.status, 303, 'chat.php requires login');
    assert.match(anonymous.location, /index\.php$/);
    assert.equal((await http.request('/admin.php')).status, 303, 'admin.php requires login');
    assert.equal((await http.request('/token.php')).status, 401, 'token.php requires login');

    const form = await http.request('/');
    const bad = await http.request('/index.php', { form: { csrf: field(form.body, 'csrf'), name: 'bad:name x' } });
    assert.equal(bad.status, 400);
    assert.match(bad.body, /id="error"/);
    const forged = await http.request('/index.php', { form: { csrf: 'nope', name: 'alice' } });
    assert.equal(forged.status, 403, 'the login form checks its CSRF token');

    await http.login('alice');
    const cfg = await http.chatConfig();
    assert.equal(cfg.user, 'alice');
    assert.deepEqual(cfg.wsUrls, [fe.url]);
    const claims = claimsOf(cfg.token);
    assert.equal(claims.sub, 'alice');
    assert.deepEqual(claims.ch, ['room:*', 'pub:*', 'user:alice']);
    assert.deepEqual(claims.pub, ['room:*', 'user:*']);
    assert.equal(claims.exp - claims.iat, 3600);
    assert.ok(Math.abs(claims.iat - Date.now() / 1000) < 60);

    const js = await http.request('/webim-js.php');
    assert.equal(js.status, 200);
    assert.match(js.type, /javascript/);
    assert.match(js.body, /export class WebimClient/);

    // The frontend accepts the PHP page's Origin (--allowed-origins), and no other foreign one.
    await assert.rejects(Client.connect(fe.url, { origin: 'http://127.0.0.1:1' }), /HTTP 403/);
    const ws = await Client.connect(fe.url, { origin: site.origin });
    try {
      assert.equal((await ws.auth(cfg.token)).user, 'alice');
      const expect = async (op, fields, outcome) => {
        const reply = await ws.request(op, fields);
        const got = reply.op === 'ok' ? 'ok' : reply.code;
        assert.equal(got, outcome, `${op} ${JSON.stringify(fields)}: ${JSON.stringify(reply)}`);
      };
      await expect('sub', { ch: 'room:lobby' }, 'ok');                                   // rooms by grant
      await expect('sub', { ch: 'pub:all' }, 'ok');                                      // broadcasts: read
      await expect('pub', { ch: 'pub:all', data: { text: 'x' }, cid: 'a1' }, 'forbidden'); // never publish
      await expect('sub', { ch: 'user:alice' }, 'ok');                                   // own inbox
      await expect('pub', { ch: 'room:lobby', data: { text: 'hi' }, cid: 'a2' }, 'ok');
      await expect('pub', { ch: 'dm:alice:bob', data: { text: 'psst' }, cid: 'a3' }, 'ok'); // DMs: no grant
      await expect('pub', { ch: 'user:bob', data: { type: 'dm', ch: 'dm:alice:bob' }, cid: 'a4' }, 'ok'); // DM notice
      await expect('sub', { ch: 'user:bob' }, 'forbidden');                              // others' inboxes
    } finally {
      await ws.close();
    }

    // A fresh token for the JS client's getToken, from the session.
    const fresh = await http.request('/token.php');
    assert.equal(fresh.status, 200);
    assert.equal(claimsOf(fresh.body.trim()).sub, 'alice');
    const probe = await Client.connect(fe.url);
    await probe.auth(fresh.body.trim());
    await probe.close();

    // Logout ends the session.
    const chat = await http.request('/chat.php');
    assert.equal((await http.request('/logout.php', { form: { csrf: field(chat.body, 'csrf') } })).status, 303);
    assert.equal((await http.request('/chat.php')).status, 303, 'logged out');
  });

  test('admin.php pushes {text, by} to pub:all through the hub; subscribers get it with the seq the page shows', async () => {
    const watcher = await Client.connect(fe.url);
    await watcher.auth(cluster.token('watcher', ['pub:*']));
    const sub = await watcher.request('sub', { ch: 'pub:all' });
    assert.equal(sub.op, 'ok');

    const http = new Session(site.base);
    await http.login('alice');
    const form = await http.request('/admin.php');
    assert.equal(form.status, 200);
    const [csrf, cid] = [field(form.body, 'csrf'), field(form.body, 'cid')];
    assert.ok(csrf && cid, 'the form carries a CSRF token and a cid');
    assert.equal((await http.request('/admin.php', { form: { csrf: 'forged', cid, text: 'x' } })).status, 403);
    assert.equal((await http.request('/admin.php', { form: { csrf, cid, text: '  ' } })).status, 400);

    const text = `Maintenance at 22:00 <b>${Date.now()}</b>`;
    const res = await http.request('/admin.php', { form: { csrf, cid, text } });
    assert.equal(res.status, 200, res.body);
    const seq = Number(res.body.match(/id="result" data-seq="(\d+)"/)?.[1]);
    assert.ok(seq > sub.seq, `the page shows the stored seq: ${res.body.match(/id="result"[^]*?<\/p>/)?.[0]}`);
    assert.doesNotMatch(res.body, /<b>\d+<\/b>/, 'nothing user-provided is echoed unescaped');

    const [msg] = await watcher.waitForMsgs(1, (m) => m.ch === 'pub:all' && m.seq === seq);
    assert.deepEqual(msg.data, { text, by: 'alice' });
    assert.equal(msg.from, 'admin');

    // Sending the same form again (same cid): the hub answers with the first seq, stores nothing.
    const again = await http.request('/admin.php', { form: { csrf, cid, text } });
    assert.equal(Number(again.body.match(/id="result" data-seq="(\d+)"/)?.[1]), seq);
    await sleep(300);
    assert.equal(watcher.msgs.filter((m) => m.ch === 'pub:all').length, 1, 'one message for one cid');
    const hist = await cluster.appRequest({ op: 'hist', ch: 'pub:all', after: 0, limit: 50 });
    assert.equal(hist.msgs.filter((m) => m.data.text === text).length, 1);
    await watcher.close();
  });

  test('a misconfigured site says what is wrong: hub timeout on admin.php, no secret file on chat.php', async () => {
    const http = new Session(broken.base);
    await http.login('bob');
    const chat = await http.request('/chat.php');
    assert.equal(chat.status, 500);
    assert.match(chat.body, /cannot read the token secret file .*no-such-secret/);

    const form = await http.request('/admin.php');
    const cid = field(form.body, 'cid');
    const started = Date.now();
    const res = await http.request('/admin.php', { form: { csrf: field(form.body, 'csrf'), cid, text: 'anyone there?' } });
    assert.equal(res.status, 504, res.body);
    assert.ok(Date.now() - started < 5000);
    assert.match(res.body, /id="error" data-code="timeout"/);
    assert.match(res.body, /did not answer within 600 ms/);
    assert.equal(field(res.body, 'cid'), cid, 'the retry form keeps the cid, so a resend is stored once');
    assert.match(res.body, /Send again \(same cid\)/);
  });

  test('in Chromium: log in through the form, the chat page goes online, shows the admin announcement and chats', {
    skip: !haveChromium && `chromium not installed (${CHROMIUM})`,
  }, async () => {
    const { chromium } = require('playwright-core');
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
        '--disable-component-update', '--disable-sync'],
    });
    const context = await browser.newContext({ viewport: { width: 1180, height: 720 } });
    const page = await context.newPage();
    const errors = [];
    const log = [];
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('console', (m) => log.push(`${m.type()}: ${m.text()}`));

    await page.goto(`${site.base}/`);
    await page.fill('input[name="name"]', 'carol');
    await page.click('#login button[type="submit"]');
    await page.waitForURL(/\/chat\.php$/);
    try {
      await page.waitForSelector('#state[data-state="open"]', { timeout: 10000 });
    } catch (e) {
      throw new Error(`the chat page did not go online: ${await page.textContent('#state')} ${await page.textContent('#state-detail')}; console: ${log.join(' | ')}`);
    }
    assert.equal(await page.textContent('#user'), 'carol');
    assert.match(await page.textContent('#state'), /online · websocket/);
    // The announcement of the previous test, from history.
    await page.waitForSelector('#announcements li.msg:has-text("Maintenance at 22:00")');

    // Chat in the room: a WebSocket client sees the page's message, the page sees the client's.
    const bob = await Client.connect(fe.url);
    await bob.auth(cluster.token('bob', ['room:*'], { pub: ['room:*'] }));
    await bob.request('sub', { ch: 'room:lobby' });
    await page.fill('#composer input', 'hello from carol');
    await page.press('#composer input', 'Enter');
    const [fromCarol] = await bob.waitForMsgs(1, (m) => m.ch === 'room:lobby' && m.from === 'carol');
    assert.deepEqual(fromCarol.data, { text: 'hello from carol' });
    await page.waitForSelector(`#messages li.msg.mine[data-seq="${fromCarol.seq}"]:not(.pending)`);
    await bob.request('pub', { ch: 'room:lobby', data: { text: 'hi carol, bob here' }, cid: 'b1' });
    await page.waitForSelector('#messages li.msg:has-text("hi carol, bob here")');
    await bob.close();

    // A push from the app to carol's inbox.
    await cluster.appRequest({ op: 'pub', ch: 'user:carol', data: { text: 'Your invoice is paid' }, from: 'billing', cid: 'inv-1' });
    await page.waitForSelector('#inbox li.msg:has-text("Your invoice is paid")');

    // An announcement through the admin form, in a second tab of the same session.
    const admin = await context.newPage();
    admin.on('pageerror', (e) => errors.push(e.message));
    await admin.goto(`${site.base}/admin.php`);
    await admin.fill('textarea[name="text"]', 'Welcome to the PHP example, everyone!');
    await admin.click('#announce button[type="submit"]');
    const seq = Number(await (await admin.waitForSelector('#result')).getAttribute('data-seq'));
    assert.ok(seq > 1);
    await page.waitForSelector(`#announcements li.msg[data-seq="${seq}"]:has-text("Welcome to the PHP example, everyone!")`);
    assert.match(await page.textContent(`#announcements li.msg[data-seq="${seq}"] .from`), /carol/, 'shows who announced');

    const shot = join(SHOT_DIR, 'php_example_chat.png');
    const adminShot = join(SHOT_DIR, 'php_example_admin.png');
    await page.bringToFront();
    await page.screenshot({ path: shot, fullPage: true });
    await admin.screenshot({ path: adminShot, fullPage: true });
    console.log(`screenshot: ${shot}`);
    console.log(`screenshot: ${adminShot}`);

    // The link to the full demo chat page: served by the frontend (same origin as the WebSocket),
    // the token in the fragment.
    const demo = await context.newPage();
    demo.on('pageerror', (e) => errors.push(e.message));
    await demo.goto(await page.getAttribute('#demo-link', 'href'));
    await demo.waitForSelector('#state[data-state="open"]', { timeout: 10000 });
    assert.equal(await demo.textContent('#me'), 'signed in as carol');
    assert.deepEqual(errors, [], 'no page errors');
    await context.close();
  });
});
