// The chat page's script: connects webim.js with the token chat.php issued, shows pub:all
// announcements, one room (with a composer) and the user's inbox. Everything user-provided goes
// into the page as textContent.
const cfg = JSON.parse(document.getElementById('webim-config').textContent);
const $ = (sel) => document.querySelector(sel);

const LABELS = { idle: 'offline', connecting: 'connecting…', open: 'online', reconnecting: 'reconnecting…', closed: 'disconnected' };
function showState(state, transport, detail = '') {
  const badge = $('#state');
  badge.dataset.state = state;
  badge.dataset.transport = transport ?? '';
  badge.textContent = LABELS[state] + (state === 'open' && transport ? ` · ${transport}` : '');
  $('#state-detail').textContent = detail;
}

let WebimClient;
try {
  ({ WebimClient } = await import(new URL(cfg.jsUrl, location.href).href));
} catch (e) {
  showState('closed', null, `cannot load webim.js from ${cfg.jsUrl}: ${e.message}`);
  throw e;
}

// A fresh token from the PHP session, before the current one expires and after a 4001 close.
async function getToken() {
  const res = await fetch(cfg.tokenUrl, { cache: 'no-store', credentials: 'same-origin' });
  if (res.status === 401) {
    location.href = 'index.php'; // logged out meanwhile
    throw new Error('logged out');
  }
  if (!res.ok) throw new Error(`${cfg.tokenUrl}: HTTP ${res.status}`);
  return (await res.text()).trim();
}

const client = new WebimClient({ urls: cfg.wsUrls, token: cfg.token, getToken });
client.on('state', (s, { transport }) => showState(s, transport, s === 'closed' ? client.closeError?.message ?? '' : ''));

const textOf = (data) => (typeof data === 'string' ? data : typeof data?.text === 'string' ? data.text : JSON.stringify(data));
const timeOf = (ts) => new Date(ts).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });

function messageItem(msg, { from = msg.from, text = textOf(msg.data) } = {}) {
  const li = document.createElement('li');
  li.className = 'msg';
  if (msg.from === cfg.user) li.classList.add('mine');
  li.innerHTML = '<span class="from"></span> <time></time><div class="text"></div>';
  li.querySelector('.from').textContent = from;
  li.querySelector('time').textContent = timeOf(msg.ts ?? Date.now());
  li.querySelector('.text').textContent = text;
  return li;
}

// Places `li` among the list's messages by seq; pending ones (no seq yet) stay at the bottom.
function insertBySeq(list, li, seq) {
  for (const other of list.children) {
    if (other.dataset.seq === undefined || Number(other.dataset.seq) > seq) return list.insertBefore(li, other);
  }
  return list.append(li);
}

// Subscribes `ch` into `list` (each seq once, in order) and loads its latest `limit` messages.
function channelView(ch, list, render, limit = 20) {
  const bySeq = new Map();
  const add = (msg) => {
    if (bySeq.has(msg.seq)) return;
    const li = render(msg);
    li.dataset.seq = String(msg.seq);
    bySeq.set(msg.seq, li);
    insertBySeq(list, li, msg.seq);
    list.closest('section').classList.add('has-msgs');
    list.scrollTop = list.scrollHeight;
  };
  const off = client.subscribe(ch, add);
  off.ready
    .then(async ({ seq }) => {
      if (seq > 0) for (const msg of (await client.history(ch, { before: seq + 1, limit })).msgs) add(msg);
    })
    .catch((e) => {
      const li = document.createElement('li');
      li.className = 'note';
      li.textContent = `Cannot read ${ch}: ${e.code ?? e.message}`;
      list.append(li);
    });
  client.on('resync', ({ ch: lost }) => {
    if (lost !== ch) return;
    list.replaceChildren(); // history was reset: show what it has now
    bySeq.clear();
  });
  return { add, bySeq };
}

client.connect().catch(() => {});

channelView('pub:all', $('#announcements'), (msg) => {
  const by = typeof msg.data?.by === 'string' ? msg.data.by : msg.from;
  return messageItem(msg, { from: by });
});
channelView(`user:${cfg.user}`, $('#inbox'), (msg) => messageItem(msg));
const room = channelView(cfg.room, $('#messages'), (msg) => messageItem(msg), 30);

$('#composer').onsubmit = async (e) => {
  e.preventDefault();
  const input = e.target.text;
  const text = input.value.trim();
  if (!text) return;
  input.value = '';
  const list = $('#messages');
  const li = messageItem({ from: cfg.user, data: { text } });
  li.classList.add('pending');
  list.append(li);
  list.closest('section').classList.add('has-msgs');
  try {
    const { seq } = await client.publish(cfg.room, { text }); // acked once durably stored
    li.classList.remove('pending');
    if (room.bySeq.has(seq)) {
      li.remove(); // the delivery came first
    } else {
      li.dataset.seq = String(seq);
      room.bySeq.set(seq, li);
      insertBySeq(list, li, seq);
    }
  } catch (err) {
    li.classList.replace('pending', 'failed');
    li.querySelector('.text').textContent += ` (not sent: ${err.code ?? err.message})`;
  }
};
