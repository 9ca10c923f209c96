/**
 * bench/decode-cost.ts: positions up to what the context allows, steps and attention timed at each, the
 * cache's column count left as the steps leave it, no tensors left behind, and the table's ratios.
 */
import * as tf from '@tensorflow/tfjs';
import { useBackend } from '../helpers/backend';
import { benchDecodeCost, DecodeCostBench, formatDecodeCost } from '../../bench/decode-cost';
import { MoEModel } from '../../kernel-lib/model/model';
import { defaultMoEConfig } from '../../kernel-lib/model/config';

beforeAll(() => useBackend());

test('--quick on a tiny model: the positions its context allows, CPU times for each, no tensors left behind by a second run', () => {
  const model = MoEModel.init(defaultMoEConfig('tiny', { maxPositions: 200 }), 3);
  // a first run builds what the model keeps (decode weights, RoPE tables, the prompts' causal masks)
  benchDecodeCost(model, { quick: true, log: () => undefined });
  const before = tf.memory().numTensors;
  const logs: string[] = [];
  const b = benchDecodeCost(model, { quick: true, log: (s) => logs.push(s) });
  expect(tf.memory().numTensors).toBe(before);
  // 200 positions, 2 × 4 steps: 16 and 128 fit, then the longest multiple of 64 that leaves room (128 itself)
  expect(b.rows.map((r) => r.position)).toEqual([16, 128]);
  expect([b.steps, b.rounds]).toEqual([4, 2]);
  for (const r of b.rows) expect(r.step.min > 0 && r.attention.min > 0 && r.step.min <= r.step.median).toBe(true);
  expect(logs).toEqual(['decode cost at positions 16, 128: 2 rounds of 4 steps, CPU time']);
  model.dispose();
});

test('formatDecodeCost: each position against the first, min and median', () => {
  const b: DecodeCostBench = {
    steps: 32,
    rounds: 9,
    rows: [
      { position: 16, step: { min: 1, median: 1.2 }, attention: { min: 0.05, median: 0.06 } },
      { position: 512, step: { min: 1.1, median: 1.5 }, attention: { min: 0.15, median: 0.2 } },
    ],
  };
  const text = formatDecodeCost(b);
  expect(text).toContain('min / median of 9 rounds × 32 steps');
  expect(text).toContain('| 512 | 1.100 / 1.500 | 0.150 / 0.200 | 1.10× / 1.25× |');
});
