/**
 * bench/diffusion-train.ts: it times trainDiffusion's steps for each worker count (on a tiny preset here),
 * leaves no tensors behind, and turns the medians into the recipe's budgets; the printed lines follow the
 * numbers. Workers run compiled JS: needs dist/ (jest's global setup builds it).
 */
import * as tf from '@tensorflow/tfjs';
import { useBackend } from '../helpers/backend';
import { benchDiffusionTrain, DiffusionTrainBench, formatDiffusionTrain } from '../../bench/diffusion-train';
import { clearAttentionCache } from '../../kernel-lib/diffusion/attention';
import { LDM_BUDGETS } from '../../kernel-lib/recipes/ldm-emoji';

beforeAll(() => useBackend('wasm'));

test('--quick on the tiny preset: one timed step per count, budgets from the medians, no tensors left behind', async () => {
  clearAttentionCache();
  const before = tf.memory().numTensors;
  const logs: string[] = [];
  const b = await benchDiffusionTrain({ quick: true, counts: [1, 2], log: (s) => logs.push(s), preset: 'tiny', batch: 4 });
  clearAttentionCache();
  expect(tf.memory().numTensors).toBe(before);
  expect([b.batch, b.steps, Object.keys(b.per_count)]).toEqual([4, 1, ['1', '2']]);
  for (const r of Object.values(b.per_count)) expect(r.wall_s > 0 && r.cpu_s > 0).toBe(true);
  expect(b.speedup['1']).toBe(1);
  expect(b.speedup['2']).toBeCloseTo(b.per_count['1'].wall_s / b.per_count['2'].wall_s, 10);
  expect(b.budgets_h.session['2']).toBeCloseTo((LDM_BUDGETS.session.steps * b.per_count['2'].wall_s) / 3600, 10);
  expect(logs.length).toBe(3); // the header and one line per count and round
  await expect(benchDiffusionTrain({ quick: true, counts: [], log: () => undefined })).rejects.toThrow('bench diffusion-train: no worker counts to measure');
}, 120_000);

test('formatDiffusionTrain: rates, speed-up and budgets as measured', () => {
  const b: DiffusionTrainBench = {
    model: 'm', parameters: 3854000, device: 'wasm SIMD, 1 thread per worker', batch: 32, steps: 12,
    per_count: { '1': { wall_s: 1, cpu_s: 0.95 }, '2': { wall_s: 0.7, cpu_s: 1.2 } },
    speedup: { '1': 1, '2': 1 / 0.7 },
    budgets_h: { full: { '1': 20000 / 3600, '2': 14000 / 3600 }, session: { '1': 9000 / 3600, '2': 6300 / 3600 } },
    load: { start: 0.1, end: 0.2, cores: 2 },
  };
  const text = formatDiffusionTrain(b);
  expect(text).toContain('3,854,000 parameters, batch 32');
  expect(text).toContain('  1 thread : wall 1.00 s/step, CPU 0.95 s/step (all threads)\n');
  expect(text).toContain('  2 workers: wall 0.70 s/step (1.43× one thread), CPU 1.20 s/step (all threads)\n');
  expect(text).toContain('full (20000 steps) 5.6 h on 1, 3.9 h on 2; session (9000 steps) 150 min on 1, 105 min on 2');
  expect(text).not.toContain('busy machine');
});
