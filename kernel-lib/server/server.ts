/**
 * WidgetServer: the kernel-side end of the prompt widget. An HTTP server on 127.0.0.1 (a free port)
 * that upgrades `/ws` to websockets (protocol.ts) and serves the widget bundle (`/widget.js`) and a
 * stand-alone page (`/`) for use outside Jupyter.
 *
 * Guards, from the outside in:
 *   - loopback only (127.0.0.1), so other machines cannot connect at all;
 *   - Origin allow-list at the handshake (default: http(s) on localhost / 127.0.0.1 / [::1], any port):
 *     other origins get HTTP 403 before a websocket exists. No Origin (non-browser clients) is let
 *     through, because a non-browser client could send any Origin anyway — the token is what guards;
 *   - a random per-kernel token, checked on the first frame (close 4001);
 *   - maxPayload on every frame (close 1009), no compression (no zip bombs);
 *   - two connection caps (1013). Only authenticated connections count against maxConnections, and a
 *     connection must say hello within helloTimeoutMs (2 s), so local clients that connect and stay
 *     silent cannot lock the real widget out; they have their own, smaller cap (maxPendingConnections),
 *     and when it is full the oldest silent one makes room (a real widget says hello within
 *     milliseconds of opening, so it is never the oldest for long).
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer } from 'ws';
import { resolveMaxNewTokens, Session } from '../session';
import { Connection, ServerContext } from './connection';
import { CLOSE, LIMITS, PROTOCOL_VERSION, WelcomeMsg } from './protocol';
import type { SessionEntry, WidgetSessionOptions } from './types';
import { standalonePage } from './page';

export interface WidgetServerOptions {
  /** Browser origins allowed to connect: exact strings, patterns, or a predicate. Default: localhost. */
  allowedOrigins?: (string | RegExp)[] | ((origin: string) => boolean);
  /** Largest frame accepted, in bytes (default 4 MiB: room for a PNG upload). */
  maxPayload?: number;
  /** Simultaneous authenticated connections (default 32). */
  maxConnections?: number;
  /** Simultaneous connections that have not said hello yet (default 16); the oldest makes room for a new one. */
  maxPendingConnections?: number;
  /** A connection must authenticate within this many ms (default 2 s). */
  helloTimeoutMs?: number;
  /** The browser bundle served at /widget.js (default: none; promptWidget passes it). */
  bundlePath?: string;
}

export const DEFAULT_MAX_PAYLOAD = 4 * 1024 * 1024;
export const DEFAULT_MAX_CONNECTIONS = 32;
export const DEFAULT_MAX_PENDING_CONNECTIONS = 16;
export const DEFAULT_HELLO_TIMEOUT_MS = 2000;
export const LOCALHOST_ORIGIN = /^https?:\/\/(localhost|127\.0\.0\.1|\[::1\])(:\d{1,5})?$/;

export class WidgetServer {
  /** Send this in hello; a fresh one per server (so per kernel). */
  readonly token = randomBytes(24).toString('hex');
  private readonly sessions = new Map<string, SessionEntry>();
  private readonly conns = new Set<Connection>();
  private gen = 0;
  private closing = false;

  private constructor(
    private readonly http: http.Server,
    private readonly wss: WebSocketServer,
    readonly port: number,
    private readonly opts: Required<Omit<WidgetServerOptions, 'bundlePath'>> & { bundlePath?: string },
  ) {}

  static async start(options: WidgetServerOptions = {}): Promise<WidgetServer> {
    const opts = {
      allowedOrigins: options.allowedOrigins ?? [LOCALHOST_ORIGIN],
      maxPayload: options.maxPayload ?? DEFAULT_MAX_PAYLOAD,
      maxConnections: options.maxConnections ?? DEFAULT_MAX_CONNECTIONS,
      maxPendingConnections: options.maxPendingConnections ?? DEFAULT_MAX_PENDING_CONNECTIONS,
      helloTimeoutMs: options.helloTimeoutMs ?? DEFAULT_HELLO_TIMEOUT_MS,
      bundlePath: options.bundlePath,
    };
    const wss = new WebSocketServer({ noServer: true, maxPayload: opts.maxPayload, perMessageDeflate: false });
    wss.on('error', () => undefined);
    const server = http.createServer();
    server.on('clientError', (_e, socket) => socket.destroy());
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    server.on('error', () => undefined);
    const port = (server.address() as { port: number }).port;
    const ws = new WidgetServer(server, wss, port, opts);
    server.on('request', (req, res) => ws.onRequest(req, res));
    server.on('upgrade', (req, socket, head) => ws.onUpgrade(req, socket, head));
    // A notebook kernel should be able to exit while a widget is open.
    server.unref();
    return ws;
  }

  get url(): string {
    return `ws://127.0.0.1:${this.port}/ws`;
  }

  /** True once close() was called. */
  get closed(): boolean {
    return this.closing;
  }

  /** Open connections, authenticated or not (tests watch this to see that nothing leaks). */
  get connectionCount(): number {
    return this.conns.size;
  }

  /** Connections that count against maxConnections (authenticated) and maxPendingConnections (not yet). */
  get counts(): { authenticated: number; pending: number } {
    let authenticated = 0;
    let pending = 0;
    for (const c of this.conns) {
      if (c.authenticated) authenticated++;
      else if (c.pending) pending++;
    }
    return { authenticated, pending };
  }

  /** Makes a session reachable from widgets; returns the key a hello names it by. */
  register(session: Session, opts: WidgetSessionOptions = {}): string {
    const key = randomBytes(8).toString('hex');
    const images = new Map((opts.images ?? []).map((i) => [i.name, i.image]));
    const lock = [...this.sessions.values()].find((e) => e.session === session)?.lock ?? { running: null };
    this.sessions.set(key, { key, session, images, coder: opts.coder, lock });
    return key;
  }

  /** Stops its generation and closes its connections (4004). */
  unregister(key: string): void {
    const entry = this.sessions.get(key);
    if (!entry) return;
    this.sessions.delete(key);
    if (entry.lock.running?.key === key) entry.lock.running.abort.abort();
    for (const c of this.conns) if (c.entry === entry) c.close(CLOSE.unknownSession, 'session closed');
  }

  /** True while a generation runs on that session. */
  isBusy(key: string): boolean {
    return this.sessions.get(key)?.lock.running != null;
  }

  originAllowed(origin: string | undefined): boolean {
    if (origin === undefined) return true;
    const allow = this.opts.allowedOrigins;
    if (typeof allow === 'function') return allow(origin);
    return allow.some((a) => (typeof a === 'string' ? a === origin : a.test(origin)));
  }

  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    for (const e of this.sessions.values()) e.lock.running?.abort.abort();
    for (const c of this.conns) c.close(CLOSE.goingAway, 'server closing');
    for (const client of this.wss.clients) client.terminate();
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
    this.http.closeAllConnections();
    await new Promise<void>((resolve) => this.http.close(() => resolve()));
  }

  private welcome(entry: SessionEntry): WelcomeMsg {
    const s = entry.session;
    const c = s.config;
    const t = s.tokenizer;
    const encode = entry.coder?.encodePng !== undefined;
    return {
      type: 'welcome',
      version: PROTOCOL_VERSION,
      session: {
        source: s.source,
        numLayers: c.numLayers,
        numExperts: c.numExperts,
        topK: c.topK,
        vocabSize: c.vocabSize,
        maxPositions: c.maxPositions,
        numImageCodes: t.numImageCodes,
        imageGrid: t.hasImages ? t.imageGrid : null,
      },
      images: [...entry.images].map(([name, im]) => ({ name, height: im.height, width: im.width })),
      upload: encode
        ? { enabled: true }
        : { enabled: false, reason: 'Uploading a PNG needs an image encoder (VQ-VAE); pass promptWidget(session, { coder }) to enable it.' },
      patches: entry.coder?.decode !== undefined,
      limits: { maxPayload: this.opts.maxPayload, maxNewTokens: LIMITS.maxNewTokens, paceMs: LIMITS.paceMs },
      budget: { text: resolveMaxNewTokens(t, {}), startImage: t.hasImages ? resolveMaxNewTokens(t, { startImage: true }) : null },
    };
  }

  private context(): ServerContext {
    return {
      token: this.token,
      maxPayload: this.opts.maxPayload,
      helloTimeoutMs: this.opts.helloTimeoutMs,
      sessions: this.sessions,
      nextGen: () => ++this.gen,
      welcome: (e) => this.welcome(e),
      // Called after the connection's entry is set, so it is already one of the authenticated.
      admit: () => this.counts.authenticated <= this.opts.maxConnections,
      onClose: (c) => this.conns.delete(c),
    };
  }

  private onUpgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', () => undefined);
    const origin = req.headers.origin;
    const path = (req.url ?? '').split('?')[0];
    if (this.closing || path !== '/ws') return refuse(socket, 404, 'Not Found', 'no websocket here; use /ws');
    if (!this.originAllowed(origin)) return refuse(socket, 403, 'Forbidden', `Origin not allowed: ${origin}`);
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      const pending = [...this.conns].filter((c) => c.pending);
      // Insertion order is age: the first pending one has been silent longest.
      if (pending.length >= this.opts.maxPendingConnections) pending[0].close(CLOSE.tryAgainLater, 'too many unauthenticated connections');
      this.conns.add(new Connection(ws, this.context()));
    });
  }

  private onRequest(req: http.IncomingMessage, res: http.ServerResponse): void {
    const path = (req.url ?? '').split('?')[0];
    const headers = { 'Cache-Control': 'no-store', 'X-Content-Type-Options': 'nosniff' };
    const bundle = this.opts.bundlePath;
    if (req.method === 'GET' && path === '/widget.js' && bundle && fs.existsSync(bundle)) {
      res.writeHead(200, { ...headers, 'Content-Type': 'text/javascript; charset=utf-8' });
      res.end(fs.readFileSync(bundle));
    } else if (req.method === 'GET' && path === '/') {
      res.writeHead(200, { ...headers, 'Content-Type': 'text/html; charset=utf-8' });
      res.end(standalonePage(this.port));
    } else {
      res.writeHead(404, { ...headers, 'Content-Type': 'text/plain' });
      res.end('not found\n');
    }
  }
}

/** Answers a handshake with a plain HTTP error and drops the socket. */
function refuse(socket: Duplex, status: number, statusText: string, body: string): void {
  const text = `${body}\n`;
  socket.end(
    `HTTP/1.1 ${status} ${statusText}\r\nConnection: close\r\nContent-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(text)}\r\n\r\n${text}`,
  );
}
