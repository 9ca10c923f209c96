/**
 * The widget's websocket to the kernel: hello on open, JSON and binary frames to handlers, and
 * reconnection with capped exponential backoff. Close codes the server uses for a refusal that a
 * retry cannot fix (wrong token, wrong version, unknown session) stop the retries.
 */
import { CLOSE, ClientMessage, PROTOCOL_VERSION, ServerMessage, WelcomeMsg } from '../../kernel-lib/server/protocol';

export type LinkStatus =
  | { kind: 'connecting'; attempt: number }
  | { kind: 'connected'; welcome: WelcomeMsg }
  /** Never connected: nothing listens at the address from this browser. */
  | { kind: 'unreachable'; retryInMs: number }
  /** Was connected, lost it. */
  | { kind: 'reconnecting'; retryInMs: number; code: number; attempt: number }
  /** The server refused us for good. */
  | { kind: 'refused'; code: number; reason: string };

export interface LinkHandlers {
  status(s: LinkStatus): void;
  message(m: ServerMessage): void;
  binary(bytes: Uint8Array): void;
}

const BACKOFF_START_MS = 500;
const BACKOFF_CAP_MS = 15_000;
const FINAL_CODES: number[] = [CLOSE.unauthorized, CLOSE.badVersion, CLOSE.unknownSession];

export class Link {
  private ws: WebSocket | null = null;
  private attempt = 0;
  private everConnected = false;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private stopped = false;

  constructor(readonly url: string, private readonly token: string, private readonly session: string, private readonly on: LinkHandlers) {}

  start(): this {
    if (!this.ws && !this.timer && !this.stopped) this.connect();
    return this;
  }

  get open(): boolean {
    return this.ws !== null && this.ws.readyState === WebSocket.OPEN;
  }

  send(m: ClientMessage): boolean {
    if (!this.open) return false;
    (this.ws as WebSocket).send(JSON.stringify(m));
    return true;
  }

  sendBinary(b: Uint8Array): boolean {
    if (!this.open) return false;
    (this.ws as WebSocket).send(b);
    return true;
  }

  /** Try now instead of waiting for the backoff timer. */
  retryNow(): void {
    if (this.stopped || this.ws) return;
    if (this.timer) clearTimeout(this.timer);
    this.attempt = 0;
    this.connect();
  }

  close(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.ws?.close(1000, 'widget closed');
    this.ws = null;
  }

  private connect(): void {
    this.timer = null;
    if (this.stopped) return;
    this.on.status({ kind: 'connecting', attempt: this.attempt });
    let ws: WebSocket;
    try {
      ws = new WebSocket(this.url);
    } catch {
      return this.scheduleRetry(1006);
    }
    ws.binaryType = 'arraybuffer';
    this.ws = ws;
    ws.onopen = () => ws.send(JSON.stringify({ type: 'hello', version: PROTOCOL_VERSION, token: this.token, session: this.session }));
    ws.onmessage = (ev: MessageEvent) => {
      if (typeof ev.data === 'string') {
        let m: ServerMessage;
        try {
          m = JSON.parse(ev.data) as ServerMessage;
        } catch {
          return;
        }
        if (m.type === 'welcome') {
          this.everConnected = true;
          this.attempt = 0;
          this.on.status({ kind: 'connected', welcome: m });
        }
        this.on.message(m);
      } else if (ev.data instanceof ArrayBuffer) {
        this.on.binary(new Uint8Array(ev.data));
      }
    };
    ws.onclose = (ev: CloseEvent) => {
      if (this.ws !== ws) return;
      this.ws = null;
      if (this.stopped) return;
      if (FINAL_CODES.includes(ev.code)) return this.on.status({ kind: 'refused', code: ev.code, reason: ev.reason });
      this.scheduleRetry(ev.code);
    };
  }

  private scheduleRetry(code: number): void {
    // Jitter keeps many widgets of one kernel from reconnecting in lockstep after a restart.
    const base = Math.min(BACKOFF_CAP_MS, BACKOFF_START_MS * 2 ** this.attempt);
    const retryInMs = Math.round(base * (0.75 + 0.5 * Math.random()));
    const attempt = this.attempt++;
    this.on.status(this.everConnected ? { kind: 'reconnecting', retryInMs, code, attempt } : { kind: 'unreachable', retryInMs });
    this.timer = setTimeout(() => this.connect(), retryInMs);
  }
}
