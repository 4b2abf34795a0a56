// A raw RFC 6455 client on node:net for conformance tests: does the HTTP upgrade by hand (checking 101
// and Sec-WebSocket-Accept), sends hand-built frames (any FIN/RSV/opcode/length encoding/masking, split
// into TCP writes at will) and parses the server's frames strictly (a server frame must be unmasked,
// RSV 0, minimal length, control frames FIN and <= 125 bytes). Nothing here trusts the server.
import { createHash, randomBytes } from 'node:crypto';
import net from 'node:net';

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

export const OP = { CONT: 0x0, TEXT: 0x1, BINARY: 0x2, CLOSE: 0x8, PING: 0x9, PONG: 0xa };

export const acceptKey = (key) => createHash('sha1').update(key + GUID).digest('base64');

const nextTick = () => new Promise((resolve) => setImmediate(resolve));

// One client frame. Options: fin, rsv (0..7: RSV1=4, RSV2=2, RSV3=1), mask (false: unmasked), key (4-byte
// masking key), len (7|16|64: force a length encoding, minimal or not), declared (payload length to put in
// the header, Number or BigInt, independent of the bytes actually appended).
export function frame(opcode, payload = Buffer.alloc(0), opts = {}) {
  const { fin = true, rsv = 0, mask = true } = opts;
  const body = Buffer.isBuffer(payload) ? payload : Buffer.from(payload);
  const declared = BigInt(opts.declared ?? body.length);
  const enc = opts.len ?? (declared < 126n ? 7 : declared <= 0xffffn ? 16 : 64);
  const parts = [];
  const b0 = (fin ? 0x80 : 0) | ((rsv & 7) << 4) | (opcode & 0x0f);
  const maskBit = mask ? 0x80 : 0;
  if (enc === 7) {
    parts.push(Buffer.from([b0, maskBit | Number(declared)]));
  } else if (enc === 16) {
    const h = Buffer.alloc(4);
    h[0] = b0;
    h[1] = maskBit | 126;
    h.writeUInt16BE(Number(declared), 2);
    parts.push(h);
  } else {
    const h = Buffer.alloc(10);
    h[0] = b0;
    h[1] = maskBit | 127;
    h.writeBigUInt64BE(declared, 2);
    parts.push(h);
  }
  if (mask) {
    const key = opts.key ?? randomBytes(4);
    parts.push(key);
    const masked = Buffer.alloc(body.length);
    for (let i = 0; i < body.length; i++) masked[i] = body[i] ^ key[i & 3];
    parts.push(masked);
  } else {
    parts.push(body);
  }
  return Buffer.concat(parts);
}

// A close frame body: 2-byte code (or none when code is null) + reason bytes.
export function closeBody(code, reason = Buffer.alloc(0)) {
  if (code === null || code === undefined) return Buffer.alloc(0);
  const b = Buffer.alloc(2);
  b.writeUInt16BE(code, 0);
  return Buffer.concat([b, Buffer.isBuffer(reason) ? reason : Buffer.from(reason)]);
}

// The application probe: `{"op":"x","id":N,"pad":"<filler>"}`, exactly `size` bytes when size is given
// (ASCII filler), or with `middle` (raw bytes, e.g. UTF-8 under test) inside the pad.
export function probe(id, size, middle = Buffer.alloc(0)) {
  const head = Buffer.from(`{"op":"x","id":${id},"pad":"`);
  const tail = Buffer.from('"}');
  const fixed = head.length + middle.length + tail.length;
  const fill = size === undefined ? 0 : size - fixed;
  if (fill < 0) throw new Error(`probe of ${size} bytes is too small (min ${fixed})`);
  return Buffer.concat([head, middle, Buffer.alloc(fill, 'a'), tail]);
}

// The exact reply to a probe.
export const probeReply = (id) => `{"op":"err","id":${id},"code":"bad_request","msg":"unknown op"}`;

// Splits a buffer into n nearly equal parts (some may be empty when n > length).
export function splitInto(buf, n) {
  const out = [];
  for (let i = 0; i < n; i++) out.push(buf.subarray(Math.floor((i * buf.length) / n), Math.floor(((i + 1) * buf.length) / n)));
  return out;
}

// Frames of one text (or other opcode) message split into the given payload parts.
export function fragments(parts, opcode = OP.TEXT, opts = {}) {
  return parts.map((p, i) => frame(i === 0 ? opcode : OP.CONT, p, { ...opts, fin: i === parts.length - 1 }));
}

function parseHttpHead(text) {
  const [statusLine, ...lines] = text.split('\r\n');
  const m = statusLine.match(/^HTTP\/1\.1 (\d{3}) /);
  if (!m) throw new Error(`bad status line: ${JSON.stringify(statusLine)}`);
  const headers = {};
  for (const line of lines) {
    if (!line) continue;
    const i = line.indexOf(':');
    headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
  }
  return { status: Number(m[1]), headers };
}

// Sends one raw HTTP request and reads the whole response (the server closes after a non-101 answer).
export function httpExchange(port, request, timeoutMs = 3000) {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ port, host: '127.0.0.1' });
    const chunks = [];
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no complete HTTP response in ${timeoutMs} ms: ${JSON.stringify(Buffer.concat(chunks).toString())}`));
    }, timeoutMs);
    socket.on('data', (d) => chunks.push(d));
    socket.on('error', () => {});
    socket.on('close', () => {
      clearTimeout(timer);
      const raw = Buffer.concat(chunks).toString('latin1');
      const end = raw.indexOf('\r\n\r\n');
      if (end < 0) return reject(new Error(`no HTTP head: ${JSON.stringify(raw)}`));
      try {
        const { status, headers } = parseHttpHead(raw.slice(0, end));
        resolve({ status, headers, body: raw.slice(end + 4), raw });
      } catch (e) {
        reject(e);
      }
    });
    socket.write(request);
  });
}

export function upgradeRequest(port, { path = '/ws', key = randomBytes(16).toString('base64'), headers = {}, method = 'GET', version = 'HTTP/1.1' } = {}) {
  const all = {
    Host: `127.0.0.1:${port}`,
    Upgrade: 'websocket',
    Connection: 'Upgrade',
    'Sec-WebSocket-Key': key,
    'Sec-WebSocket-Version': '13',
    ...headers,
  };
  let text = `${method} ${path} ${version}\r\n`;
  for (const [k, v] of Object.entries(all)) if (v !== null && v !== undefined) text += `${k}: ${v}\r\n`;
  return { text: text + '\r\n', key };
}

export class RawWs {
  // Opens a TCP connection, sends the upgrade request (+ `pipelined` bytes in the same write) and checks
  // the 101 answer and its Sec-WebSocket-Accept. `byteByByte` writes the request one byte at a time.
  static async connect(port, { headers = {}, pipelined = null, byteByByte = false, timeoutMs = 3000 } = {}) {
    const ws = new RawWs(net.connect({ port, host: '127.0.0.1', allowHalfOpen: true }));
    await new Promise((resolve, reject) => {
      ws.socket.once('connect', resolve);
      ws.socket.once('error', reject);
    });
    const { text, key } = upgradeRequest(port, { headers });
    const req = Buffer.from(text);
    if (byteByByte) {
      for (let i = 0; i < req.length; i++) {
        ws.socket.write(req.subarray(i, i + 1));
        await nextTick();
      }
    } else {
      ws.socket.write(pipelined ? Buffer.concat([req, pipelined]) : req);
    }
    const head = await ws.readHead(timeoutMs);
    if (head.status !== 101) throw new Error(`expected 101, got ${head.status}: ${head.raw}`);
    if (head.headers['sec-websocket-accept'] !== acceptKey(key)) {
      throw new Error(`bad Sec-WebSocket-Accept ${head.headers['sec-websocket-accept']} for key ${key}`);
    }
    if ((head.headers.upgrade ?? '').toLowerCase() !== 'websocket') throw new Error(`bad Upgrade header: ${head.raw}`);
    ws.handshake = head;
    return ws;
  }

  constructor(socket) {
    this.socket = socket;
    socket.setNoDelay(true);
    this.buf = Buffer.alloc(0);
    this.inHttp = true;
    this.frames = [];           // parsed, not yet taken
    this.violations = [];       // server frames breaking RFC 6455
    this.waiters = [];
    this.ended = false;         // the server sent FIN
    this.closed = false;        // the socket is fully closed
    this.closeSeen = false;     // a close frame arrived
    this.afterClose = [];       // frames that arrived after the close frame (must stay empty)
    socket.on('data', (d) => {
      this.buf = this.buf.length ? Buffer.concat([this.buf, d]) : d;
      if (!this.inHttp) this.parse();
      this.wake();
    });
    socket.on('end', () => { this.ended = true; this.wake(); });
    socket.on('close', () => { this.closed = true; this.ended = true; this.wake(); });
    socket.on('error', () => {});
  }

  wake() {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) if (!w()) this.waiters.push(w);
  }

  // Resolves when check() returns a non-undefined value; rejects after timeoutMs with describe().
  waitFor(check, timeoutMs, describe) {
    return new Promise((resolve, reject) => {
      const attempt = () => {
        let v;
        try {
          v = check();
        } catch (e) {
          clearTimeout(timer);
          reject(e);
          return true;
        }
        if (v === undefined) return false;
        clearTimeout(timer);
        resolve(v);
        return true;
      };
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== attempt);
        reject(new Error(`timeout after ${timeoutMs} ms: ${describe()}`));
      }, timeoutMs);
      if (!attempt()) this.waiters.push(attempt);
    });
  }

  readHead(timeoutMs) {
    return this.waitFor(() => {
      const end = this.buf.indexOf('\r\n\r\n');
      if (end < 0) {
        if (this.ended) throw new Error(`connection ended during the handshake: ${JSON.stringify(this.buf.toString())}`);
        return undefined;
      }
      const raw = this.buf.subarray(0, end).toString('latin1');
      this.buf = this.buf.subarray(end + 4);
      this.inHttp = false;
      this.parse();
      return { ...parseHttpHead(raw), raw };
    }, timeoutMs, () => `no HTTP response head: ${JSON.stringify(this.buf.toString())}`);
  }

  parse() {
    for (;;) {
      const b = this.buf;
      if (b.length < 2) return;
      let len = b[1] & 0x7f;
      let at = 2;
      if (len === 126) {
        if (b.length < 4) return;
        len = b.readUInt16BE(2);
        at = 4;
        if (len < 126) this.violations.push('non-minimal 16-bit length');
      } else if (len === 127) {
        if (b.length < 10) return;
        const big = b.readBigUInt64BE(2);
        if (big > BigInt(Number.MAX_SAFE_INTEGER)) throw new Error('absurd server frame length');
        len = Number(big);
        at = 10;
        if (len <= 0xffff) this.violations.push('non-minimal 64-bit length');
      }
      if (b[1] & 0x80) this.violations.push('server frame is masked');
      if (b.length < at + len) return;
      const f = {
        fin: (b[0] & 0x80) !== 0,
        rsv: (b[0] >> 4) & 7,
        opcode: b[0] & 0x0f,
        payload: Buffer.from(b.subarray(at, at + len)),
      };
      if (f.rsv) this.violations.push(`server frame has RSV ${f.rsv}`);
      if (f.opcode >= 8 && (!f.fin || len > 125)) this.violations.push('bad server control frame');
      this.buf = b.subarray(at + len);
      if (this.closeSeen) this.afterClose.push(f);
      else this.frames.push(f);
      if (f.opcode === OP.CLOSE) this.closeSeen = true;
    }
  }

  checkViolations() {
    if (this.violations.length) throw new Error(`server broke RFC 6455: ${this.violations.join('; ')}`);
  }

  // The next server frame (any opcode).
  nextFrame(timeoutMs = 3000) {
    return this.waitFor(() => {
      this.checkViolations();
      if (this.frames.length) return this.frames.shift();
      if (this.ended) throw new Error('the server closed the TCP connection without sending another frame');
      return undefined;
    }, timeoutMs, () => 'no frame from the server');
  }

  async nextText(timeoutMs = 3000) {
    const f = await this.nextFrame(timeoutMs);
    if (f.opcode !== OP.TEXT) throw new Error(`expected a text frame, got opcode ${f.opcode} ${describeFrame(f)}`);
    if (!f.fin) throw new Error('the server fragmented a text message');
    return f.payload.toString('utf8');
  }

  async nextJson(timeoutMs = 3000) {
    return JSON.parse(await this.nextText(timeoutMs));
  }

  // Waits for the server's close frame (every frame before it is returned in `before` unless strict) and
  // then for the server to close TCP. Replies with a close frame first when `reply` (the client side of
  // the closing handshake). Asserts that nothing follows the close frame.
  async closed_(timeoutMs) {
    return this.waitFor(() => (this.ended ? true : undefined), timeoutMs, () => 'the server did not close TCP after its close frame');
  }

  async expectClose(code, { reply = true, timeoutMs = 3000, allowBefore = false } = {}) {
    const before = [];
    let f;
    for (;;) {
      f = await this.nextFrame(timeoutMs);
      if (f.opcode === OP.CLOSE) break;
      if (!allowBefore) throw new Error(`expected close ${code}, got ${describeFrame(f)}`);
      before.push(f);
    }
    const got = f.payload.length >= 2 ? f.payload.readUInt16BE(0) : null;
    const reason = f.payload.subarray(2).toString('utf8');
    if (got !== code) throw new Error(`expected close ${code}, got close ${got} (${JSON.stringify(reason)})`);
    if (reply) this.socket.write(frame(OP.CLOSE, f.payload.subarray(0, 2)));
    await this.closed_(timeoutMs);
    this.checkViolations();
    if (this.afterClose.length) throw new Error(`frames after the close frame: ${this.afterClose.map(describeFrame).join(', ')}`);
    this.destroy();
    return { code: got, reason, payload: f.payload, before };
  }

  // Asserts no frame arrives within ms.
  async expectSilence(ms = 150) {
    await new Promise((r) => setTimeout(r, ms));
    this.checkViolations();
    if (this.frames.length) throw new Error(`unexpected frame: ${describeFrame(this.frames[0])}`);
  }

  send(...buffers) {
    this.socket.write(buffers.length === 1 ? buffers[0] : Buffer.concat(buffers));
  }

  // Writes `data` in chunks of `size` bytes, yielding to the event loop between writes so that they go out
  // as separate TCP segments (TCP_NODELAY is on).
  async sendChunked(data, size = 1) {
    for (let i = 0; i < data.length; i += size) {
      this.socket.write(data.subarray(i, i + size));
      await nextTick();
    }
  }

  destroy() {
    this.socket.destroy();
  }
}

export function describeFrame(f) {
  const p = f.payload;
  const shown = f.opcode === OP.TEXT ? JSON.stringify(p.toString('utf8').slice(0, 200)) : p.subarray(0, 40).toString('hex');
  const code = f.opcode === OP.CLOSE && p.length >= 2 ? ` code ${p.readUInt16BE(0)} ${JSON.stringify(p.subarray(2).toString())}` : '';
  return `[opcode ${f.opcode} fin ${f.fin} len ${p.length}${code} ${code ? '' : shown}]`;
}
