// The demo chat page (clients/demo) in headless Chromium, served by the frontends themselves
// (--static-dir mounts), two users on two frontend processes. The frontend serving page 1 is
// SIGKILLed; page 1 reconnects to the other one and shows every message sent meanwhile, once, in order.
// Then pages whose WebSocket is blocked chat through the HTTP fallback (SSE, and long-poll when SSE
// is blocked too) with a page on WebSocket.
//
// Skips (prints "skipped: chromium not installed") when /usr/bin/chromium is absent.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';

import { Client, Cluster } from './harness.mjs';

const CHROMIUM = process.env.WEBIM_CHROMIUM || '/usr/bin/chromium';
const REPO = fileURLToPath(new URL('../..', import.meta.url));
const SHOT_DIR = process.env.WEBIM_SCREENSHOT_DIR || process.cwd();
const haveChromium = existsSync(CHROMIUM);
if (!haveChromium) console.log(`skipped: chromium not installed (${CHROMIUM})`);

const require = createRequire(new URL('../node/package.json', import.meta.url));

describe('demo chat page in Chromium', { skip: !haveChromium && 'chromium not installed', timeout: 80000 }, () => {
  let cluster;
  let fe1;
  let fe2;
  let browser;
  const mounts = ['--static-dir', `/=${join(REPO, 'clients/demo')}`, '--static-dir', `/js/=${join(REPO, 'clients/js')}`];

  before(async () => {
    const { chromium } = require('playwright-core');
    cluster = new Cluster();
    await cluster.startHub();
    fe1 = await cluster.startFrontend(mounts);
    // Page 1 is loaded from fe1 and falls back to fe2: a different port is a different origin.
    fe2 = await cluster.startFrontend([...mounts, '--allowed-origins', `http://127.0.0.1:${fe1.port}`]);
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
        '--disable-component-update', '--disable-sync'],
    });
  });

  after(async () => {
    await browser?.close();
    const results = await cluster?.stop();
    for (const [name, r] of Object.entries(results ?? {})) {
      if (r.signal === 'SIGKILL') continue; // killed on purpose
      assert.deepEqual(r, { code: 0, signal: null }, `${name} did not exit cleanly:\n${cluster.logs()}`);
    }
  });

  // Opens the page from `fe` as `user`, talking to `wsUrls` (in order of preference); `setup(page)`
  // runs before it loads (routes).
  async function openPage(user, fe, wsUrls, viewport, setup) {
    const context = await browser.newContext({ viewport });
    const page = await context.newPage();
    await setup?.(page);
    const errors = [];
    page.log = [];
    page.on('console', (m) => page.log.push(`${m.type()}: ${m.text()}`));
    page.on('pageerror', (e) => errors.push(e.message));
    const token = cluster.token(user, ['room:*', 'pub:*', 'user:*'], { pub: ['room:*', 'user:*'] });
    await page.goto(`http://127.0.0.1:${fe.port}/#token=${token}&ws=${wsUrls.join(',')}`);
    await page.waitForSelector('#state[data-state="open"]', { timeout: 10000 });
    assert.equal(await page.evaluate(() => location.hash), '', 'the token is removed from the address bar');
    page.errors = errors;
    return page;
  }

  async function say(page, text) {
    await page.fill('#composer input', text);
    await page.press('#composer input', 'Enter');
  }

  // The messages page shows for `ch`, as [seq, from, text, send state].
  const shown = (page, ch) => page.$$eval(`ol.list[data-ch="${ch}"] li.msg`, (lis) => lis.map((li) => [
    li.dataset.seq === undefined ? null : Number(li.dataset.seq), li.querySelector('.from').textContent,
    li.querySelector('.text').textContent, li.className.replace('msg', '').trim()]));

  test('two users chat; page 1 survives its frontend being killed and shows every message once, in order; a DM notifies the peer', async () => {
    const alice = await openPage('alice', fe1, [fe1.url, fe2.url], { width: 1000, height: 700 });
    const bob = await openPage('bob', fe2, [fe2.url], { width: 390, height: 760 }); // a phone

    for (const page of [alice, bob]) {
      await page.fill('#join-room input', 'lobby');
      await page.press('#join-room input', 'Enter');
      await page.waitForSelector('#chat-title:has-text("# lobby")');
    }
    // Typing: a signal, shown on the other page until the message arrives; never on one's own.
    await alice.fill('#composer input', 'hello from alice');
    await bob.waitForSelector('#typing:has-text("alice is typing…")', { timeout: 5000 });
    assert.equal(await alice.$eval('#typing', (el) => el.hidden), true, 'no indicator for oneself');
    await alice.press('#composer input', 'Enter');
    await bob.waitForSelector('li.msg:has-text("hello from alice")');
    await bob.waitForSelector('#typing', { state: 'hidden', timeout: 2000 });
    await say(bob, 'hi alice');
    await alice.waitForSelector('li.msg:has-text("hi alice")');
    await alice.waitForSelector('li.msg.mine.stored:has-text("hello from alice")');

    // Watch page 1's connection badge, then kill the frontend serving it.
    await alice.evaluate(() => {
      window.states = [];
      const badge = document.querySelector('#state');
      new MutationObserver(() => window.states.push(badge.dataset.state)).observe(badge, { attributes: true });
    });
    fe1.child.kill('SIGKILL');
    await say(alice, 'alice while reconnecting'); // pending until the page is back
    const N = 8;
    for (let i = 1; i <= N; i++) await say(bob, `bob ${i} of ${N}`);

    const probe = await Client.connect(fe2.url);
    await probe.auth(cluster.token('probe', ['room:*']));
    let stored;
    const deadline = Date.now() + 20000;
    for (;;) {
      stored = (await probe.request('hist', { ch: 'room:lobby', after: 0, limit: 200 })).msgs;
      const seen = await shown(alice, 'room:lobby');
      if (stored.length === N + 3 && seen.length === stored.length && seen.every((m) => m[3] !== 'mine pending')) break;
      if (Date.now() > deadline) assert.fail(`page 1 shows ${JSON.stringify(seen)}, history has ${stored.length}, states ${await alice.evaluate(() => window.states)}, console ${alice.log.join(" | ")}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    await probe.close();

    const seenAlice = await shown(alice, 'room:lobby');
    const expected = stored.map((m) => [m.seq, m.from, m.data.text]);
    assert.deepEqual(seenAlice.map((m) => m.slice(0, 3)), expected, 'page 1: every message once, in seq order');
    assert.deepEqual(stored.map((m) => m.seq), Array.from({ length: N + 3 }, (_, i) => i + 1));
    assert.equal(stored.filter((m) => m.data.text === 'alice while reconnecting').length, 1, 'the retried publish is stored once');
    for (const m of seenAlice.filter((m) => m[1] === 'alice')) assert.equal(m[3], 'mine stored');
    const states = await alice.evaluate(() => window.states);
    assert.ok(states.includes('reconnecting') && states.at(-1) === 'open', `page 1 states: ${states}`);
    await bob.waitForFunction((n) => document.querySelectorAll('ol.list[data-ch="room:lobby"] li.msg').length === n, N + 3);
    const seenBob = await shown(bob, 'room:lobby');
    assert.deepEqual(seenBob.map((m) => m.slice(0, 3)), expected, 'page 2 sees the same');

    const shot1 = join(SHOT_DIR, 'browser_chat_page1.png');
    const shot2 = join(SHOT_DIR, 'browser_chat_page2_phone.png');
    await alice.screenshot({ path: shot1, fullPage: true });
    await bob.screenshot({ path: shot2, fullPage: true });
    console.log(`screenshot: ${shot1}`);
    console.log(`screenshot: ${shot2}`);

    // A direct conversation: alice's first DM also notifies bob's inbox, whose page adds the conversation.
    await alice.fill('#open-dm input', 'bob');
    await alice.press('#open-dm input', 'Enter');
    await alice.waitForSelector('#chat-title:has-text("@ bob")');
    await say(alice, 'psst, bob');
    await alice.waitForSelector('ol.list[data-ch="dm:alice:bob"] li.msg.stored:has-text("psst, bob")');
    await bob.waitForSelector('.toast:has-text("New conversation from alice")');
    await bob.click('#convs li[data-ch="dm:alice:bob"]');
    await bob.waitForSelector('ol.list[data-ch="dm:alice:bob"] li.msg:has-text("psst, bob")');
    assert.deepEqual([...alice.errors, ...bob.errors], [], 'no page errors');
  });

  test('pages with WebSocket blocked chat through the HTTP fallback: SSE, and long-poll when SSE is blocked too', async () => {
    const fe3 = await cluster.startFrontend(mounts);
    // page.route() never sees WebSocket upgrades in Chromium (route.abort() on '**/ws' blocks nothing);
    // routeWebSocket does: every WebSocket to /ws is closed before it opens.
    const blockWebSocket = (page) => page.routeWebSocket('**/ws', (ws) => ws.close());
    const blockSse = (page) => page.route((url) => url.pathname === '/events', (route) =>
      (route.request().headers().accept ?? '').includes('text/event-stream') ? route.abort() : route.continue());

    const dave = await openPage('dave', fe3, [fe3.url], { width: 900, height: 650 });
    const joinRoom = async (page) => {
      await page.fill('#join-room input', 'detour');
      await page.press('#join-room input', 'Enter');
      await page.waitForSelector('#chat-title:has-text("# detour")');
    };
    await joinRoom(dave);
    for (let i = 1; i <= 3; i++) await say(dave, `before ${i}`); // history for the others
    await dave.waitForFunction(() => document.querySelectorAll('li.msg.mine.stored').length === 3);

    const carol = await openPage('carol', fe3, [fe3.url], { width: 900, height: 650 }, blockWebSocket);
    await carol.waitForSelector('#state[data-state="open"][data-transport="sse"]');
    const erin = await openPage('erin', fe3, [fe3.url], { width: 390, height: 760 },
      async (page) => { await blockWebSocket(page); await blockSse(page); });
    await erin.waitForSelector('#state[data-state="open"][data-transport="longpoll"]', { timeout: 20000 });
    assert.match(await carol.textContent('#state'), /online · SSE/);
    assert.match(await erin.textContent('#state'), /online · long-poll/);

    for (const page of [carol, erin]) {
      await joinRoom(page);
      await page.waitForSelector('ol.list[data-ch="room:detour"] li.msg:has-text("before 3")'); // history via POST /cmd
    }
    await say(carol, 'carol via sse');
    await erin.waitForSelector('li.msg:has-text("carol via sse")');
    await say(erin, 'erin via long-poll');
    await carol.waitForSelector('li.msg:has-text("erin via long-poll")');
    await say(dave, 'dave via websocket');
    await say(carol, 'carol again');
    await say(erin, 'erin again');
    for (const [page, text] of [[dave, 'dave via websocket'], [carol, 'carol again'], [erin, 'erin again']]) {
      await page.waitForSelector(`li.msg.mine.stored:has-text("${text}")`); // acked: durably stored
    }

    const probe = await Client.connect(fe3.url);
    await probe.auth(cluster.token('probe3', ['room:*']));
    const stored = (await probe.request('hist', { ch: 'room:detour', after: 0, limit: 200 })).msgs;
    await probe.close();
    assert.deepEqual(stored.map((m) => m.data.text), ['before 1', 'before 2', 'before 3', 'carol via sse',
      'erin via long-poll', 'dave via websocket', 'carol again', 'erin again'], 'each stored once, in order');
    const expected = stored.map((m) => [m.seq, m.from, m.data.text]);
    for (const page of [dave, carol, erin]) {
      await page.waitForFunction((n) => document.querySelectorAll('ol.list[data-ch="room:detour"] li.msg.stored, ol.list[data-ch="room:detour"] li.msg:not(.mine)').length === n, stored.length);
      const seen = await shown(page, 'room:detour');
      assert.deepEqual(seen.map((m) => m.slice(0, 3)), expected, 'every message once, in seq order');
      for (const m of seen) assert.ok(m[3] === '' || m[3] === 'mine stored', `send state: ${JSON.stringify(m)}`);
    }
    assert.equal((await carol.evaluate(() => document.querySelector('#state').dataset.transport)), 'sse', 'carol stayed on SSE');
    const shot = join(SHOT_DIR, 'browser_chat_fallback_sse.png');
    await carol.screenshot({ path: shot, fullPage: true });
    console.log(`screenshot: ${shot}`);
    assert.deepEqual([...dave.errors, ...carol.errors, ...erin.errors], [], 'no page errors');
  });
});
