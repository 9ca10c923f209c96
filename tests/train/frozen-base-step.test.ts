/**
 * An adapter step on a frozen base (MoSS's arm: ConvLoRA with dropout on a tiny multimodal model), through
 * the trainer's gradient function (train/loop.ts localGradients): differentiating only the adapters gives
 * the same loss and bit-identical adapter gradients as differentiating every weight (which runs every
 * gradient product, as all steps did before gradients became lazy), runs none of the base weights' gradient
 * products (the LM head's and the attention projections' dW among them), and leaks no tensor. The batch is sized so that every
 * custom-gradient path runs: grouped experts (N·k/E ≥ 64) and per-batch attention products (g·T·T ≥ 4096).
 */
import * as tf from '@tensorflow/tfjs';
import { moss, attachLoRA } from '../../kernel-lib';
import { localGradients } from '../../kernel-lib/train/loop';
import { trainingParams } from '../../kernel-lib/train/trainer';
import { weightedNll } from '../../kernel-lib/train/lm-loss';
import { GROUPED_MIN_ROWS_PER_EXPERT } from '../../kernel-lib/model/experts';
import { mulberry32 } from '../../kernel-lib/util/random';
import { tinySession } from '../helpers/fixtures';
import { useBackend } from '../helpers/backend';
import { countOutputs, matMulsOf, sameBits } from '../helpers/grads';

beforeAll(() => useBackend());

const B = 4;
const T = 48;

test('adapters only vs every weight differentiated: same loss, bit-identical adapter gradients, no base-weight gradient products, no leak', async () => {
  const s = await tinySession({ seed: 2 });
  const tok = s.tokenizer;
  const cfg = s.config;
  expect((B * T * cfg.topK) / cfg.numExperts).toBeGreaterThanOrEqual(GROUPED_MIN_ROWS_PER_EXPERT.training);
  expect((cfg.numHeads / cfg.numKvHeads) * T * T).toBeGreaterThanOrEqual(64 * 64);
  const adapter = attachLoRA(s, moss.armAdapter(cfg, 'moss', { rank: 4, seed: 1, grid: tok.imageGrid }) as NonNullable<ReturnType<typeof moss.armAdapter>>);
  // the adapter's B starts at zero, which would zero the gradients of its other weights: give it values
  const rand = mulberry32(3);
  for (const [n, v] of adapter.parameters()) if (n.endsWith('.B')) v.assign(tf.tidy(() => tf.randomUniform(v.shape, -0.1, 0.1, 'float32', Math.floor(rand() * 1e6))));
  // rows of text, then an image (<boi>, 16 codes, <eoi>), then text again, each row starting elsewhere
  const rows = Array.from({ length: B }, (_, b) => {
    const text = (n: number) => Array.from({ length: n }, () => Math.floor(rand() * tok.textVocabSize));
    const image = [tok.boi, ...Array.from({ length: 16 }, () => tok.imageCodeId(Math.floor(rand() * tok.numImageCodes))), tok.eoi];
    return [...text(3 + 5 * b), ...image, ...text(T)].slice(0, T + 1);
  });
  const inputs = rows.flatMap((r) => r.slice(0, T));
  const targets = Int32Array.from(rows.flatMap((r) => r.slice(1)));
  const weights = new Float32Array(B * T).fill(1);
  const positions = s.positions(rows.map((r) => r.slice(0, T)));
  // the trainer's loss (train/trainer.ts): weighted NLL plus the load-balancing term, adapter dropout seeded
  const loss = (_batch: null, step: number) => {
    const out = s.model.forwardTensors(tf.tensor2d(inputs, [B, T], 'int32'), { capture: 'none', positions, training: true, dropoutSeed: 100 + step });
    return tf.add(weightedNll(out.logits, targets, weights, B * T, cfg.vocabSize), tf.mul(out.aux, cfg.routerAuxLossCoef)) as tf.Scalar;
  };
  const params = trainingParams(s.model);
  const adapterNames = [...adapter.parameters().keys()];
  const allNames = [...params.keys()];
  const gradients = localGradients(params, loss);
  const step = (trainable: string[]) => {
    let lossValue = NaN;
    let grads: Float32Array[] = [];
    const before = tf.memory().numTensors;
    tf.tidy(() => {
      const r = gradients(null, 0, trainable);
      lossValue = r.loss;
      grads = adapterNames.map((n) => r.grads.get(n)?.dataSync().slice() as Float32Array);
    });
    expect(tf.memory().numTensors).toBe(before);
    return { loss: lossValue, grads };
  };
  tf.tidy(() => void loss(null, 0)); // the first forward of a shape builds the model's kept tables (RoPE, masks)
  const frozen = step(adapterNames);
  const all = step(allNames);
  expect(Object.is(frozen.loss, all.loss)).toBe(true);
  expect(Number.isFinite(frozen.loss)).toBe(true);
  adapterNames.forEach((n, i) => expect([n, sameBits(frozen.grads[i], all.grads[i])]).toEqual([n, true]));
  expect(frozen.grads.every((g) => g.some((v) => v !== 0))).toBe(true); // every adapter weight is reached
  // the LM head's dW [H, V] and the fused q|k|v projection's dW [H, q + 2·kv] run only when those weights are
  // differentiated (the experts' dW13, dW2: tests/model/experts-frozen.test.ts, where their shapes are unique)
  const head = [cfg.hiddenSize, cfg.vocabSize];
  const qkv = (s.model.params.get('blocks.0.attn.wqkv') as tf.Variable).shape;
  const frozenCalls = await matMulsOf(() => void step(adapterNames));
  const allCalls = await matMulsOf(() => void step(allNames));
  expect([countOutputs(frozenCalls, head), countOutputs(allCalls, head)]).toEqual([0, 1]);
  expect([countOutputs(frozenCalls, qkv), countOutputs(allCalls, qkv)]).toEqual([0, cfg.numLayers]);
  expect(frozenCalls.length).toBeLessThan(allCalls.length);
  adapter.detach();
  s.dispose();
});
