/**
 * The widget protocol against a real WidgetServer and a real tiny Session: every documented reply and
 * close code, and after each abuse the server still serves a well-behaved client.
 */
import WebSocket from 'ws';
import { useBackend } from '../helpers/backend';
import { tinySession } from '../helpers/fixtures';
import type { Session } from '../../kernel-lib/session';
import { WidgetServer } from '../../kernel-lib/server/server';
import { CLOSE, ERR, PROTOCOL_VERSION, StepMsg } from '../../kernel-lib/server/protocol';
import { encodeFrame, FRAME, readRouting, uploadFrame } from '../../kernel-lib/server/frames';
import { DEFAULT_MAX_NEW_TOKENS } from '../../kernel-lib/decode/generate';
import { TestClient } from './client';
import { countStepsAfterAbort, fakePng } from './fixtures';

let s: Session;
let server: WidgetServer;
let key: string;
const tiger = { height: 4, width: 4, codes: Array.from({ length: 16 }, (_, i) => i) };

beforeAll(async () => {
  await useBackend();
  s = await tinySession();
  server = await WidgetServer.start({ maxPayload: 64 * 1024, helloTimeoutMs: 1000, maxConnections: 8 });
  key = server.register(s, { images: [{ name: 'tiger', image: tiger }] });
});
afterAll(async () => {
  await server.close();
  s.dispose();
});

const generate = (id: string, params: Record<string, unknown> = {}, prompt: unknown[] = [{ text: 'an emoji of a tiger' }]) =>
  ({ type: 'generate', id, prompt, params: { maxNewTokens: 6, seed: 1, ...params } });

/** A fresh client completes a whole generation: the server is still serving. */
async function stillServes(): Promise<void> {
  const c = await TestClient.hello(server, key);
  c.send(generate('ok', { maxNewTokens: 3 }));
  const done = await c.until('done');
  expect(done.steps).toBeGreaterThan(0);
  await c.close();
}

test('hello → welcome describes the session; a generation streams started, steps with routing frames, done', async () => {
  const c = await TestClient.open(server);
  c.send({ type: 'hello', version: PROTOCOL_VERSION, token: server.token, session: key });
  const w = await c.nextJson();
  expect(w).toMatchObject({
    type: 'welcome', version: 1, patches: false, images: [{ name: 'tiger', height: 4, width: 4 }],
    session: { numLayers: 2, numExperts: 4, topK: 2, imageGrid: { height: 4, width: 4 }, numImageCodes: 32 },
    upload: { enabled: false }, limits: { maxPayload: 64 * 1024 },
    // Left out, maxNewTokens is the library's: 32 for text, one whole 4×4 image and <eoi> after startImage.
    budget: { text: DEFAULT_MAX_NEW_TOKENS, startImage: 4 * 4 + 1 },
  });
  c.send(generate('r1', { maxNewTokens: 5, temperature: 0 }, [{ text: 'a red heart ' }, { imageRef: 'tiger' }]));
  const started = await c.until('started');
  expect(started).toMatchObject({ id: 'r1', promptTokens: s.encode([{ text: 'a red heart ' }, { image: tiger }]).ids.length });
  const done = await c.until('done');
  expect(done).toMatchObject({ id: 'r1', gen: started.gen });
  expect(['eos', 'max-new-tokens']).toContain(done.stopReason);
  const steps = c.json().filter((m): m is StepMsg => m.type === 'step');
  expect(steps).toHaveLength(done.steps);
  const frames = c.binary().map((b) => readRouting(b));
  expect(frames).toHaveLength(done.steps);
  frames.forEach((f, i) => {
    if (typeof f === 'string') throw new Error(f);
    expect([f.gen, f.step, f.layers, f.experts]).toEqual([started.gen, steps[i].index, 2, 4]);
    for (let l = 0; l < 2; l++) {
      const p = f.probs.subarray(l * 4, l * 4 + 4);
      const g = f.gates.subarray(l * 4, l * 4 + 4);
      expect(p.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
      expect(g.filter((x) => x > 0)).toHaveLength(2); // top-2
      expect(g.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
    }
  });
  await c.close();
});

test.each([
  ['bad JSON', 'first message must be hello', '{nope'],
  ['another message type', 'first message must be hello', JSON.stringify({ type: 'cancel', id: 'x' })],
  ['missing token', 'missing token', JSON.stringify({ type: 'hello', version: 1, session: 'k' })],
  ['wrong token', 'wrong token', JSON.stringify({ type: 'hello', version: 1, token: 'f'.repeat(48), session: 'k' })],
])('before hello, %s → close 4001 "%s"', async (_what, reason, frame) => {
  const c = await TestClient.open(server);
  c.send(frame.replace('"k"', JSON.stringify(key)));
  expect(await c.closed).toEqual({ code: CLOSE.unauthorized, reason });
  expect(c.received).toHaveLength(0);
});

test('a binary first frame, no hello in time, a wrong version and an unknown session each close with their code', async () => {
  const bin = await TestClient.open(server);
  bin.sendBinary(uploadFrame(1, fakePng(1)));
  expect(await bin.closed).toEqual({ code: 4001, reason: 'first message must be hello' });
  const silent = await TestClient.open(server);
  expect(await silent.closed).toEqual({ code: 4001, reason: 'hello timeout' });
  const v2 = await TestClient.open(server);
  v2.send({ type: 'hello', version: 2, token: server.token, session: key });
  expect(await v2.closed).toEqual({ code: CLOSE.badVersion, reason: 'protocol version 2 is not supported (server speaks 1)' });
  const nosession = await TestClient.open(server);
  nosession.send({ type: 'hello', version: 1, token: server.token, session: 'nope' });
  expect(await nosession.closed).toEqual({ code: CLOSE.unknownSession, reason: 'unknown session' });
  await stillServes();
});

test('Origin: other sites get HTTP 403 before any websocket; localhost and no Origin pass; the list is configurable', async () => {
  await expect(TestClient.open(server, { origin: 'http://evil.example' })).rejects.toMatchObject({ status: 403, body: 'Origin not allowed: http://evil.example\n' });
  await expect(TestClient.open(server, { origin: 'null' })).rejects.toMatchObject({ status: 403 });
  await expect(TestClient.open(server, { origin: 'http://localhost.evil.example:8888' })).rejects.toMatchObject({ status: 403 });
  for (const origin of ['http://localhost:8888', 'http://127.0.0.1:9999', 'https://[::1]', undefined]) {
    await (await TestClient.open(server, { origin })).close();
  }
  await expect(TestClient.open(server, { path: '/other' })).rejects.toMatchObject({ status: 404 });
  const hub = await WidgetServer.start({ allowedOrigins: ['https://hub.example.org'] });
  try {
    await (await TestClient.open(hub, { origin: 'https://hub.example.org' })).close();
    await expect(TestClient.open(hub, { origin: 'http://localhost:8888' })).rejects.toMatchObject({ status: 403 });
  } finally {
    await hub.close();
  }
  await stillServes();
});

test('after hello: bad JSON, non-object, unknown type, bad fields and a second hello get error replies and the connection stays', async () => {
  const c = await TestClient.hello(server, key);
  const cases: [unknown, object][] = [
    ['{"type":', { code: 'bad-json', message: ERR.badJson }],
    ['[1,2]', { code: 'bad-message', message: ERR.notObject }],
    [{ type: 'launch' }, { code: 'unknown-type', message: 'unknown message type "launch"' }],
    [generate('x', { temperature: -1 }), { code: 'bad-message', message: 'generate.params.temperature must be a finite number in [0, 100], got -1' }],
    [generate('x', { maxNewTokens: 1.5 }), { code: 'bad-message', message: 'generate.params.maxNewTokens must be an integer in [0, 4096], got 1.5' }],
    [generate('x', { sneaky: 1 }), { code: 'bad-message', message: 'generate.params.sneaky is not a known parameter' }],
    [generate('x', { seed: 2 ** 32 }), { code: 'bad-message', message: 'generate.params.seed must be an integer in [0, 2^32), got 4294967296' }],
    [generate('x', { seed: -1 }), { code: 'bad-message', message: 'generate.params.seed must be an integer in [0, 2^32), got -1' }],
    [generate('x', {}, [{ text: 'a', image: tiger }]), { code: 'bad-message', message: 'generate.prompt[0] must be {text}, {image} or {imageRef}, got {"text":"a","image":{"height":4,"width":4,"codes":[0,1,2,...' }],
    [{ type: 'generate', id: '', prompt: [] }, { code: 'bad-message', message: 'generate.id must be a non-empty string of at most 64 characters, got ""' }],
    [{ type: 'hello', version: 1, token: server.token, session: key }, { code: 'bad-message', message: ERR.helloTwice }],
    [generate('y', {}, [{ imageRef: 'lion' }]), { code: 'bad-request', id: 'y', message: 'unknown image "lion"' }],
    [generate('z', {}, [{ image: { height: 1, width: 1, codes: [99] } }]), { code: 'bad-request', id: 'z', message: 'prompt part 0: image code 99 at index 0 is outside [0, 32)' }],
    [{ type: 'cancel', id: 'ghost' }, { code: 'not-running', id: 'ghost', message: ERR.notRunning('ghost') }],
  ];
  for (const [frame, reply] of cases) {
    c.send(frame);
    expect(await c.nextJson()).toEqual({ type: 'error', ...reply });
  }
  const short = new Uint8Array(5);
  c.sendBinary(short);
  expect(await c.nextJson()).toEqual({ type: 'error', code: 'bad-frame', message: 'binary frame is 5 bytes, shorter than the 24-byte header' });
  c.sendBinary(new Uint8Array(30).fill(7));
  expect(await c.nextJson()).toEqual({ type: 'error', code: 'bad-frame', message: 'binary frame does not start with the magic bytes SWB\\x01' });
  c.sendBinary(encodeFrame({ kind: FRAME.routing, gen: 0, step: 0, dims: [0, 0, 0, 0] }, new Uint8Array(0)));
  expect(await c.nextJson()).toEqual({ type: 'error', code: 'bad-frame', message: 'binary frame kind 1 is not accepted from clients' });
  c.sendBinary(uploadFrame(7, fakePng(7)));
  expect(await c.nextJson()).toEqual({ type: 'error', code: 'upload-unsupported', upload: 7, message: 'uploading a PNG needs an ImageCoder (none was given to promptWidget)' });
  c.send(generate('fine', { maxNewTokens: 2 }));
  expect((await c.until('done')).id).toBe('fine');
  await c.close();
});

test('an oversized frame closes that connection with 1009; other clients keep working', async () => {
  const other = await TestClient.hello(server, key);
  const c = await TestClient.hello(server, key);
  c.send(JSON.stringify({ type: 'generate', id: 'big', prompt: [{ text: 'x'.repeat(70 * 1024) }] }));
  expect((await c.closed).code).toBe(CLOSE.tooBig);
  other.send(generate('after', { maxNewTokens: 2 }));
  expect((await other.until('done')).id).toBe('after');
  await other.close();
});

test('a text frame that is not UTF-8 closes with 1007 and the server lives on', async () => {
  const c = await TestClient.hello(server, key);
  c.ws.send(Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), { binary: false });
  expect((await c.closed).code).toBe(CLOSE.invalidUtf8);
  await stillServes();
});

test('generate while busy → "busy" (no queue), from the same or another client; cancel mid-run stops within one step', async () => {
  const counter = countStepsAfterAbort(s);
  try {
    const a = await TestClient.hello(server, key);
    const b = await TestClient.hello(server, key);
    a.send(generate('long', { maxNewTokens: 60, paceMs: 40, startImage: true }));
    a.send(generate('second', {}));
    expect(await a.until('error')).toEqual({ type: 'error', code: 'busy', id: 'second', message: ERR.busy('long') });
    b.send(generate('other', {}));
    expect(await b.nextJson()).toEqual({ type: 'error', code: 'busy', id: 'other', message: ERR.busy('long') });
    b.send({ type: 'cancel', id: 'long' }); // not b's to cancel
    expect(await b.nextJson()).toMatchObject({ code: 'not-running', id: 'long' });
    await a.waitFor(() => a.json().filter((m) => m.type === 'step').length >= 3, 10_000, '3 steps');
    a.send({ type: 'cancel', id: 'long' });
    const stepsAtCancel = a.json().filter((m) => m.type === 'step').length;
    const done = await a.until('done');
    expect(done.stopReason).toBe('aborted');
    expect(done.steps - stepsAtCancel).toBeLessThanOrEqual(1);
    expect(counter.after[counter.after.length - 1]).toBeLessThanOrEqual(1);
    // Full speed too: the generator itself notices the abort before its next step.
    a.send(generate('fast', { maxNewTokens: 100, startImage: true }));
    await a.waitFor(() => a.json().some((m) => m.type === 'step' && m.id === 'fast'), 10_000, 'a fast step');
    a.send({ type: 'cancel', id: 'fast' });
    const fast = await a.until('done');
    expect(fast.id).toBe('fast');
    if (fast.stopReason === 'aborted') expect(counter.after[counter.after.length - 1]).toBeLessThanOrEqual(1);
    b.send(generate('now-free', { maxNewTokens: 2 }));
    expect((await b.until('done')).id).toBe('now-free');
    await a.close();
    await b.close();
  } finally {
    counter.restore();
  }
});

test('two widgets on the same Session share its one generation: the second gets busy', async () => {
  const k2 = server.register(s);
  const a = await TestClient.hello(server, key);
  const b = await TestClient.hello(server, k2);
  a.send(generate('first', { maxNewTokens: 50, paceMs: 30 }));
  await a.until('started');
  b.send(generate('second', {}));
  expect(await b.nextJson()).toEqual({ type: 'error', code: 'busy', id: 'second', message: ERR.busy('first') });
  expect(server.isBusy(k2)).toBe(true);
  server.unregister(k2); // not the registration that started it: the generation goes on
  expect(server.isBusy(key)).toBe(true);
  a.send({ type: 'cancel', id: 'first' });
  expect((await a.until('done')).stopReason).toBe('aborted');
  await a.close();
  await b.closed;
});

test('closing the connection that owns a generation aborts it; unregistering closes its clients with 4004', async () => {
  const a = await TestClient.hello(server, key);
  a.send(generate('orphan', { maxNewTokens: 100, paceMs: 50 }));
  await a.until('started');
  expect(server.isBusy(key)).toBe(true);
  await a.close();
  const t0 = Date.now();
  while (server.isBusy(key) && Date.now() - t0 < 2000) await new Promise((r) => setTimeout(r, 10));
  expect(server.isBusy(key)).toBe(false);
  const k2 = server.register(s);
  const c = await TestClient.hello(server, k2);
  server.unregister(k2);
  expect(await c.closed).toEqual({ code: CLOSE.unknownSession, reason: 'session closed' });
  await stillServes();
});

test('without maxNewTokens a startImage run draws one whole image, a text run the library default', async () => {
  const c = await TestClient.hello(server, key);
  c.send({ type: 'generate', id: 'whole', prompt: [{ text: 'an emoji of a tiger' }], params: { startImage: true, seed: 3 } });
  const done = await c.until('done');
  const steps = c.json().filter((m): m is StepMsg => m.type === 'step');
  expect(done).toMatchObject({ id: 'whole', steps: 17, stopReason: 'max-new-tokens' });
  expect(steps.filter((m) => m.modality === 'image').map((m) => m.grid)).toHaveLength(16);
  expect(steps[16].piece).toBe(s.tokenizer.pieceOf(s.tokenizer.eoi));
  const text = await TestClient.hello(server, key);
  text.send({ type: 'generate', id: 'text', prompt: [{ text: 'a red heart' }], params: { seed: 3, temperature: 0 } });
  const d2 = await text.until('done');
  expect(d2.stopReason === 'eos' || d2.steps === DEFAULT_MAX_NEW_TOKENS).toBe(true);
  await Promise.all([c.close(), text.close()]);
});

test('a text-only session: the welcome says startImage has no budget (no images)', async () => {
  const t = await tinySession({ images: false });
  const k = server.register(t);
  const c = await TestClient.open(server);
  c.send({ type: 'hello', version: PROTOCOL_VERSION, token: server.token, session: k });
  expect(await c.nextJson()).toMatchObject({ type: 'welcome', session: { imageGrid: null }, budget: { text: DEFAULT_MAX_NEW_TOKENS, startImage: null } });
  await c.close();
  server.unregister(k);
  t.dispose();
});

test('more than maxConnections → 1013; freed slots are reusable', async () => {
  await new Promise((r) => setTimeout(r, 50)); // let earlier closes settle
  // Only authenticated connections count against maxConnections (silent ones: connection-limits.test.ts).
  const base = server.counts.authenticated;
  const open: TestClient[] = [];
  for (let i = base; i < 8; i++) open.push(await TestClient.hello(server, key));
  const extra = await TestClient.open(server);
  extra.send({ type: 'hello', version: PROTOCOL_VERSION, token: server.token, session: key });
  expect(await extra.closed).toEqual({ code: CLOSE.tryAgainLater, reason: 'too many connections' });
  expect(extra.received).toHaveLength(0); // no welcome
  await Promise.all(open.map((c) => c.close()));
  await new Promise((r) => setTimeout(r, 50));
  await stillServes();
});

test('HTTP: /widget.js and / are served, anything else is 404', async () => {
  const get = (p: string) => fetch(`http://127.0.0.1:${server.port}${p}`);
  const page = await get('/');
  expect(page.status).toBe(200);
  expect(await page.text()).toContain('SwitchboardWidget.render');
  expect((await get('/widget.js')).status).toBe(404); // this server was started without a bundle
  expect((await get('/etc/passwd')).status).toBe(404);
});

test('a ws client without the token cannot even see the welcome', async () => {
  const ws = new WebSocket(`ws://127.0.0.1:${server.port}/ws`);
  const got: string[] = [];
  ws.on('message', (d) => got.push(String(d)));
  await new Promise((r) => ws.once('open', r));
  ws.send(JSON.stringify({ type: 'hello', version: 1, token: server.token.slice(0, -1) + 'x', session: key }));
  const code = await new Promise<number>((r) => ws.once('close', (c) => r(c)));
  expect(code).toBe(4001);
  expect(got).toEqual([]);
});
