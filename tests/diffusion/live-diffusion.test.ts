/** liveDiffusion: frames of x̂_0 as the image forms, throttled, the final image always drawn; text fallback. */
import * as tf from '@tensorflow/tfjs';
import { useBackend } from '../helpers/backend';
import { randomize, tinyLdm } from './helpers';
import { liveDiffusion } from '../../kernel-lib/display/live-diffusion';
import { TextTarget } from '../../kernel-lib/display/env';
import type { LatentDiffusion } from '../../kernel-lib/diffusion/model';
import { RecordingTarget } from '../display/sink';

let m: LatentDiffusion;
beforeAll(async () => {
  await useBackend();
  m = tinyLdm({ seed: 4 });
  randomize(m, 0.1);
});
afterAll(() => m.dispose());

test('throttle 0: one frame per step (the last from the result), PNG images, headline', async () => {
  const rec = new RecordingTarget();
  const r = await liveDiffusion(m, { cond: 'a cat', steps: 5, seed: 1, throttleMs: 0, display: rec });
  expect(rec.areas).toHaveLength(1);
  expect(rec.areas[0]).toHaveLength(5);
  expect(r.frames).toBe(5);
  expect(rec.areas[0][0].text).toMatch(/^step 1\/5 · t = 801 · /);
  expect(rec.areas[0][4].text).toMatch(/^done: 5 steps/);
  for (const f of rec.areas[0]) expect(f.html).toContain('data:image/png;base64,');
  expect(r.images).toHaveLength(1);
});

test('a long throttle draws only the final frame; the user onStep still sees every step', async () => {
  const rec = new RecordingTarget();
  const seen: number[] = [];
  await liveDiffusion(m, { cond: ['a cat', 'a dog'], steps: 4, throttleMs: 60_000, display: rec, onStep: (e) => void seen.push(e.step) });
  expect(seen).toEqual([1, 2, 3, 4]);
  expect(rec.areas[0].length).toBeLessThanOrEqual(2);
  expect(rec.areas[0].at(-1)?.text).toMatch(/^done: 4 steps/);
});

test('without a notebook: text lines; nothing leaks', async () => {
  const lines: string[] = [];
  await liveDiffusion(m, { cond: 'a cat', steps: 2, throttleMs: 0, display: new TextTarget((s) => void lines.push(s)) });
  const before = tf.memory().numTensors;
  await liveDiffusion(m, { cond: 'a cat', steps: 2, throttleMs: 0, display: new TextTarget((s) => void lines.push(s)) });
  expect(tf.memory().numTensors).toBe(before);
  expect(lines.at(-1)).toMatch(/^done: 2 steps/);
  await expect(liveDiffusion(m, { cond: 'a cat', throttleMs: -1 })).rejects.toThrow('throttleMs must be a number ≥ 0, got -1');
});
