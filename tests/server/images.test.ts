/** Images over the wire: PNG uploads through an ImageCoder, RGB patch frames from its decoder, palette fallback. */
import { useBackend } from '../helpers/backend';
import { tinySession } from '../helpers/fixtures';
import type { Session } from '../../kernel-lib/session';
import { WidgetServer } from '../../kernel-lib/server/server';
import type { StepMsg } from '../../kernel-lib/server/protocol';
import { decodeHeader, FRAME, readPatch, uploadFrame } from '../../kernel-lib/server/frames';
import { TestClient } from './client';
import { fakeCoder, fakePng, PATCH_PX } from './fixtures';

let s: Session;
let server: WidgetServer;

beforeAll(async () => {
  await useBackend();
  s = await tinySession();
  server = await WidgetServer.start();
});
afterAll(async () => {
  await server.close();
  s.dispose();
});

test('with a coder: upload enabled, a PNG comes back as codes that can be sent as a prompt image', async () => {
  const key = server.register(s, { coder: fakeCoder() });
  const c = await TestClient.open(server);
  c.send({ type: 'hello', version: 1, token: server.token, session: key });
  expect(await c.nextJson()).toMatchObject({ type: 'welcome', upload: { enabled: true }, patches: true });
  c.sendBinary(uploadFrame(3, fakePng(3)));
  const img = await c.until('image');
  expect(img).toMatchObject({ upload: 3, height: 4, width: 4 });
  expect(img.codes).toHaveLength(16);
  c.sendBinary(uploadFrame(4, new Uint8Array([1, 2, 3])));
  expect(await c.nextJson()).toEqual({ type: 'error', code: 'upload-failed', upload: 4, message: 'PNG upload 4: not a PNG file (bad signature)' });
  c.send({ type: 'generate', id: 'g', prompt: [{ text: 'like ' }, { image: { height: img.height, width: img.width, codes: img.codes } }], params: { maxNewTokens: 2 } });
  expect((await c.until('done')).id).toBe('g');
  await c.close();
  server.unregister(key);
});

test('an encoder returning codes outside the vocabulary is refused before they reach the browser', async () => {
  const key = server.register(s, { coder: { encodePng: async () => ({ height: 1, width: 2, codes: [0, 500] }) } });
  const c = await TestClient.hello(server, key);
  c.sendBinary(uploadFrame(1, fakePng(1)));
  expect(await c.nextJson()).toEqual({ type: 'error', code: 'upload-failed', upload: 1, message: 'PNG upload 1: the encoder returned code 500 at index 1, outside [0, 32)' });
  await c.close();
  server.unregister(key);
});

test('startImage with a decoder: every generated code gets its RGB patch frame at its grid cell', async () => {
  const key = server.register(s, { coder: fakeCoder() });
  const c = await TestClient.hello(server, key);
  c.send({ type: 'generate', id: 'img', prompt: [{ text: 'an emoji of a tiger' }], params: { startImage: true, maxNewTokens: 17, seed: 3 } });
  const done = await c.until('done');
  const steps = c.json().filter((m): m is StepMsg => m.type === 'step');
  const codeSteps = steps.filter((m) => m.code !== undefined);
  expect(codeSteps).toHaveLength(16); // a 4×4 grid, then <eoi>
  expect(done.steps).toBe(17);
  const patches = c.binary().filter((b) => (decodeHeader(b) as { kind: number }).kind === FRAME.patch).map((b) => readPatch(b));
  expect(patches).toHaveLength(16);
  patches.forEach((p, i) => {
    if (typeof p === 'string') throw new Error(p);
    const st = codeSteps[i];
    expect([p.step, p.row, p.col, p.height, p.width]).toEqual([st.index, st.grid?.row, st.grid?.col, PATCH_PX, PATCH_PX]);
    expect(p.rgb[0]).toBe((st.code as number) * 8);
  });
  await c.close();
  server.unregister(key);
});

test('without a decoder no patch frames are sent (the widget colours codes); a failing decoder degrades the same way', async () => {
  const plain = server.register(s);
  const c = await TestClient.hello(server, plain);
  c.send({ type: 'generate', id: 'p', prompt: [{ text: 'a tiger' }], params: { startImage: true, maxNewTokens: 16 } });
  await c.until('done');
  expect(c.json().filter((m) => m.type === 'step' && m.code !== undefined)).toHaveLength(16);
  expect(c.binary().every((b) => (decodeHeader(b) as { kind: number }).kind === FRAME.routing)).toBe(true);
  await c.close();

  const broken = server.register(s, { coder: { encodePng: fakeCoder().encodePng, decode: () => ({ height: 3, width: 3, pixels: new Uint8Array(27) }) } });
  const d = await TestClient.hello(server, broken);
  d.send({ type: 'generate', id: 'b', prompt: [{ text: 'a tiger' }], params: { startImage: true, maxNewTokens: 16 } });
  const done = await d.until('done');
  expect(done.steps).toBe(16);
  const errors = d.json().filter((m) => m.type === 'error');
  expect(errors).toEqual([{ type: 'error', code: 'decode-failed', id: 'b', message: 'image decoder failed: decoded image 3×3 (27 bytes) does not split into a 4×4 grid of RGB patches' }]);
  await d.close();
});
