import * as tf from '@tensorflow/tfjs';
import { useBackend, maxAbsDiff } from '../helpers/backend';
import { MoEModel } from '../../kernel-lib/model/model';
import { defaultMoEConfig } from '../../kernel-lib/model/config';
import { randomIds } from '../helpers/random';

describe.each([
  ['tiny', defaultMoEConfig('tiny')],
  ['tiny + shared expert, tied', defaultMoEConfig('tiny', { sharedExpertSize: 16, tieWordEmbeddings: true, normTopKProb: false })],
  ['small', defaultMoEConfig('small', { vocabSize: 600, maxPositions: 96 })],
])('KV-cached step decoding (%s)', (_name, cfg) => {
  let model: MoEModel;
  beforeAll(async () => {
    await useBackend();
    model = MoEModel.init(cfg, 7);
  });
  afterAll(() => model.dispose());

  test('each step’s logits equal the full forward over the same sequence (≤ 1e-4)', () => {
    const ids = randomIds(40, cfg.vocabSize, 3);
    const full = model.forward([ids]);
    const V = cfg.vocabSize;
    const pre = 5;
    const { cache, logits: first, routing } = model.prefill(ids.slice(0, pre));
    expect(maxAbsDiff(first, full.logits.subarray((pre - 1) * V, pre * V))).toBeLessThanOrEqual(1e-4);
    expect(routing).toHaveLength(cfg.numLayers);
    expect(routing[0].experts).toHaveLength(pre * cfg.topK);
    let worst = 0;
    for (let t = pre; t < ids.length; t++) {
      const s = model.step(cache, ids[t]);
      worst = Math.max(worst, maxAbsDiff(s.logits, full.logits.subarray(t * V, (t + 1) * V)));
      // routing of the stepped token equals the full pass's routing at that position
      for (let l = 0; l < cfg.numLayers; l++) {
        expect(Array.from(s.routing[l].experts)).toEqual(Array.from(full.routing[l].experts.subarray(t * cfg.topK, (t + 1) * cfg.topK)));
      }
    }
    cache.dispose();
    expect(worst).toBeLessThanOrEqual(1e-4);
  });

  test('no tensor leaks from forward, prefill, step', () => {
    const ids = randomIds(12, cfg.vocabSize, 5);
    model.forward([ids]); // warm caches (causal mask)
    const before = tf.memory().numTensors;
    model.forward([ids, ids]);
    const { cache } = model.prefill(ids);
    for (let i = 0; i < 5; i++) model.step(cache, ids[i]);
    cache.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });
});

test('decode weights (gains folded) are rebuilt when a parameter changes, without leaking', async () => {
  await useBackend();
  const cfg = defaultMoEConfig('tiny', { sharedExpertSize: 8 });
  const model = MoEModel.init(cfg, 11);
  const ids = randomIds(10, cfg.vocabSize, 2);
  const check = () => {
    const full = model.forward([ids]).logits;
    const { cache } = model.prefill(ids.slice(0, 9));
    const s = model.step(cache, ids[9]);
    cache.dispose();
    return maxAbsDiff(s.logits, full.subarray(9 * cfg.vocabSize, 10 * cfg.vocabSize));
  };
  expect(check()).toBeLessThanOrEqual(1e-4);
  const before = tf.memory().numTensors;
  for (const name of ['final_norm', 'blocks.1.post_attn_norm', 'blocks.0.attn.wqkv', 'blocks.1.moe.shared.w13']) {
    tf.tidy(() => model.p(name).assign(tf.mul(model.p(name), 1.5)));
    expect(check()).toBeLessThanOrEqual(1e-4);
  }
  expect(tf.memory().numTensors).toBe(before);
  model.dispose();
});
