// The demo's conversation list (docs/protocol.md "Conversations"): which conversations it holds and
// their order come from the server. `conversations` at each (re)connect (so on load, after a reload
// and after a reconnect) brings the user's DMs and the rooms they wrote or read in, most recent
// first, with unread counts; a DM notice in the own inbox ('notice' events: a dm message, either
// side's, no `pub` grant on anyone's inbox needed) adds a DM not in the list yet and moves it up
// live; a message placed (live or from history) moves its conversation up too. Rooms joined on this
// page that the server does not list yet (nobody wrote or read there) are kept in localStorage and
// sorted in by their last message.

const CHANNEL = /^[A-Za-z0-9_.:-]{1,128}$/;
const MAX_PAGES = 4; // up to 200 conversations at start

let client = null;
let me = null;
let convs = null; // Map ch -> Conversation (app.js)
let ensure = (ch) => null; // app.js: the conversation of `ch`, opened (subscribed) if new, not shown
let onNew = (conv, from) => {};
let setUnread = (conv, n) => {};
let sortQueued = false;

export function initConversations(ctx) {
  ({ client, me, convs, ensure, onNew, setUnread } = ctx);
  client.on('state', (s) => { if (s === 'open') load(); });
  client.on('notice', onNotice);
}

// The server's list, page by page; an older server without `conversations` leaves the list as is.
async function load() {
  const items = [];
  try {
    let before;
    for (let page = 0; page < MAX_PAGES; page++) {
      const reply = await client.conversations({ limit: 50, ...(before ? { before } : {}) });
      items.push(...reply.items);
      if (!reply.more || reply.items.length === 0) break;
      const last = reply.items.at(-1);
      before = { ts: last.ts, ch: last.ch };
    }
  } catch {
    return;
  }
  for (const { ch, ts, unread } of items) {
    if (!CHANNEL.test(ch) || ch.startsWith('user:')) continue;
    const conv = ensure(ch);
    if (!conv) continue;
    touch(conv, ts);
    setUnread(conv, unread);
  }
}

function onNotice({ ch, from, ts }) {
  if (!ch.startsWith('dm:') || !CHANNEL.test(ch) || !ch.split(':').slice(1).includes(me)) return;
  const isNew = !convs.has(ch);
  const conv = ensure(ch);
  if (!conv) return;
  touch(conv, ts);
  if (isNew && from !== me) onNew(conv, from);
}

// `conv` was active at `ts` (ms): it moves up if that is its latest activity.
export function touch(conv, ts) {
  if (!(ts > (conv.ts ?? 0))) return;
  conv.ts = ts;
  if (sortQueued) return;
  sortQueued = true;
  queueMicrotask(sort);
}

// Most recent activity first; ties (and conversations without any yet) by name.
function sort() {
  sortQueued = false;
  const list = document.querySelector('#convs');
  const order = [...convs.values()].sort((a, b) => (b.ts ?? 0) - (a.ts ?? 0) || (a.ch < b.ch ? -1 : a.ch > b.ch ? 1 : 0));
  order.forEach((conv, i) => {
    if (list.children[i] !== conv.item) list.insertBefore(conv.item, list.children[i] ?? null);
  });
}
