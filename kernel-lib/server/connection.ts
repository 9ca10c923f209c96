/**
 * One websocket client: authentication (the first frame must be a hello with the token), then
 * generate / cancel / PNG uploads. Every handler is wrapped so that nothing a client sends can throw
 * out of here — the server lives inside the notebook kernel, and an uncaught error would kill it.
 */
import { timingSafeEqual } from 'node:crypto';
import type { RawData, WebSocket } from 'ws';
import { decodeHeader, FRAME, payloadOf } from './frames';
import { CLOSE, ClientMessage, ERR, GenerateMsg, PROTOCOL_VERSION, ServerMessage, WelcomeMsg } from './protocol';
import { parseClientMessage } from './parse';
import { errorText, runGeneration, Sink } from './runner';
import type { SessionEntry } from './types';

/** What a connection needs from its server. */
export interface ServerContext {
  token: string;
  maxPayload: number;
  helloTimeoutMs: number;
  sessions: Map<string, SessionEntry>;
  nextGen(): number;
  welcome(entry: SessionEntry): WelcomeMsg;
  /** Called once a connection has authenticated (and so counts against maxConnections): false = over the cap. */
  admit(c: Connection): boolean;
  onClose(c: Connection): void;
}

/** Uploads being encoded at once per connection; more get an error instead of queueing work. */
const MAX_UPLOADS_IN_FLIGHT = 2;
/**
 * A client that sends but never reads would make replies pile up in the kernel's memory. Generations
 * pause at 4 MiB (runner.ts); past this, the connection is closed (1008).
 */
const MAX_UNREAD_BYTES = 32 * 1024 * 1024;

export class Connection implements Sink {
  entry: SessionEntry | null = null;
  private uploads = 0;
  private closing = false;
  private readonly helloTimer: ReturnType<typeof setTimeout>;

  constructor(private readonly ws: WebSocket, private readonly ctx: ServerContext) {
    ws.on('message', (data, isBinary) => this.safely(() => this.onMessage(data, isBinary)));
    // ws closes the socket itself after a protocol error (1002, 1007, 1009); without a listener the
    // 'error' event would be thrown and take the kernel down.
    ws.on('error', () => undefined);
    ws.on('close', () => this.safely(() => this.onClose()));
    this.helloTimer = setTimeout(() => this.close(CLOSE.unauthorized, 'hello timeout'), ctx.helloTimeoutMs);
  }

  // ---- Sink
  sendJson(m: ServerMessage): void {
    if (this.isOpen() && this.reading()) this.ws.send(JSON.stringify(m), () => undefined);
  }
  sendBinary(b: Uint8Array): void {
    if (this.isOpen() && this.reading()) this.ws.send(b, { binary: true }, () => undefined);
  }
  private reading(): boolean {
    if (this.ws.bufferedAmount <= MAX_UNREAD_BYTES) return true;
    this.close(CLOSE.notReading, 'client is not reading its replies');
    return false;
  }
  buffered(): number {
    return this.ws.bufferedAmount;
  }
  isOpen(): boolean {
    return this.ws.readyState === this.ws.OPEN;
  }

  /** Said a valid hello and was admitted, and is not being closed: counts against maxConnections. */
  get authenticated(): boolean {
    return this.entry !== null && !this.closing;
  }

  /** Has not said hello yet, and is not being closed: counts against maxPendingConnections. */
  get pending(): boolean {
    return this.entry === null && !this.closing;
  }

  close(code: number, reason: string): void {
    this.closing = true;
    if (this.ws.readyState === this.ws.OPEN || this.ws.readyState === this.ws.CONNECTING) this.ws.close(code, reason);
  }

  private safely(fn: () => void): void {
    try {
      fn();
    } catch (e) {
      this.sendJson({ type: 'error', code: 'internal', message: `internal error: ${errorText(e)}` });
    }
  }

  private onMessage(data: RawData, isBinary: boolean): void {
    // Frames that were on their way when we closed (a hello from a connection evicted to make room) are not served.
    if (this.closing) return;
    const buf = Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data);
    if (this.entry === null) return this.onFirstFrame(buf, isBinary);
    if (isBinary) return this.onBinary(buf);
    const parsed = parseClientMessage(buf.toString('utf8'));
    if (!parsed.ok) return this.sendJson({ type: 'error', code: parsed.code, message: parsed.message });
    this.dispatch(parsed.msg);
  }

  private onFirstFrame(buf: Buffer, isBinary: boolean): void {
    const parsed = isBinary ? null : parseClientMessage(buf.toString('utf8'));
    if (!parsed || !parsed.ok || parsed.msg.type !== 'hello') return this.close(CLOSE.unauthorized, 'first message must be hello');
    const hello = parsed.msg;
    // The token is checked before anything else, so an unauthenticated client learns nothing more.
    if (hello.token === '') return this.close(CLOSE.unauthorized, 'missing token');
    const a = Buffer.from(hello.token, 'utf8');
    const b = Buffer.from(this.ctx.token, 'utf8');
    if (a.length !== b.length || !timingSafeEqual(a, b)) return this.close(CLOSE.unauthorized, 'wrong token');
    if (hello.version !== PROTOCOL_VERSION) {
      return this.close(CLOSE.badVersion, `protocol version ${hello.version} is not supported (server speaks ${PROTOCOL_VERSION})`);
    }
    const entry = this.ctx.sessions.get(hello.session);
    if (!entry) return this.close(CLOSE.unknownSession, 'unknown session');
    clearTimeout(this.helloTimer);
    this.entry = entry;
    if (!this.ctx.admit(this)) {
      this.entry = null;
      return this.close(CLOSE.tryAgainLater, 'too many connections');
    }
    this.sendJson(this.ctx.welcome(entry));
  }

  private dispatch(msg: ClientMessage): void {
    switch (msg.type) {
      case 'hello':
        return this.sendJson({ type: 'error', code: 'bad-message', message: ERR.helloTwice });
      case 'generate':
        return this.generate(msg);
      case 'cancel': {
        const r = this.entry?.lock.running;
        if (!r || r.owner !== this || r.id !== msg.id) {
          return this.sendJson({ type: 'error', code: 'not-running', id: msg.id, message: ERR.notRunning(msg.id) });
        }
        r.abort.abort(); // the generation sees it before its next step and ends with done 'aborted'
        return;
      }
    }
  }

  /**
   * One generation per session at a time. A second request gets `busy` rather than a queue: a queued
   * request would start long after the user who sent it has moved on, and the widget disables Run
   * while its own generation runs anyway.
   */
  private generate(msg: GenerateMsg): void {
    const entry = this.entry as SessionEntry;
    const lock = entry.lock;
    if (lock.running) return this.sendJson({ type: 'error', code: 'busy', id: msg.id, message: ERR.busy(lock.running.id) });
    const running = { id: msg.id, gen: this.ctx.nextGen(), key: entry.key, owner: this, abort: new AbortController() };
    lock.running = running;
    runGeneration(entry, this, msg, running.gen, running.abort.signal)
      .catch((e) => this.sendJson({ type: 'error', code: 'internal', id: msg.id, message: `internal error: ${errorText(e)}` }))
      .finally(() => {
        if (lock.running === running) lock.running = null;
      });
  }

  private onBinary(buf: Buffer): void {
    const h = decodeHeader(buf);
    if (typeof h === 'string') return this.sendJson({ type: 'error', code: 'bad-frame', message: h });
    if (h.kind !== FRAME.upload) {
      return this.sendJson({ type: 'error', code: 'bad-frame', message: `binary frame kind ${h.kind} is not accepted from clients` });
    }
    const upload = h.step;
    const coder = this.entry?.coder;
    if (!coder) {
      return this.sendJson({ type: 'error', code: 'upload-unsupported', upload, message: 'uploading a PNG needs an ImageCoder (none was given to promptWidget)' });
    }
    if (this.uploads >= MAX_UPLOADS_IN_FLIGHT) {
      return this.sendJson({ type: 'error', code: 'upload-failed', upload, message: `PNG upload ${upload}: more than ${MAX_UPLOADS_IN_FLIGHT} uploads in flight` });
    }
    this.uploads++;
    const tok = (this.entry as SessionEntry).session.tokenizer;
    Promise.resolve()
      .then(() => coder.encodePng(new Uint8Array(payloadOf(buf))))
      .then((img) => {
        checkCodes(img, tok.numImageCodes);
        this.sendJson({ type: 'image', upload, height: img.height, width: img.width, codes: Array.from(img.codes) });
      })
      .catch((e) => this.sendJson({ type: 'error', code: 'upload-failed', upload, message: `PNG upload ${upload}: ${errorText(e)}` }))
      .finally(() => this.uploads--);
  }

  private onClose(): void {
    clearTimeout(this.helloTimer);
    const r = this.entry?.lock.running;
    if (r && r.owner === this) r.abort.abort(); // nobody is left to watch it
    this.ctx.onClose(this);
  }
}

/** An encoder's output must fit this tokenizer before it goes back to the browser. */
function checkCodes(img: { height: number; width: number; codes: ArrayLike<number> }, numCodes: number): void {
  const { height, width, codes } = img;
  if (!Number.isInteger(height) || !Number.isInteger(width) || height < 1 || width < 1 || codes.length !== height * width) {
    throw new Error(`the encoder returned a ${width}×${height} grid with ${codes.length} codes`);
  }
  for (let i = 0; i < codes.length; i++) {
    if (!Number.isInteger(codes[i]) || codes[i] < 0 || codes[i] >= numCodes) {
      throw new Error(`the encoder returned code ${codes[i]} at index ${i}, outside [0, ${numCodes})`);
    }
  }
}
