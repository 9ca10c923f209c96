/**
 * bench/clip-train.ts: it times trainClip's steps for each worker count (a small config and batch here,
 * on the real training splits), leaves no tensors behind, and the printed lines follow the numbers; bad
 * worker counts, batches and section names are refused by name. Workers run compiled JS: needs dist/
 * (jest's global setup builds it).
 */
import * as tf from '@tensorflow/tfjs';
import { useBackend } from '../helpers/backend';
import { benchClipTrain, ClipTrainBench, formatClipTrain } from '../../bench/clip-train';
import { runBench } from '../../bench/run';

beforeAll(() => useBackend('wasm'));

const SMALL = { visionWidths: [8, 16, 16] as [number, number, number], visionHidden: 32, textEmbed: 16, textHidden: 32, embedDim: 16 };

test('--quick on a small config: two timed steps per count, speed-ups from the medians, no tensors left behind', async () => {
  const before = tf.memory().numTensors;
  const logs: string[] = [];
  const b = await benchClipTrain({ quick: true, counts: [1, 2], log: (s) => logs.push(s), config: SMALL, batch: 8 });
  expect(tf.memory().numTensors).toBe(before);
  expect([b.batch, b.steps, Object.keys(b.per_count), b.config]).toEqual([8, 2, ['1', '2'], SMALL]);
  expect(b.parameters).toBeGreaterThan(0);
  for (const r of Object.values(b.per_count)) expect(r.wall_ms > 0 && r.cpu_ms > 0).toBe(true);
  expect(b.speedup['1']).toBe(1);
  expect(b.speedup['2']).toBeCloseTo(b.per_count['1'].wall_ms / b.per_count['2'].wall_ms, 10);
  expect(b.load.cores).toBeGreaterThan(0);
  expect(logs.length).toBe(3); // the header and one line per count and round
  expect(logs[0]).toMatch(/^CLIP training: config .*, batch 8 \(\d+ emoji, \d+ scenes\); worker counts 1, 2 taking turns, 1 round\(s\) of 2 timed step\(s\)$/);
}, 120_000);

test('bad worker counts, batches and section names are refused by name', async () => {
  await expect(benchClipTrain({ quick: true, counts: [], log: () => undefined })).rejects.toThrow('bench clip-train: no worker counts to measure');
  await expect(benchClipTrain({ quick: true, counts: [1], log: () => undefined, batch: 1 })).rejects.toThrow('bench clip-train: batch must be an integer ≥ 2, got 1');
  await expect(runBench(['--only', 'clip-train', '--workers', '0'])).rejects.toThrow('--only clip-train needs worker counts (--workers 1,2)');
  await expect(runBench(['--only', 'clip-train', '--workers', '1,two'])).rejects.toThrow("--workers must be a positive integer, got 'two'");
  await expect(runBench(['--only', 'clip-trian'])).rejects.toThrow("--only: unknown section 'clip-trian' (expected decode, prefill, image, train, leak, diffusion, profile, diffusion-train, vqvae-train, clip-train, capacity, decode-cost, head-rows, moss-train)");
});

test('formatClipTrain: rates and speed-up as measured', () => {
  const b: ClipTrainBench = {
    config: {}, parameters: 1234567, device: 'wasm SIMD, 1 thread per worker', batch: 256, steps: 24,
    per_count: { '1': { wall_ms: 300, cpu_ms: 310 }, '2': { wall_ms: 400, cpu_ms: 700 } },
    speedup: { '1': 1, '2': 0.75 },
    load: { start: 1.9, end: 2.1, cores: 2 },
  };
  const text = formatClipTrain(b);
  expect(text).toContain('CLIP training step (default config, 1,234,567 parameters, batch 256); wasm SIMD, 1 thread per worker\n');
  expect(text).toContain('machine load (1-min average): 1.90 at the start, 2.10 at the end, on 2 cores — a busy machine: these wall times say little about an idle one\n');
  expect(text).toContain('  1 thread : wall 300 ms/step, CPU 310 ms/step (all threads)\n');
  expect(text).toContain('  2 workers: wall 400 ms/step (0.75× one thread), CPU 700 ms/step (all threads)\n');
});
