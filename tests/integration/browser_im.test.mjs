// The demo chat page's IM features (clients/demo/im.js) in headless Chromium, two users (alice and
// bob) in two browser contexts, everything read from the page (DOM): the unread badge appears (from
// the server's count and live) and clears when the conversation is opened; the conversation list
// and its last messages after a reload; the DM peer's presence dot goes online, then offline once
// the peer's page is closed and the hub's presence_grace_ms (short here) has passed; read ticks go
// from one to two when the peer reads; edit and delete are seen by the other user live and after a
// reload (history). The conversation list (docs/protocol.md "Conversations"): a DM from a user with
// no grant on your inbox arrives (its inbox notice) and raises the unread badge, one from someone
// not in the list yet adds them, the list is ordered by last activity, and after a reload (with
// localStorage cleared) it comes from the server, in that order, with the server's unread counts.
//
// Skips (prints "skipped: chromium not installed") when /usr/bin/chromium is absent.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';

import { Client, Cluster, FRONTEND } from './harness.mjs';
import { execFileSync } from 'node:child_process';

const CHROMIUM = process.env.WEBIM_CHROMIUM || '/usr/bin/chromium';
const REPO = fileURLToPath(new URL('../..', import.meta.url));
const SHOT_DIR = process.env.WEBIM_SCREENSHOT_DIR || process.cwd();
const haveChromium = existsSync(CHROMIUM);
if (!haveChromium) console.log(`skipped: chromium not installed (${CHROMIUM})`);

const require = createRequire(new URL('../node/package.json', import.meta.url));
const DM = 'dm:alice:bob';

describe('demo chat page: unread, presence, read ticks, edit, delete', { skip: !haveChromium && 'chromium not installed', timeout: 80000 }, () => {
  let cluster;
  let fe;
  let browser;
  const mounts = ['--static-dir', `/=${join(REPO, 'clients/demo')}`, '--static-dir', `/js/=${join(REPO, 'clients/js')}`];

  before(async () => {
    const { chromium } = require('playwright-core');
    cluster = new Cluster();
    await cluster.startHub(['--presence-settle-ms', '300', '--presence-grace-ms', '500']);
    fe = await cluster.startFrontend(mounts);
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking',
        '--disable-component-update', '--disable-sync'],
    });
  });

  after(async () => {
    await browser?.close();
    await cluster?.stopCleanly();
  });

  // A page signed in as `user`, who may see the presence of and watch `peer`: a token from
  // `webim-frontend token` as scripts/run issues the demo's (--presence and --watch; no grant on
  // anyone's inbox: DMs arrive through the server's notices).
  async function openPage(user, peer, viewport = { width: 1000, height: 700 }) {
    const context = await browser.newContext({ viewport });
    const page = await context.newPage();
    page.errors = [];
    page.on('pageerror', (e) => page.errors.push(e.message));
    const token = execFileSync(FRONTEND, ['token', '--secret-file', cluster.secretFile, '--user', user, '--ch', 'room:*',
      '--pub', 'room:*', '--presence', peer, '--watch', peer], { encoding: 'utf8' }).trim();
    await page.goto(`http://127.0.0.1:${fe.port}/#token=${token}&ws=${fe.url}`);
    await page.waitForSelector('#state[data-state="open"]', { timeout: 10000 });
    return page;
  }

  async function say(page, text) {
    await page.fill('#composer input', text);
    await page.press('#composer input', 'Enter');
    await page.waitForSelector(`li.msg.mine.stored:has-text("${text}")`);
  }

  const item = (ch) => `#convs li[data-ch="${ch}"]`;
  const badge = (page, ch) => page.textContent(`${item(ch)} .unread`);
  const msg = (ch, text) => `ol.list[data-ch="${ch}"] li.msg:has-text("${text}")`;
  const waitText = (page, sel, text) => page.waitForFunction(([s, t]) => document.querySelector(s)?.textContent === t, [sel, text]);

  test('badges, presence dots, ticks, edit and delete between two pages, and after a reload', async () => {
    const alice = await openPage('alice', 'bob');
    const bob = await openPage('bob', 'alice', { width: 390, height: 760 }); // a phone
    await bob.fill('#join-room input', 'lobby');
    await bob.press('#join-room input', 'Enter');
    await bob.waitForSelector('#chat-title:has-text("# lobby")');

    // alice writes to bob: bob's page gets the DM (inbox notice) with an unread badge from the server.
    await alice.fill('#open-dm input', 'bob');
    await alice.press('#open-dm input', 'Enter');
    await say(alice, 'first for bob');
    await waitText(bob, `${item(DM)} .unread`, '1');
    await waitText(bob, `${item(DM)} .last`, 'alice: first for bob');

    // Presence: each sees the other online (online() at start, then watch events).
    await alice.waitForSelector(`${item(DM)} .dot[data-online="true"][aria-label="online"]`);
    await bob.waitForSelector(`${item(DM)} .dot[data-online="true"]`);

    // Ticks: one (stored), then two once bob opens the conversation (read); bob's badge clears.
    assert.equal(await alice.textContent(`${msg(DM, 'first for bob')} .send-state`), '✓');
    assert.equal(await alice.$eval(msg(DM, 'first for bob'), (li) => li.classList.contains('seen')), false);
    await bob.click(item(DM));
    assert.equal(await badge(bob, DM), '', 'opening the conversation clears its badge');
    await alice.waitForSelector(`${msg(DM, 'first for bob')}.seen`);
    assert.equal(await alice.textContent(`${msg(DM, 'first for bob')} .send-state`), '✓✓');

    // Live: a message while bob is in the lobby adds 1; the last message follows.
    await bob.click(item('room:lobby'));
    await say(alice, 'second for bob');
    await waitText(bob, `${item(DM)} .unread`, '1');
    await waitText(bob, `${item(DM)} .last`, 'alice: second for bob');
    await say(alice, 'third for bob');
    await waitText(bob, `${item(DM)} .unread`, '2');
    assert.equal(await alice.textContent(`${msg(DM, 'second for bob')} .send-state`), '✓', 'not read yet');

    // Edit and delete, seen live on bob's page (the DM not on screen: its list is kept).
    await alice.click(`${msg(DM, 'second for bob')} button[aria-label="Edit message"]`);
    await alice.fill(`${msg(DM, 'second for bob')} form.editing input`, 'second, edited');
    await alice.press(`${msg(DM, 'second for bob')} form.editing input`, 'Enter');
    await alice.waitForSelector(`${msg(DM, 'second, edited')} .edited-mark`);
    await alice.click(`${msg(DM, 'first for bob')} button[aria-label="Delete message"]`);
    await alice.waitForSelector(`${msg(DM, 'message deleted')}.deleted`);
    await bob.waitForSelector(`${msg(DM, 'second, edited')} .edited-mark:has-text("(edited)")`, { state: 'attached' });
    await bob.waitForSelector(`${msg(DM, 'message deleted')}.deleted`, { state: 'attached' });
    assert.equal(await bob.$$eval(`ol.list[data-ch="${DM}"] li.msg .actions`, (a) => a.length), 0, 'no buttons on the other\'s messages');
    assert.equal(await badge(bob, DM), '2', 'edit and delete entries are not unread messages');
    await bob.click(item(DM));
    assert.equal(await badge(bob, DM), '');
    await alice.waitForSelector(`${msg(DM, 'third for bob')}.seen`);
    assert.equal(await alice.textContent(`${msg(DM, 'second, edited')} .send-state`), '✓✓');

    // A room message while bob is away from the lobby: its badge, then a reload of bob's page.
    await alice.fill('#join-room input', 'lobby');
    await alice.press('#join-room input', 'Enter');
    await say(alice, 'lobby news');
    await waitText(bob, `${item('room:lobby')} .unread`, '1');
    await bob.reload();
    await bob.waitForSelector('#state[data-state="open"]');
    // The list comes back in order, the DM (on screen before) on screen again, the lobby still unread.
    await waitText(bob, `${item('room:lobby')} .unread`, '1');
    await waitText(bob, `${item('room:lobby')} .last`, 'alice: lobby news');
    assert.deepEqual(await bob.$$eval('#convs li', (lis) => lis.map((li) => li.dataset.ch)), ['room:lobby', DM]);
    assert.equal(await bob.textContent('#chat-title'), '@ alice');
    await waitText(bob, `${item(DM)} .last`, 'alice: third for bob');
    await bob.waitForSelector(`${msg(DM, 'second, edited')} .edited-mark`);
    await bob.waitForSelector(`${msg(DM, 'message deleted')}.deleted`);
    assert.equal(await bob.$$eval(`ol.list[data-ch="${DM}"] li.msg`, (lis) => lis.length), 3, 'entries are not shown as messages');
    assert.equal(await badge(bob, DM), '');
    // alice's page after a reload: her own edited and deleted messages from history.
    await alice.reload();
    await alice.waitForSelector('#state[data-state="open"]');
    assert.equal(await alice.textContent('#chat-title'), '# lobby', 'the conversation on screen before the reload');
    await alice.click(item(DM));
    await alice.waitForSelector(`${msg(DM, 'second, edited')}.seen .edited-mark`);
    await alice.waitForSelector(`${msg(DM, 'message deleted')}.deleted`);
    assert.equal(await alice.$$eval(`${msg(DM, 'message deleted')} .actions`, (a) => a.length), 0, 'a deleted message has no buttons');
    await bob.screenshot({ path: join(SHOT_DIR, 'browser_im_bob_phone.png'), fullPage: true });

    // bob's page closes: alice's dot goes offline once the grace period has passed.
    assert.deepEqual([...alice.errors, ...bob.errors], [], 'no page errors');
    await bob.context().close();
    await alice.waitForSelector(`${item(DM)} .dot[data-online="false"]`, { timeout: 10000 });
    assert.match(await alice.getAttribute(`${item(DM)} .dot`, 'aria-label'), /^offline, last seen /);
    await say(alice, 'are you there?');
    assert.equal(await alice.textContent(`${msg(DM, 'are you there?')} .send-state`), '✓');
    const shot = join(SHOT_DIR, 'browser_im_alice.png');
    await alice.screenshot({ path: shot, fullPage: true });
    console.log(`screenshot: ${shot}`);
  });

  test('the conversation list: DMs from anyone without an inbox grant, by last activity, from the server after a reload', async () => {
    const erin = await openPage('erin', 'carol');
    const order = () => erin.$$eval('#convs li', (lis) => lis.map((li) => li.dataset.ch));
    const dmWith = async (user) => {
      const c = await Client.connect(fe.url);
      await c.auth(cluster.token(user, [])); // no grant at all: a dm needs none
      return c;
    };
    const carol = await dmWith('carol');
    const frank = await dmWith('frank');
    const CAROL = 'dm:carol:erin';
    const FRANK = 'dm:erin:frank';

    // carol, not in erin's list, writes: the conversation appears with the server's unread count.
    assert.equal((await carol.request('pub', { ch: CAROL, data: { text: 'hello erin' }, cid: 'c1' })).op, 'ok');
    await waitText(erin, `${item(CAROL)} .unread`, '1');
    await waitText(erin, `${item(CAROL)} .last`, 'carol: hello erin');
    // frank too, later: on top; a second message from carol raises her badge and moves her up.
    assert.equal((await frank.request('pub', { ch: FRANK, data: { text: 'from frank' }, cid: 'f1' })).op, 'ok');
    await waitText(erin, `${item(FRANK)} .unread`, '1');
    await erin.waitForFunction((want) => [...document.querySelectorAll('#convs li')].map((li) => li.dataset.ch).join() === want, [FRANK, CAROL].join());
    assert.equal((await carol.request('pub', { ch: CAROL, data: { text: 'still there?' }, cid: 'c2' })).op, 'ok');
    await waitText(erin, `${item(CAROL)} .unread`, '2');
    await erin.waitForFunction((want) => [...document.querySelectorAll('#convs li')].map((li) => li.dataset.ch).join() === want, [CAROL, FRANK].join());

    // erin answers frank: his conversation is the latest now; carol's stays unread.
    await erin.click(item(FRANK));
    await say(erin, 'hi frank');
    await erin.waitForFunction((want) => [...document.querySelectorAll('#convs li')].map((li) => li.dataset.ch).join() === want, [FRANK, CAROL].join());

    // A reload with nothing remembered on the page: the list is the server's, in its order.
    await erin.evaluate(() => localStorage.clear());
    await erin.reload();
    await erin.waitForSelector('#state[data-state="open"]');
    await erin.waitForFunction((want) => [...document.querySelectorAll('#convs li')].map((li) => li.dataset.ch).join() === want, [FRANK, CAROL].join());
    await waitText(erin, `${item(CAROL)} .unread`, '2');
    await waitText(erin, `${item(CAROL)} .last`, 'carol: still there?');
    assert.equal(await badge(erin, FRANK), '');
    assert.equal(await erin.textContent('#chat-title'), '@ frank', 'the conversation on screen before the reload');
    assert.deepEqual(await order(), [FRANK, CAROL]);
    assert.deepEqual(erin.errors, [], 'no page errors');
    await carol.close();
    await frank.close();
    await erin.context().close();
  });
});
