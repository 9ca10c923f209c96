/**
 * bench/diffusion.ts: the timed sampling is the workload (25 denoiser calls, each one batch-2 CFG pass),
 * the model it builds is disposed, and the printed verdicts compare the median with the 1 s target.
 */
import * as tf from '@tensorflow/tfjs';
import { useBackend } from '../helpers/backend';
import { benchDiffusion, DiffusionBench, formatDiffusion } from '../../bench/diffusion';
import { clearAttentionCache } from '../../kernel-lib/diffusion/attention';

beforeAll(() => useBackend());

test('--quick: 25 batch-2 denoiser calls per image, two timed runs, no tensors left behind', async () => {
  clearAttentionCache(); // the block-mask cache is kept across samplings on purpose: counted without it
  const before = tf.memory().numTensors;
  const logs: string[] = [];
  const b = await benchDiffusion({ quick: true, log: (s) => logs.push(s) });
  clearAttentionCache();
  expect(tf.memory().numTensors).toBe(before);
  expect(b.denoiser_batches).toEqual(new Array(25).fill(2));
  expect(b.runs).toHaveLength(2);
  for (const r of b.runs) expect(r.wall_s > 0 && r.cpu_s > 0).toBe(true);
  expect(b.wall_s.min).toBe(Math.min(...b.runs.map((r) => r.wall_s)));
  expect(b.parameters).toBeGreaterThan(3e6); // the small preset, not the tiny one
  expect(b.model).toMatch(/untrained/);
  expect(logs).toHaveLength(1);
  expect(formatDiffusion(b)).toContain('25 denoiser calls, each one batch-2 pass (conditional + unconditional)');
});

test('formatDiffusion: the verdict follows the median, wall and CPU each', () => {
  const b: DiffusionBench = {
    model: 'm', parameters: 1, device: 'wasm SIMD, 1 thread', steps: 25, cfg_scale: 4, denoiser_batches: [2, 1],
    runs: [{ wall_s: 0.9, cpu_s: 0.5 }, { wall_s: 1.4, cpu_s: 0.6 }, { wall_s: 1.2, cpu_s: 1.1 }],
    wall_s: { median: 1.2, min: 0.9 }, cpu_s: { median: 0.6, min: 0.5 }, target_s: 1, load: { start: 0.1, end: 0.2, cores: 2 },
  };
  const text = formatDiffusion(b);
  expect(text).toContain('wall  median 1.20 s, best 0.90 s of 3  (target ≤ 1.00 s: misses)');
  expect(text).toContain('CPU   median 0.60 s, best 0.50 s  (target ≤ 1.00 s: meets)');
  expect(text).toContain('2 denoiser calls, batches 2,1');
  expect(text).toContain('machine load (1-min average): 0.10 at the start, 0.20 at the end, on 2 cores\n');
});
