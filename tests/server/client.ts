/** A ws test client for WidgetServer: queues what it receives and resolves waits on it. */
import WebSocket from 'ws';
import type { WidgetServer } from '../../kernel-lib/server/server';
import { PROTOCOL_VERSION, ServerMessage } from '../../kernel-lib/server/protocol';

export type Received = ServerMessage | Uint8Array;
export interface Closed {
  code: number;
  reason: string;
}

export class TestClient {
  readonly received: Received[] = [];
  readonly closed: Promise<Closed>;
  private waiters: (() => void)[] = [];

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data, isBinary) => {
      const buf = Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
      this.received.push(isBinary ? new Uint8Array(buf) : (JSON.parse(buf.toString('utf8')) as ServerMessage));
      this.wake();
    });
    this.closed = new Promise((resolve) => ws.on('close', (code, reason) => (this.wake(), resolve({ code, reason: reason.toString() }))));
    ws.on('error', () => undefined);
  }

  static open(server: WidgetServer, opts: { origin?: string; path?: string } = {}): Promise<TestClient> {
    const ws = new WebSocket(`ws://127.0.0.1:${server.port}${opts.path ?? '/ws'}`, { origin: opts.origin, perMessageDeflate: false });
    return new Promise((resolve, reject) => {
      ws.once('open', () => resolve(new TestClient(ws)));
      ws.once('unexpected-response', (_req, res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => reject(Object.assign(new Error(`HTTP ${res.statusCode}`), { status: res.statusCode, body })));
      });
      ws.once('error', reject);
    });
  }

  /** Opens and says hello; resolves with the welcome. */
  static async hello(server: WidgetServer, session: string): Promise<TestClient> {
    const c = await TestClient.open(server);
    c.send({ type: 'hello', version: PROTOCOL_VERSION, token: server.token, session });
    const w = await c.nextJson();
    if (w.type !== 'welcome') throw new Error(`expected welcome, got ${JSON.stringify(w)}`);
    return c;
  }

  send(m: unknown): void {
    this.ws.send(typeof m === 'string' ? m : JSON.stringify(m));
  }

  sendBinary(b: Uint8Array): void {
    this.ws.send(b, { binary: true });
  }

  /** Resolves when `pred` holds over what was received, or rejects after `ms`. */
  async waitFor(pred: () => boolean, ms = 10_000, what = 'condition'): Promise<void> {
    const until = Date.now() + ms;
    while (!pred()) {
      const left = until - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${what}; received ${this.received.length} frames`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => (clearTimeout(t), resolve()));
      });
    }
  }

  private cursor = 0;
  /** The next JSON message after the last one returned (binary frames are skipped). */
  async nextJson(ms = 10_000): Promise<ServerMessage> {
    let found: ServerMessage | undefined;
    await this.waitFor(() => {
      while (this.cursor < this.received.length) {
        const r = this.received[this.cursor++];
        if (!(r instanceof Uint8Array)) {
          found = r;
          return true;
        }
      }
      return false;
    }, ms, 'a JSON message');
    return found as ServerMessage;
  }

  /** Waits for a JSON message of this type (skipping others) and returns it. */
  async until<T extends ServerMessage['type']>(type: T, ms = 10_000): Promise<Extract<ServerMessage, { type: T }>> {
    for (;;) {
      const m = await this.nextJson(ms);
      if (m.type === type) return m as Extract<ServerMessage, { type: T }>;
    }
  }

  /** Forgets what was received (the fuzz test keeps the heap flat). */
  clear(): void {
    this.received.length = 0;
    this.cursor = 0;
  }

  json(): ServerMessage[] {
    return this.received.filter((r): r is ServerMessage => !(r instanceof Uint8Array));
  }

  binary(): Uint8Array[] {
    return this.received.filter((r): r is Uint8Array => r instanceof Uint8Array);
  }

  close(): Promise<Closed> {
    this.ws.close();
    return this.closed;
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    w.forEach((f) => f());
  }
}
