/**
 * bench/vqvae-train.ts: it times trainVQVAE's steps for each worker count (a small config here), leaves
 * no tensors behind, and the printed lines follow the numbers. Workers run compiled JS: needs dist/
 * (jest's global setup builds it).
 */
import * as tf from '@tensorflow/tfjs';
import { useBackend } from '../helpers/backend';
import { benchVqvaeTrain, formatVqvaeTrain, VqvaeTrainBench } from '../../bench/vqvae-train';

beforeAll(() => useBackend('wasm'));

test('--quick on a small config: two timed steps per count, speed-ups from the medians, no tensors left behind', async () => {
  const before = tf.memory().numTensors;
  const logs: string[] = [];
  const b = await benchVqvaeTrain({ quick: true, counts: [1, 2], log: (s) => logs.push(s), config: { numCodes: 16, codeDim: 4, hidden1: 4, hidden2: 8 } });
  expect(tf.memory().numTensors).toBe(before);
  expect([b.batch, b.steps, Object.keys(b.per_count)]).toEqual([[16, 16], 2, ['1', '2']]);
  for (const r of Object.values(b.per_count)) expect(r.wall_ms > 0 && r.cpu_ms > 0).toBe(true);
  expect(b.speedup['1']).toBe(1);
  expect(b.speedup['2']).toBeCloseTo(b.per_count['1'].wall_ms / b.per_count['2'].wall_ms, 10);
  expect(logs.length).toBe(3); // the header and one line per count and round
  await expect(benchVqvaeTrain({ quick: true, counts: [], log: () => undefined })).rejects.toThrow('bench vqvae-train: no worker counts to measure');
}, 120_000);

test('formatVqvaeTrain: rates and speed-up as measured', () => {
  const b: VqvaeTrainBench = {
    config: {}, device: 'wasm SIMD, 1 thread per worker', batch: [16, 16], steps: 24,
    per_count: { '1': { wall_ms: 180, cpu_ms: 190 }, '2': { wall_ms: 120, cpu_ms: 240 } },
    speedup: { '1': 1, '2': 1.5 },
    load: { start: 0.1, end: 0.2, cores: 2 },
  };
  const text = formatVqvaeTrain(b);
  expect(text).toContain('VQ-VAE training step (default config, 16 + 16 images); wasm SIMD, 1 thread per worker\n');
  expect(text).toContain('  1 thread : wall 180 ms/step, CPU 190 ms/step (all threads)\n');
  expect(text).toContain('  2 workers: wall 120 ms/step (1.50× one thread), CPU 240 ms/step (all threads)\n');
  expect(text).not.toContain('busy machine');
});
