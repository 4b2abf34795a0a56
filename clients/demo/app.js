// webim demo chat page: rooms, direct conversations, inbox notices, history scroll-back.
//
// Choices (kept simple on purpose):
// - The token comes from the URL fragment (#token=...; the server never sees fragments) or the paste
//   box, and is kept in this tab's sessionStorage so a reload keeps you signed in. The fragment is
//   then removed from the address bar. `#...&ws=url1,url2` overrides the WebSocket URLs (tests use
//   it to give two frontends); by default the URL is ws(s)://<this host>/ws. Where WebSocket is
//   blocked, the library falls back to HTTP (SSE, then long-poll) on the same hosts by itself.
// - Every conversation in the sidebar stays subscribed while the page is open (unread counts on the
//   others). The list and its order come from the server (`conversations`, conversations.js); rooms
//   joined here that it does not list yet are remembered per user in localStorage.
// - A DM from anyone reaches you without any grant on your inbox: the server puts a notice into
//   both participants' inboxes for every dm message ('notice' events), which adds a conversation
//   not in the list yet and subscribes it. Other inbox messages (the app's) are shown as toasts.
// - Messages are {text} objects; anything else the app pushes is shown as JSON.
// - "typing…": while you type, a signal {typing: true} goes to the conversation at most every 2 s
//   (signals are not stored: docs/protocol.md "Signals"); others' show for 4 s after their last one,
//   or until their message arrives.
// - Unread badges, last message, presence dots, read ticks, edit and delete: im.js.
import { WebimClient } from '/js/webim.js';
import * as im from './im.js';
import { initConversations } from './conversations.js';

const $ = (sel) => document.querySelector(sel);
const CHANNEL = /^[A-Za-z0-9_.:-]{1,128}$/;
const PAGE = 30; // messages per history page

// ---- token and URLs ----------------------------------------------------------------------------

const fragment = new URLSearchParams(location.hash.slice(1));
if (fragment.get('token')) sessionStorage.setItem('webim-token', fragment.get('token'));
if (fragment.get('ws')) sessionStorage.setItem('webim-ws', fragment.get('ws'));
if (location.hash) history.replaceState(null, '', location.pathname + location.search);

const defaultUrl = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`;
const urls = (sessionStorage.getItem('webim-ws') || defaultUrl).split(',').filter(Boolean);

function tokenSubject(token) {
  try {
    return JSON.parse(atob(token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/'))).sub;
  } catch {
    return null;
  }
}

// ---- page state --------------------------------------------------------------------------------

let client = null;
let me = null;
let active = null; // the conversation on screen
/** @type {Map<string, Conversation>} */
const convs = new Map();

/**
 * @typedef {object} Conversation
 * @property {string} ch
 * @property {string} title
 * @property {HTMLOListElement} list  its messages, kept while another conversation is shown
 * @property {HTMLLIElement} item  its sidebar entry
 * @property {Map<number, HTMLLIElement>} bySeq  rendered messages
 * @property {number} oldest  lowest seq loaded (history before it is fetched by "Load older")
 * @property {boolean} more  history has older messages
 * @property {number} unread
 */

function titleOf(ch) {
  if (ch.startsWith('room:')) return `# ${ch.slice(5)}`;
  if (ch.startsWith('dm:')) return `@ ${ch.split(':').slice(1).find((u) => u !== me) ?? me}`;
  return ch;
}

const dmChannel = (a, b) => (a < b ? `dm:${a}:${b}` : `dm:${b}:${a}`); // docs/protocol.md: dm:<a>:<b>, a < b

// Rooms only: DMs come from the server's list (conversations.js).
function saveConversations() {
  const list = [...convs.keys()].filter((ch) => !ch.startsWith('user:') && !ch.startsWith('dm:'));
  localStorage.setItem(`webim-convs:${me}`, JSON.stringify(list));
}

// ---- rendering ---------------------------------------------------------------------------------

function formatTime(ts) {
  const d = new Date(ts);
  const sameDay = d.toDateString() === new Date().toDateString();
  return sameDay
    ? d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' })
    : d.toLocaleString([], { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' });
}

const { textOf } = im;

// One message element; everything user-provided goes in as textContent.
function messageElement({ from, ts, data, seq }) {
  const li = document.createElement('li');
  li.className = 'msg';
  if (from === me) li.classList.add('mine');
  if (seq !== undefined) li.dataset.seq = String(seq);
  li.innerHTML = '<div class="meta"><span class="from"></span><time></time><span class="send-state"></span></div><div class="text"></div>';
  li.querySelector('.from').textContent = from;
  const time = li.querySelector('time');
  time.textContent = formatTime(ts);
  time.dateTime = new Date(ts).toISOString();
  time.title = new Date(ts).toLocaleString();
  li.querySelector('.text').textContent = textOf(data);
  return li;
}

// Inserts by seq; pending messages (no seq yet) stay at the bottom.
function insertOrdered(conv, li, seq) {
  for (const other of conv.list.children) {
    if (other.dataset.seq === undefined || Number(other.dataset.seq) > seq) {
      conv.list.insertBefore(li, other);
      return;
    }
  }
  conv.list.append(li);
}

function nearBottom() {
  const s = $('#scroller');
  return s.scrollHeight - s.scrollTop - s.clientHeight < 80;
}

function scrollToBottom() {
  const s = $('#scroller');
  s.scrollTop = s.scrollHeight;
}

function setSendState(li, state, label) {
  li.classList.remove('pending', 'stored', 'failed');
  li.classList.add(state);
  li.querySelector('.send-state').textContent = label;
}

function onMessage(conv, msg) {
  if (msg.edit !== undefined || msg.delete !== undefined) return; // im.js applies them ('edit'/'delete' events)
  if (typing.get(conv.ch)?.delete(msg.from)) renderTyping(); // their message is here: no longer typing
  const existing = conv.bySeq.get(msg.seq);
  if (existing) return; // our own message, already placed by its ack
  const stick = conv === active && nearBottom();
  const li = messageElement(msg);
  conv.bySeq.set(msg.seq, li);
  insertOrdered(conv, li, msg.seq);
  if (msg.from === me) im.stored(conv, li);
  im.applyKnown(conv, msg);
  im.placed(conv, msg, true);
  if (stick) scrollToBottom();
}

function note(conv, text) {
  const li = document.createElement('li');
  li.className = 'note';
  li.textContent = text;
  conv.list.append(li);
  if (conv === active) scrollToBottom();
}

function toast(text, onClick) {
  const div = document.createElement('div');
  div.className = 'toast';
  div.textContent = text;
  div.onclick = () => { div.remove(); onClick?.(); };
  $('#toasts').append(div);
  setTimeout(() => div.remove(), 6000);
}

// ---- typing (signals) --------------------------------------------------------------------------

const TYPING_SEND_MS = 2000; // at most one "typing" signal per conversation this often
const TYPING_SHOW_MS = 4000; // someone's indicator without a fresh signal goes away after this
const typingSent = new Map(); // ch -> when we last said we are typing there
/** @type {Map<string, Map<string, number>>} ch -> (user -> when their indicator ends) */
const typing = new Map();

function onSignal({ ch, from, data }) {
  if (from === me || data?.typing !== true || !convs.has(ch)) return;
  if (!typing.has(ch)) typing.set(ch, new Map());
  typing.get(ch).set(from, Date.now() + TYPING_SHOW_MS);
  renderTyping();
  setTimeout(renderTyping, TYPING_SHOW_MS + 50);
}

function renderTyping() {
  const now = Date.now();
  const who = [];
  for (const [user, until] of typing.get(active?.ch) ?? []) if (until > now) who.push(user);
  const line = $('#typing');
  line.textContent = who.length === 0 ? '' : `${who.join(', ')} ${who.length === 1 ? 'is' : 'are'} typing…`;
  line.hidden = who.length === 0;
}

function sayTyping() {
  const ch = active?.ch;
  if (!ch || !$('#composer input').value.trim() || Date.now() - (typingSent.get(ch) ?? 0) < TYPING_SEND_MS) return;
  typingSent.set(ch, Date.now());
  client.signal(ch, { typing: true }).catch(() => {}); // best effort: not connected, or no grant
}

// ---- conversations -----------------------------------------------------------------------------

async function openConversation(ch, { show = true } = {}) {
  let conv = convs.get(ch);
  if (!conv) {
    conv = {
      ch, title: titleOf(ch), list: document.createElement('ol'),
      bySeq: new Map(), oldest: Infinity, more: false, unread: 0, loading: false,
    };
    conv.list.className = 'list';
    conv.list.dataset.ch = ch;
    conv.list.hidden = true;
    $('#lists').append(conv.list);
    $('#convs').append(im.buildItem(conv, () => show_(conv)));
    convs.set(ch, conv);
    saveConversations();
    const unsubscribe = client.subscribe(ch, (msg) => onMessage(conv, msg));
    unsubscribe.ready.then(({ seq }) => { loadOlder(conv, seq + 1).then(() => im.refresh([ch])); }).catch((e) => {
      note(conv, `Cannot join ${ch}: ${e.code ?? e.message}`);
      convs.delete(ch);
      saveConversations();
    });
  }
  if (show) show_(conv);
  return conv;
}

function show_(conv) {
  if (active) {
    active.list.hidden = true;
    active.item.classList.remove('active');
  }
  active = conv;
  sessionStorage.setItem(`webim-active:${me}`, conv.ch);
  conv.list.hidden = false;
  conv.item.classList.add('active');
  im.markRead(conv);
  $('#chat-title').textContent = conv.title;
  $('#older').hidden = !conv.more;
  renderTyping();
  for (const el of document.querySelectorAll('#composer input, #composer button')) el.disabled = false;
  $('#composer input').focus();
  scrollToBottom();
}

// Prepends one page of history older than `before`, keeping the view where it was.
async function loadOlder(conv, before = conv.oldest) {
  if (conv.loading) return;
  conv.loading = true;
  let page;
  try {
    page = await client.history(conv.ch, { before, limit: PAGE });
  } catch (e) {
    note(conv, `Could not load history: ${e.code ?? e.message}`);
    return;
  } finally {
    conv.loading = false;
  }
  const scroller = $('#scroller');
  const fromBottom = scroller.scrollHeight - scroller.scrollTop;
  const first = conv.list.firstChild;
  for (const msg of page.msgs) {
    conv.oldest = Math.min(conv.oldest, msg.seq);
    if (msg.edit !== undefined) im.applyEdit(conv, msg.edit, msg.data, msg.seq);
    if (msg.delete !== undefined) im.applyDelete(conv, msg.delete);
    if (msg.edit !== undefined || msg.delete !== undefined || conv.bySeq.has(msg.seq)) continue;
    const li = messageElement(msg);
    conv.bySeq.set(msg.seq, li);
    conv.list.insertBefore(li, first);
    if (msg.from === me) im.stored(conv, li);
    im.applyKnown(conv, msg);
    im.placed(conv, msg, false);
  }
  if (!page.msgs.length) conv.oldest = Math.min(conv.oldest, before);
  conv.more = page.more;
  if (conv === active) {
    $('#older').hidden = !conv.more;
    scroller.scrollTop = scroller.scrollHeight - fromBottom;
  }
}

async function send(conv, text) {
  const li = messageElement({ from: me, ts: Date.now(), data: { text } });
  setSendState(li, 'pending', 'sending…');
  conv.list.append(li);
  scrollToBottom();
  try {
    const { seq } = await client.publish(conv.ch, { text });
    const live = conv.bySeq.get(seq);
    if (live) {
      li.remove(); // the delivery came first and is already in place
      im.stored(conv, live);
    } else {
      li.dataset.seq = String(seq);
      conv.bySeq.set(seq, li);
      insertOrdered(conv, li, seq); // moves it among messages that arrived meanwhile
      im.stored(conv, li);
      im.placed(conv, { seq, from: me, ts: Date.now() }, true);
    }
  } catch (e) {
    setSendState(li, 'failed', `failed: ${e.code ?? e.message}`);
  }
}

// The own inbox: DM notices are the conversation list's ('notice' events, conversations.js);
// anything else (the app's messages) is shown as a toast.
function onInbox(msg) {
  if (msg.notice !== undefined) return;
  toast(`${msg.from}: ${textOf(msg.data)}`);
}

// The conversation of `ch`, subscribed if new, not put on screen (conversations.js).
function ensureConversation(ch) {
  openConversation(ch, { show: false });
  return convs.get(ch) ?? null;
}

// ---- connection --------------------------------------------------------------------------------

// The badge shows the connection state and, once online, the transport: WebSocket, or the HTTP
// fallback (SSE or long-poll) when the network blocks WebSocket.
const TRANSPORT_LABELS = { websocket: 'WebSocket', sse: 'SSE', longpoll: 'long-poll' };

function showState(state, detail, transport) {
  const badge = $('#state');
  badge.dataset.state = state;
  badge.dataset.transport = transport ?? '';
  badge.textContent = { idle: 'offline', connecting: 'connecting…', open: 'online', reconnecting: 'reconnecting…', closed: 'disconnected' }[state];
  if (state === 'open' && transport) badge.textContent += ` · ${TRANSPORT_LABELS[transport] ?? transport}`;
  badge.title = transport ? `transport: ${TRANSPORT_LABELS[transport] ?? transport}` : '';
  const banner = $('#banner');
  banner.classList.toggle('bad', state === 'closed');
  if (state === 'reconnecting') {
    banner.textContent = 'Connection lost. Reconnecting… Messages you send now are delivered once it is back.';
    banner.hidden = false;
  } else if (state === 'closed') {
    banner.textContent = `Disconnected${detail ? `: ${detail}` : ''}. Reload the page or paste a new token.`;
    banner.hidden = false;
  } else {
    banner.hidden = true;
  }
}

function start(token) {
  me = tokenSubject(token);
  if (!me) {
    $('#login').hidden = false;
    toast('That does not look like a token.');
    return;
  }
  $('#login').hidden = true;
  $('#app').hidden = false;
  $('#me').textContent = `signed in as ${me}`;

  client = new WebimClient({ urls, token });
  client.on('state', (s, { transport }) => {
    showState(s, s === 'closed' ? client.closeError?.message : '', transport);
    if (s === 'closed' && ['auth', 'kicked'].includes(client.closeError?.code)) {
      sessionStorage.removeItem('webim-token');
      $('#login').hidden = false;
    }
  });
  client.on('resync', ({ ch }) => {
    // History was lost or reset: start this conversation's view over from what history has.
    const conv = convs.get(ch);
    if (!conv) return;
    conv.list.replaceChildren();
    conv.bySeq.clear();
    note(conv, 'Some messages could not be recovered; showing the latest history.');
  });
  client.on('signal', onSignal);
  im.initIm({ client, me, convs, active: () => active });
  initConversations({
    client, me, convs, ensure: ensureConversation, setUnread: im.setUnread,
    onNew: (conv, from) => toast(`New conversation from ${from}`, () => show_(conv)),
  });
  client.connect().catch(() => {});

  client.subscribe(`user:${me}`, onInbox);
  const saved = JSON.parse(localStorage.getItem(`webim-convs:${me}`) || '[]');
  for (const ch of saved) if (CHANNEL.test(ch) && !ch.startsWith('dm:')) openConversation(ch, { show: false });
  const last = sessionStorage.getItem(`webim-active:${me}`); // on screen before a reload
  if (last && CHANNEL.test(last) && !last.startsWith('user:')) openConversation(last);
  else if (convs.size) show_(convs.values().next().value);
}

// ---- wiring ------------------------------------------------------------------------------------

$('#login-form').onsubmit = (e) => {
  e.preventDefault();
  const token = e.target.token.value.trim();
  sessionStorage.setItem('webim-token', token);
  start(token);
};

$('#join-room').onsubmit = (e) => {
  e.preventDefault();
  const name = e.target.room.value.trim();
  if (!CHANNEL.test(`room:${name}`)) return toast('Room names: letters, digits, _ . -');
  openConversation(`room:${name}`);
  e.target.reset();
};

$('#open-dm').onsubmit = (e) => {
  e.preventDefault();
  const peer = e.target.peer.value.trim();
  if (!peer || peer === me) return toast('Enter another user id');
  openConversation(dmChannel(me, peer));
  e.target.reset();
};

$('#composer').onsubmit = (e) => {
  e.preventDefault();
  const input = e.target.text;
  const text = input.value.trim();
  if (!text || !active) return;
  input.value = '';
  typingSent.delete(active.ch); // typing again after this message says so at once
  send(active, text);
};

$('#composer input').addEventListener('input', sayTyping);
$('#older').onclick = () => active && loadOlder(active);
$('#scroller').addEventListener('scroll', () => {
  if (active?.more && $('#scroller').scrollTop === 0) loadOlder(active);
});

const saved = sessionStorage.getItem('webim-token');
if (saved) start(saved);
else $('#login').hidden = false;
