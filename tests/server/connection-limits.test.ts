/**
 * Connection caps that a local client cannot use to lock the real widget out: silent (unauthenticated)
 * connections do not count against maxConnections, time out within 2 s, and have their own cap, where
 * the oldest silent one makes room for a newcomer. Authenticated connections keep their own cap.
 */
import { useBackend } from '../helpers/backend';
import { tinySession } from '../helpers/fixtures';
import type { Session } from '../../kernel-lib/session';
import { DEFAULT_HELLO_TIMEOUT_MS, DEFAULT_MAX_CONNECTIONS, DEFAULT_MAX_PENDING_CONNECTIONS, WidgetServer } from '../../kernel-lib/server/server';
import { CLOSE, PROTOCOL_VERSION } from '../../kernel-lib/server/protocol';
import { TestClient } from './client';

let s: Session;
const servers: WidgetServer[] = [];

beforeAll(async () => {
  await useBackend();
  s = await tinySession();
});
afterAll(async () => {
  await Promise.all(servers.map((x) => x.close()));
  s.dispose();
});

async function start(opts: Parameters<typeof WidgetServer.start>[0] = {}): Promise<{ server: WidgetServer; key: string }> {
  const server = await WidgetServer.start(opts);
  servers.push(server);
  return { server, key: server.register(s) };
}

const settle = () => new Promise((r) => setTimeout(r, 50));

test('defaults: a silent connection is closed within 2 s; 32 authenticated, 16 pending', async () => {
  expect(DEFAULT_HELLO_TIMEOUT_MS).toBeLessThanOrEqual(2000);
  expect(DEFAULT_MAX_CONNECTIONS).toBe(32);
  expect(DEFAULT_MAX_PENDING_CONNECTIONS).toBe(16);
  const { server } = await start();
  const t0 = Date.now();
  const silent = await TestClient.open(server);
  expect(await silent.closed).toEqual({ code: CLOSE.unauthorized, reason: 'hello timeout' });
  const ms = Date.now() - t0;
  expect(ms).toBeGreaterThanOrEqual(DEFAULT_HELLO_TIMEOUT_MS - 50);
  expect(ms).toBeLessThan(2000 + 500);
});

test('40 silent local connections do not lock the widget out: it is welcomed at once', async () => {
  const { server, key } = await start();
  const silent: TestClient[] = [];
  for (let i = 0; i < 40; i++) silent.push(await TestClient.open(server));
  await settle();
  // The oldest 24 made room for newer ones; the newest 16 wait for their hello timeout.
  const evicted = await Promise.all(silent.slice(0, 24).map((c) => c.closed));
  expect(new Set(evicted.map((c) => `${c.code} ${c.reason}`))).toEqual(new Set([`${CLOSE.tryAgainLater} too many unauthenticated connections`]));
  expect(server.counts).toEqual({ authenticated: 0, pending: 16 });

  const t0 = Date.now();
  const widget = await TestClient.hello(server, key); // throws unless the reply is a welcome
  expect(Date.now() - t0).toBeLessThan(1000);
  expect(server.counts).toEqual({ authenticated: 1, pending: 15 }); // it was pending for a moment, and made room
  widget.send({ type: 'generate', id: 'g', prompt: [{ text: 'a tiger' }], params: { maxNewTokens: 2 } });
  expect((await widget.until('done')).steps).toBe(2);
  await widget.close();
  await Promise.all(silent.map((c) => c.closed)); // the rest time out
  await settle();
  expect(server.connectionCount).toBe(0);
}, 20_000);

test('the pending cap: the oldest silent connection makes room; authenticated ones are never evicted', async () => {
  const { server, key } = await start({ maxConnections: 2, maxPendingConnections: 3 });
  const a = await TestClient.hello(server, key);
  const b = await TestClient.hello(server, key);
  const silent = [await TestClient.open(server), await TestClient.open(server), await TestClient.open(server)];
  expect(server.counts).toEqual({ authenticated: 2, pending: 3 });
  const newcomer = await TestClient.open(server);
  expect(await silent[0].closed).toEqual({ code: CLOSE.tryAgainLater, reason: 'too many unauthenticated connections' });
  expect(server.counts).toEqual({ authenticated: 2, pending: 3 });
  // Authenticated slots are full: a correct hello is refused with 1013 (the widget retries after 1013).
  newcomer.send({ type: 'hello', version: PROTOCOL_VERSION, token: server.token, session: key });
  expect(await newcomer.closed).toEqual({ code: CLOSE.tryAgainLater, reason: 'too many connections' });
  expect(newcomer.received).toHaveLength(0);
  // a and b were untouched by all of this, and a freed slot is usable again.
  expect(a.ws.readyState).toBe(a.ws.OPEN);
  expect(b.ws.readyState).toBe(b.ws.OPEN);
  await a.close();
  await settle();
  const c = await TestClient.hello(server, key);
  expect(server.counts.authenticated).toBe(2);
  await Promise.all([b.close(), c.close(), ...silent.slice(1).map((x) => x.close())]);
});

test('a hello that was on its way from an evicted connection is not served', async () => {
  const { server, key } = await start({ maxPendingConnections: 1 });
  const first = await TestClient.open(server);
  const second = await TestClient.open(server); // evicts first
  first.send({ type: 'hello', version: PROTOCOL_VERSION, token: server.token, session: key });
  expect(await first.closed).toEqual({ code: CLOSE.tryAgainLater, reason: 'too many unauthenticated connections' });
  expect(first.received).toHaveLength(0);
  second.send({ type: 'hello', version: PROTOCOL_VERSION, token: server.token, session: key });
  expect((await second.nextJson()).type).toBe('welcome');
  await second.close();
});
