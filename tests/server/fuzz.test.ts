/**
 * Fuzz: more than 10,000 random frames — JSON of random shapes, mutated protocol messages, plain text,
 * random bytes and random binary frames with a valid header — from authenticated and unauthenticated
 * clients. The server must neither crash nor leak: heap (after GC), tensors, connections and the
 * session's busy flag all come back to where they were.
 */
import * as v8 from 'node:v8';
import * as vm from 'node:vm';
import * as tf from '@tensorflow/tfjs';
import { useBackend } from '../helpers/backend';
import { tinySession } from '../helpers/fixtures';
import type { Session } from '../../kernel-lib/session';
import { WidgetServer } from '../../kernel-lib/server/server';
import { encodeFrame } from '../../kernel-lib/server/frames';
import { mulberry32 } from '../../kernel-lib/util/random';
import { TestClient } from './client';
import { fakeCoder, fakePng } from './fixtures';

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

let s: Session;
let server: WidgetServer;
let key: string;
const rand = mulberry32(12345);
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)];
const int = (n: number): number => Math.floor(rand() * n);
/** Replies seen, by message type or error code: the fuzz must reach every branch, not just bounce off the parser. */
const replies = new Map<string, number>();

beforeAll(async () => {
  await useBackend();
  s = await tinySession();
  server = await WidgetServer.start({ maxPayload: 64 * 1024 });
  key = server.register(s, { coder: fakeCoder(), images: [{ name: 'tiger', image: { height: 1, width: 1, codes: [3] } }] });
});
afterAll(async () => {
  await server.close();
  s.dispose();
});

const KEYS = ['type', 'id', 'prompt', 'params', 'token', 'version', 'session', 'text', 'image', 'imageRef', 'codes',
  'height', 'width', 'maxNewTokens', 'temperature', 'topK', 'topP', 'seed', 'cfgScale', 'startImage', 'paceMs', '__proto__', 'constructor'];
const TYPES = ['hello', 'generate', 'cancel', 'welcome', 'step', 'done', '', 'GENERATE', 'toString'];

function value(depth: number): unknown {
  switch (int(depth > 2 ? 7 : 9)) {
    case 0: return null;
    case 1: return rand() < 0.5;
    case 2: return pick([0, -1, 1.5, 1e308, -0, 2 ** 53, 4097, 0.5, 3]);
    case 3: return pick(['', 'tiger', 'run-1', 'x'.repeat(int(300)), '⟦tiger⟧', '\u0000', '<script>']);
    case 4: return pick(TYPES);
    case 5: return int(100);
    case 6: return undefined;
    case 7: return Array.from({ length: int(5) }, () => value(depth + 1));
    default: return Object.fromEntries(Array.from({ length: int(5) }, () => [pick(KEYS), value(depth + 1)]));
  }
}

function validGenerate(): Record<string, unknown> {
  return {
    type: 'generate',
    id: `g${int(5)}`,
    prompt: pick([[{ text: 'a tiger' }], [{ imageRef: 'tiger' }, { text: 'x' }], [{ image: { height: 1, width: 1, codes: [int(40)] } }]]),
    params: { maxNewTokens: int(4), seed: int(10), startImage: rand() < 0.3, temperature: rand() },
  };
}

/** One random frame: [data, isBinary]. */
function frame(): [string | Uint8Array, boolean] {
  const r = rand();
  if (r < 0.3) return [JSON.stringify({ type: pick(TYPES), ...(value(0) as object) }), false];
  if (r < 0.45) {
    const m = validGenerate();
    m[pick(['id', 'prompt', 'params', 'type'])] = value(1);
    return [JSON.stringify(m), false];
  }
  if (r < 0.5) return [JSON.stringify(rand() < 0.7 ? validGenerate() : { type: 'cancel', id: `g${int(5)}` }), false];
  if (r < 0.6) return [JSON.stringify(value(0)) ?? 'undefined', false];
  if (r < 0.7) {
    const good = JSON.stringify(validGenerate());
    return [good.slice(0, int(good.length)), false];
  }
  if (r < 0.8) return [Array.from({ length: int(60) }, () => String.fromCharCode(int(0x2fff))).join(''), false];
  if (r < 0.9) return [Uint8Array.from({ length: int(100) }, () => int(256)), true];
  const payload = rand() < 0.5 ? fakePng(int(1000)) : Uint8Array.from({ length: int(64) }, () => int(256));
  return [encodeFrame({ kind: pick([0, 1, 2, 3, 3, 3, 255]), gen: int(10), step: int(10), dims: [int(3), int(3), int(3), int(3)] }, payload), true];
}

/** Sends n random frames on an authenticated client, then a sentinel whose reply proves they were all handled. */
async function blast(c: TestClient, n: number, tag: string): Promise<void> {
  for (let i = 0; i < n; i++) {
    const [data, binary] = frame();
    if (binary) c.sendBinary(data as Uint8Array);
    else c.send(data as string);
  }
  c.send({ type: `sentinel-${tag}` });
  await c.waitFor(() => c.received.some((m) => !(m instanceof Uint8Array) && m.type === 'error' && m.message === `unknown message type "sentinel-${tag}"`), 30_000, `sentinel ${tag}`);
  for (const m of c.json()) replies.set(m.type === 'error' ? m.code : m.type, (replies.get(m.type === 'error' ? m.code : m.type) ?? 0) + 1);
  c.clear();
}

/** Unauthenticated clients: each sends one random frame (or a hello with a guessed token) and must get 4001. */
async function strangers(n: number): Promise<number[]> {
  const codes: number[] = [];
  for (let i = 0; i < n; i += 10) {
    await Promise.all(Array.from({ length: Math.min(10, n - i) }, async () => {
      const c = await TestClient.open(server);
      const [data, binary] = rand() < 0.3 ? [JSON.stringify({ type: 'hello', version: 1, token: Math.random().toString(16).slice(2), session: key }), false] : frame();
      if (binary) c.sendBinary(data as Uint8Array);
      else c.send(data as string);
      codes.push((await c.closed).code);
    }));
  }
  return codes;
}

async function settle(): Promise<void> {
  const t0 = Date.now();
  while ((server.isBusy(key) || server.connectionCount > 0) && Date.now() - t0 < 10_000) await new Promise((r) => setTimeout(r, 20));
  await new Promise((r) => setTimeout(r, 50));
  gc();
  gc();
}

test('10,000+ random frames: no crash, heap, tensors and connections flat', async () => {
  const t0 = Date.now();
  // Warm-up: JIT, buffers and ws internals reach their working size before the baseline.
  let clients = await Promise.all([0, 1, 2].map(() => TestClient.hello(server, key)));
  await Promise.all(clients.map((c, i) => blast(c, 500, `warm${i}`)));
  await Promise.all(clients.map((c) => c.close()));
  await strangers(50);
  // The model keeps causal masks for its 8 most recent prompt lengths; fill that bounded cache so
  // the baseline is the steady state and any further tensor is a leak.
  for (let n = 1; n <= 9; n++) for await (const _ of s.generate('a tiger '.repeat(n), { maxNewTokens: 1 }));
  await settle();
  const heap0 = process.memoryUsage().heapUsed;
  const tensors0 = tf.memory().numTensors;

  let frames = 0;
  clients = await Promise.all([0, 1, 2].map(() => TestClient.hello(server, key)));
  for (let round = 0; round < 6; round++) {
    await Promise.all(clients.map((c, i) => blast(c, 500, `${round}-${i}`)));
    frames += 3 * 500;
  }
  const codes = await strangers(1200);
  frames += codes.length;
  expect(new Set(codes)).toEqual(new Set([4001]));
  await Promise.all(clients.map((c) => c.close()));
  await settle();
  const heap1 = process.memoryUsage().heapUsed;

  expect(frames).toBeGreaterThanOrEqual(10_000);
  expect(server.connectionCount).toBe(0);
  expect(server.isBusy(key)).toBe(false);
  expect(tf.memory().numTensors).toBe(tensors0);
  const growthMiB = (heap1 - heap0) / 2 ** 20;
  console.log(`fuzz: ${frames} frames in ${((Date.now() - t0) / 1000).toFixed(1)} s; heap ${(heap0 / 2 ** 20).toFixed(1)} → ${(heap1 / 2 ** 20).toFixed(1)} MiB`);
  expect(growthMiB).toBeLessThan(8);
  console.log(`fuzz replies: ${JSON.stringify(Object.fromEntries(replies))}`);
  for (const kind of ['bad-json', 'bad-message', 'unknown-type', 'bad-frame', 'started', 'busy', 'image', 'upload-failed']) {
    expect(replies.get(kind) ?? 0).toBeGreaterThan(0);
  }

  // And it still serves.
  const c = await TestClient.hello(server, key);
  c.send({ type: 'generate', id: 'after-fuzz', prompt: [{ text: 'a tiger' }], params: { maxNewTokens: 3 } });
  expect((await c.until('done')).id).toBe('after-fuzz');
  await c.close();
});
