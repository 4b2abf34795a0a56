// IM pieces of the demo page (app.js owns the page; this file the conversation list's badges and
// last message, presence dots, read ticks, edit and delete). Everything comes from the server, so
// a reload rebuilds it: `unread` at each (re)connect, each conversation's history, the cursors in
// each subscription reply (`'cursors'`), `online` for the DM peers.
// - Unread badge: the server's count at start and after each reconnect; +1 for a message from
//   someone else while the conversation is not on screen (or the tab is hidden); 0 once it is on
//   screen and visible, which also sends `read` (so the peer's page shows two ticks).
// - Presence dot next to each DM peer: `online(peers)` (the token's `presence` claim) at each
//   (re)connect, then `'watch'` events (the token's `watch` claim). Without the claims: no dot.
// - Ticks on one's own messages: ✓ stored (acked), ✓✓ read by the DM peer (`'read'` receipts and
//   the peer's cursor in the subscription reply / `unread`).
// - Edit and Delete buttons on one's own messages; edits show "(edited)", deletes "message
//   deleted", live (`'edit'`/`'delete'` events) and from history (entries, `deleted: true`).

import { touch } from './conversations.js';

let client = null;
let me = null;
let convs = null; // Map ch -> Conversation (app.js)
let activeConv = () => null;

export const textOf = (data) => (typeof data === 'string' ? data : typeof data?.text === 'string' ? data.text : JSON.stringify(data));
export const peerOf = (ch) => (ch.startsWith('dm:') ? ch.split(':').slice(1).find((u) => u !== me) ?? me : null);
const onScreen = (conv) => conv === activeConv() && !document.hidden;

export function initIm(ctx) {
  ({ client, me, convs, active: activeConv } = ctx);
  client.on('state', (s) => { if (s === 'open') refresh(); });
  client.on('cursors', ({ ch, read, peerRead }) => {
    const conv = convs.get(ch);
    if (!conv) return;
    if (peerRead !== undefined) setPeerRead(conv, peerRead);
    conv.readSent = Math.max(conv.readSent, read ?? 0);
  });
  client.on('read', ({ ch, user, seq }) => {
    const conv = convs.get(ch);
    if (!conv) return;
    if (user !== me) return setPeerRead(conv, seq);
    conv.readSent = Math.max(conv.readSent, seq); // read on another device of mine
    if (seq >= conv.top) setUnread(conv, 0);
  });
  client.on('watch', ({ user, online, last_seen: lastSeen }) => setDot(user, online, lastSeen));
  client.on('edit', ({ ch, seq, data, by }) => { const c = convs.get(ch); if (c) applyEdit(c, seq, data, by); });
  client.on('delete', ({ ch, seq }) => { const c = convs.get(ch); if (c) applyDelete(c, seq); });
  document.addEventListener('visibilitychange', () => { const c = activeConv(); if (c) markRead(c); });
}

// The server's unread counts and the DM peers' cursors for `chs` (a new conversation, a reconnect).
export async function refreshUnread(chs) {
  if (!chs.length) return;
  try {
    const { unread, peerRead } = await client.unread(chs);
    for (const [ch, n] of Object.entries(unread ?? {})) if (convs.has(ch)) setUnread(convs.get(ch), n);
    for (const [ch, s] of Object.entries(peerRead ?? {})) if (convs.has(ch)) setPeerRead(convs.get(ch), s);
  } catch { /* best effort: counts from live messages only */ }
}

// At each (re)connect (all), and for a conversation added: unread counts, cursors, presence.
export async function refresh(chs = [...convs.keys()].slice(0, 500)) {
  await refreshUnread(chs);
  const peers = [...new Set(chs.map(peerOf).filter(Boolean))];
  if (!peers.length) return;
  try {
    for (const { user, online, last_seen: lastSeen, settling } of await client.online(peers)) if (!settling) setDot(user, online, lastSeen);
  } catch { /* no `presence` claim for them: no dots */ }
}

// ---- the conversation list entry ---------------------------------------------------------------

export function buildItem(conv, onClick) {
  const item = document.createElement('li');
  item.dataset.ch = conv.ch;
  item.innerHTML = '<span class="dot" hidden></span><span class="conv-text"><span class="name"></span><span class="last"></span></span><span class="unread"></span>';
  item.querySelector('.name').textContent = conv.title;
  item.onclick = onClick;
  item.tabIndex = 0;
  item.setAttribute('role', 'button');
  item.onkeydown = (e) => { if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); onClick(); } };
  Object.assign(conv, { item, top: 0, readSent: 0, peerRead: 0, edits: new Map(), peer: peerOf(conv.ch) });
  return item;
}

export function setUnread(conv, n) {
  if (n > 0 && onScreen(conv)) return markRead(conv);
  conv.unread = n;
  const badge = conv.item.querySelector('.unread');
  badge.textContent = n > 0 ? String(n) : '';
  badge.setAttribute('aria-label', n > 0 ? `${n} unread` : '');
}

// The newest message's text under the conversation's name.
export function updateLast(conv) {
  const lis = conv.list.querySelectorAll('li.msg[data-seq]');
  const last = lis[lis.length - 1];
  const el = conv.item.querySelector('.last');
  el.textContent = last ? `${last.querySelector('.from').textContent}: ${last.querySelector('.text').textContent}` : '';
}

// A message (not an edit/delete entry) was placed: counts, last text, read.
export function placed(conv, msg, live) {
  conv.top = Math.max(conv.top, msg.seq);
  if (msg.ts) touch(conv, msg.ts); // the list's order: last activity first
  updateLast(conv);
  if (onScreen(conv)) markRead(conv);
  else if (live && msg.from !== me) setUnread(conv, conv.unread + 1);
}

export function markRead(conv) {
  if (!onScreen(conv)) return;
  setUnread(conv, 0);
  if (conv.top <= conv.readSent) return;
  conv.readSent = conv.top;
  client.read(conv.ch, conv.top).catch(() => { conv.readSent = 0; });
}

// ---- presence dots -----------------------------------------------------------------------------

function setDot(user, online, lastSeen) {
  for (const conv of convs.values()) {
    if (conv.peer !== user) continue;
    const dot = conv.item.querySelector('.dot');
    dot.hidden = false;
    dot.dataset.online = String(online);
    const label = online ? 'online' : lastSeen ? `offline, last seen ${new Date(lastSeen).toLocaleString()}` : 'offline';
    dot.setAttribute('aria-label', label);
    dot.title = label;
    dot.setAttribute('role', 'img');
  }
}

// ---- one's own messages: ticks, edit, delete ---------------------------------------------------

function setPeerRead(conv, seq) {
  if (seq <= conv.peerRead) return;
  conv.peerRead = seq;
  for (const li of conv.list.querySelectorAll('li.msg.mine.stored')) tick(conv, li);
}

function tick(conv, li) {
  const seen = conv.peer !== null && Number(li.dataset.seq) <= conv.peerRead;
  li.classList.toggle('seen', seen);
  const state = li.querySelector('.send-state');
  state.textContent = seen ? '✓✓' : '✓';
  state.title = seen ? `read by ${conv.peer}` : 'sent';
  state.setAttribute('aria-label', state.title);
}

// Own message `li` (with its seq) is stored: its tick, and the Edit / Delete buttons.
export function stored(conv, li) {
  li.classList.remove('pending', 'failed');
  li.classList.add('stored');
  tick(conv, li);
  if (li.classList.contains('deleted') || li.querySelector('.actions')) return;
  const actions = document.createElement('span');
  actions.className = 'actions';
  actions.innerHTML = '<button type="button" class="edit" aria-label="Edit message">Edit</button><button type="button" class="delete" aria-label="Delete message">Delete</button>';
  actions.querySelector('.edit').onclick = () => startEdit(conv, li);
  actions.querySelector('.delete').onclick = () => {
    const seq = Number(li.dataset.seq);
    client.delete(conv.ch, seq).then(() => applyDelete(conv, seq), (e) => flash(li, e));
  };
  li.querySelector('.meta').append(actions);
}

function flash(li, e) {
  li.querySelector('.send-state').textContent = `failed: ${e.code ?? e.message}`;
}

function startEdit(conv, li) {
  if (li.querySelector('form.editing')) return;
  const text = li.querySelector('.text');
  const form = document.createElement('form');
  form.className = 'editing';
  form.innerHTML = '<input name="text" maxlength="4000" aria-label="Edited message" autocomplete="off"><button type="submit">Save</button><button type="button" class="cancel">Cancel</button>';
  form.text.value = text.textContent;
  const done = () => { form.remove(); text.hidden = false; };
  form.querySelector('.cancel').onclick = done;
  form.onkeydown = (e) => { if (e.key === 'Escape') done(); };
  form.onsubmit = (e) => {
    e.preventDefault();
    const value = form.text.value.trim();
    if (!value) return;
    const seq = Number(li.dataset.seq);
    client.edit(conv.ch, seq, { text: value }).then((r) => applyEdit(conv, seq, { text: value }, r?.seq ?? 0), (err) => flash(li, err));
    done();
  };
  text.hidden = true;
  li.append(form);
  form.text.focus();
}

// `by`: the edit entry's seq (history pages come newest first: an older edit never wins).
export function applyEdit(conv, seq, data, by = Infinity) {
  if (data === undefined) return; // the edit of a deleted message (history): nothing to show
  const known = conv.edits.get(seq);
  if (known && (known.data === null || known.by > by)) return;
  conv.edits.set(seq, { by, data });
  const li = conv.list.querySelector(`li.msg[data-seq="${seq}"]`);
  if (!li || li.classList.contains('deleted')) return;
  li.querySelector('.text').textContent = textOf(data);
  li.classList.add('edited');
  if (!li.querySelector('.edited-mark')) {
    const mark = document.createElement('span');
    mark.className = 'edited-mark';
    mark.textContent = '(edited)';
    li.querySelector('time').after(mark);
  }
  updateLast(conv);
}

export function applyDelete(conv, seq) {
  conv.edits.set(seq, { by: Infinity, data: null });
  const li = conv.list.querySelector(`li.msg[data-seq="${seq}"]`);
  if (!li) return;
  li.classList.add('deleted');
  li.querySelector('.text').textContent = 'message deleted';
  li.querySelector('.actions')?.remove();
  li.querySelector('.edited-mark')?.remove();
  li.querySelector('form.editing')?.remove();
  li.querySelector('.text').hidden = false;
  updateLast(conv);
}

// A rendered message whose edit or delete was seen before it (history pages go backwards).
export function applyKnown(conv, msg) {
  if (msg.deleted) return applyDelete(conv, msg.seq);
  const known = conv.edits.get(msg.seq);
  if (!known) return;
  if (known.data === null) applyDelete(conv, msg.seq);
  else applyEdit(conv, msg.seq, known.data, known.by);
}
