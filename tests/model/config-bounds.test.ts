import * as tf from '@tensorflow/tfjs';
import { useBackend, maxAbsDiff } from '../helpers/backend';
import { MoEModel } from '../../kernel-lib/model/model';
import { SIZE_LIMITS, defaultMoEConfig, validateMoEConfig } from '../../kernel-lib/model/config';

beforeAll(async () => {
  await useBackend();
});

test('every size field has an upper bound, named in the message', () => {
  const ok = defaultMoEConfig('tiny');
  for (const [field, limit] of Object.entries(SIZE_LIMITS)) {
    expect(() => validateMoEConfig({ ...ok, [field]: limit + 1 })).toThrow(`MoEConfig.${field} must be at most ${limit}, got ${limit + 1}`);
  }
  expect(() => validateMoEConfig({ ...ok, maxPositions: 1e12 })).toThrow('MoEConfig.maxPositions must be at most 1048576, got 1000000000000');
  expect(() => validateMoEConfig({ ...ok, vocabSize: 1 << 21, hiddenSize: 4096, numHeads: 32, numKvHeads: 8 }))
    .toThrow('MoEConfig.vocabSize: the embedding (vocabSize × hiddenSize) would hold 8589934592 numbers, more than one weight array can (2147483647)');
});

test('RoPE tables are built for the positions used, not for maxPositions', () => {
  const short = MoEModel.init(defaultMoEConfig('tiny', { maxPositions: 128 }), 1);
  const ids = [[1, 2, 3, 4, 5, 6, 7]];
  const want = short.forward(ids).logits;
  const bytesBefore = tf.memory().numBytes;
  // the longest context allowed: the model costs what the 128-position one costs until used
  const long = MoEModel.init(defaultMoEConfig('tiny', { maxPositions: 1 << 20 }), 1);
  const bytesLong = tf.memory().numBytes - bytesBefore;
  expect(maxAbsDiff(long.forward(ids).logits, want)).toBe(0);
  const { cache } = long.prefill(ids[0]);
  long.step(cache, 9);
  cache.dispose();
  short.dispose();
  const after = tf.memory().numBytes;
  long.dispose();
  // parameters + 2 [64, hd] tables + masks: nothing of size maxPositions × hd (1M × 8 floats = 32 MB)
  expect(bytesLong).toBeLessThan(2e6);
  expect(after - bytesBefore).toBeLessThan(2e6);
});
