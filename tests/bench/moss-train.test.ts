/**
 * bench/moss-train.ts on the real parts (mm-moe-small, vqvae-emoji, the MoSS instruction data): on a real batch
 * of the recipe's first window, each adapter arm's final-norm states and loss parts of a training step (dropout
 * on) in the fused form are the form before's bits and every adapter gradient is within 1e-5 of each tensor's
 * largest value, the per-batch products through the wasm heap give the host route's bits, and nothing is left
 * behind. The table is
 * checked on hand-made numbers, and bad arms and rounds are named.
 */
import * as tf from '@tensorflow/tfjs';
import { useBackend } from '../helpers/backend';
import { benchMossTrain, formatMossTrain, MOSS_TRAIN_ARMS, MossTrainResult } from '../../bench/moss-train';
import { runBench } from '../../bench/run';

beforeAll(() => useBackend('wasm'));

test('real MoSS batch, every arm: the fused form\'s forward is the old bits, its gradients within float32 rounding, the heap route bit for bit, no tensor left', async () => {
  const before = tf.memory().numTensors;
  const logs: string[] = [];
  const rs = await benchMossTrain({ arms: MOSS_TRAIN_ARMS, rounds: 0, check: 'shortest', log: (x) => logs.push(x) });
  expect(tf.memory().numTensors).toBe(before);
  expect(rs.map((r) => r.arm)).toEqual([...MOSS_TRAIN_ARMS]);
  for (const r of rs) {
    const x = r.exact;
    // the forward is the old one's bits (so the states and the loss); gradients differ where inputs' gradients are summed in another order
    expect([r.arm, x.statesRel, x.lossRel, x.gradsRel < 1e-5, x.heapBitIdentical]).toEqual([r.arm, 0, 0, true, true]);
    expect(x.rows).toBe(8);
    expect([r.cpuS, r.wallS, r.cpuRatio, r.samples]).toEqual([null, null, null, null]);
    expect(r.batches).toHaveLength(4);
  }
  const by = Object.fromEntries(rs.map((r) => [r.arm, r]));
  expect([by.lora.exact.grads, by['moe-lora'].exact.grads, by.moss.exact.grads, by['sam-convlora'].exact.grads]).toEqual([32, 64, 64, 96]); // 4 layers × q, k, v, o × the arm's weights
  expect(by.moss.params).toBe(114_688); // README: MoSS's adapter at r 8
  expect(logs[0]).toMatch(/^moss-train: window of 8×\d+, 8×\d+, 8×\d+, 8×\d+; arms lora, moe-lora, moss, sam-convlora; 0 paired round\(s\)$/);
}, 600_000);

test('formatMossTrain: the table from hand-made numbers; bad arms and rounds are named', async () => {
  const exact = { rows: 8, seqLen: 387, statesRel: 3.1e-6, lossRel: 1e-7, grads: 64, gradsRel: 6.3e-6, worst: 'w', heapBitIdentical: true, roundsAgree: 4 };
  const r: MossTrainResult = {
    arm: 'moss', rank: 8, params: 114688, batches: [[8, 387], [8, 144], [8, 145], [8, 142]], exact, rounds: 4,
    cpuS: { old: 1.94, heap: 1.8, new: 0.9 }, wallS: { old: 1.44, heap: 1.3, new: 0.7 },
    cpuRatio: { all: 0.5, adapters: 0.9 }, cpuRatioQuartiles: { all: [0.45, 0.55], adapters: [0.85, 0.95] },
    samples: { old: [5, 1, 1, 1], heap: [4, 1, 1, 1], new: [2, 0.5, 0.5, 0.5], batch: [0, 1, 2, 3] },
  };
  expect(formatMossTrain([r, { ...r, arm: 'lora', cpuS: null, wallS: null, cpuRatio: null, cpuRatioQuartiles: null, samples: null, exact: { ...exact, heapBitIdentical: false } }])).toBe(
    'MoSS training step (r 8; gradients, clipping, AdamW; the first window of the recipe): old (adapters and per-batch products as before), heap (old adapters, per-batch products in the wasm heap), new (fused adapters, per-batch products in the wasm heap):\n\n' +
      '| arm | adapter weights | CPU s/step old → heap → new | wall s/step old → heap → new | CPU new ÷ old (quartiles) | CPU new ÷ heap: the adapters (quartiles) | states, loss, gradients max rel. Δ | rounds agreeing |\n' +
      '| --- | ---: | ---: | ---: | ---: | ---: | --- | ---: |\n' +
      '| moss | 114,688 | 1.94 → 1.80 → 0.90 | 1.44 → 1.30 → 0.70 | 0.50× (0.45–0.55) | 0.90× (0.85–0.95) | 3.1e-6, 1.0e-7, 6.3e-6 (64 tensors, on 8×387; heap = old bit for bit) | 4 / 4 |\n' +
      '| lora | 114,688 | — | — | — | — | 3.1e-6, 1.0e-7, 6.3e-6 (64 tensors, on 8×387; heap = old NOT bit for bit) | 4 / 4 |\n',
  );
  await expect(benchMossTrain({ arms: ['full'] as never, rounds: 0, log: () => undefined })).rejects.toThrow("bench moss-train: unknown arm 'full' (expected lora, moe-lora, moss, sam-convlora)");
  await expect(benchMossTrain({ arms: ['moss'], rounds: 1.5, log: () => undefined })).rejects.toThrow('bench moss-train: rounds must be an integer ≥ 0, got 1.5');
  await expect(runBench(['--only', 'moss-train', '--moss-arms', 'moss,plora'])).rejects.toThrow("--moss-arms: unknown arm 'plora' (expected lora, moe-lora, moss, sam-convlora)");
});
