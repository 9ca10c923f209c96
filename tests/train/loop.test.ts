/** trainLoop: parameter groups (learning-rate multiplier, weight decay) against a hand-computed AdamW step; group errors; leaks. */
import * as tf from '@tensorflow/tfjs';
import { useBackend } from '../helpers/backend';
import { trainLoop } from '../../kernel-lib/train/loop';
import { ParamGroup } from '../../kernel-lib/train/params';

beforeAll(() => useBackend());

const W0 = [0.5, -0.25, 0.75, 1.0]; // [2, 2]
const B0 = [0.1, -0.1];
const X = [1, 2, -1, 0.5]; // [2, 2]
const Y = [0.3, -0.7, 1.2, 0.1]; // [2, 2]

/** One step of the loop on y ≈ x·W + b; returns the new W and b. */
async function oneStep(groups: ParamGroup[] | undefined, weightDecay: number): Promise<{ w: number[]; b: number[] }> {
  const params = new Map<string, tf.Variable>([
    ['enc.w', tf.tidy(() => tf.variable(tf.tensor2d(W0, [2, 2])))], // tidy: the initial value is not kept
    ['mapper.b', tf.tidy(() => tf.variable(tf.tensor1d(B0)))],
  ]);
  try {
    await trainLoop({
      steps: 1, params, groups, lr: 0.01, minLr: 0.01, warmupSteps: 0, clipNorm: 0,
      adam: { beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay },
      batches: () => null,
      loss: () => tf.mean(tf.square(tf.sub(tf.add(tf.matMul(tf.tensor2d(X, [2, 2]), params.get('enc.w')!), params.get('mapper.b')!), tf.tensor2d(Y, [2, 2])))) as tf.Scalar,
    });
    return { w: Array.from(params.get('enc.w')!.dataSync()), b: Array.from(params.get('mapper.b')!.dataSync()) };
  } finally {
    tf.dispose([...params.values()]);
  }
}

/** The first AdamW step by hand: m̂ = g, v̂ = g², so the update is lr·(g/(|g|+eps) + wd·p) (wd on matrices only). */
function gradients(): { gw: number[]; gb: number[] } {
  const pred = [0, 1].flatMap((r) => [0, 1].map((c) => X[r * 2] * W0[c] + X[r * 2 + 1] * W0[2 + c] + B0[c]));
  const d = pred.map((p, i) => (2 * (p - Y[i])) / 4); // dL/dpred for the mean over 4
  const gw = [0, 1].flatMap((k) => [0, 1].map((c) => X[k] * d[c] + X[2 + k] * d[2 + c]));
  const gb = [0, 1].map((c) => d[c] + d[2 + c]);
  return { gw, gb };
}

test('a group trains at its own rate and decay; the rest at the run’s', async () => {
  const { gw, gb } = gradients();
  const step = (p: number, g: number, lr: number, wd: number): number => p - lr * (g / (Math.abs(g) + 1e-8) + wd * p);
  const plain = await oneStep(undefined, 0.1);
  plain.w.forEach((v, i) => expect(v).toBeCloseTo(step(W0[i], gw[i], 0.01, 0.1), 6));
  plain.b.forEach((v, i) => expect(v).toBeCloseTo(step(B0[i], gb[i], 0.01, 0), 6)); // rank 1: no decay
  const mapper = await oneStep([{ name: 'mapper', params: ['mapper.*'], lrScale: 10 }], 0.1);
  expect(mapper.w).toEqual(plain.w); // bit-identical outside the group
  mapper.b.forEach((v, i) => expect(v).toBeCloseTo(step(B0[i], gb[i], 0.1, 0), 6));
  const noDecay = await oneStep([{ name: 'enc', params: ['enc.*'], weightDecay: 0 }], 0.1);
  noDecay.w.forEach((v, i) => expect(v).toBeCloseTo(step(W0[i], gw[i], 0.01, 0), 6));
});

test('bad groups are named before anything trains', async () => {
  const run = (groups: unknown) => oneStep(groups as ParamGroup[], 0);
  await expect(run([{ name: 'm', params: ['mapper.x*'] }])).rejects.toThrow("groups[0] 'm': pattern 'mapper.x*' matches no trainable parameter");
  await expect(run([{ name: 'm', params: ['mapper.*'], lrScale: -1 }])).rejects.toThrow("groups[0] 'm': lrScale must be a finite number ≥ 0, got -1");
  await expect(run([{ name: 'm', params: ['mapper.*'] }, { name: 'm', params: ['enc.*'] }])).rejects.toThrow('groups[1]: needs a name of its own, got "m"');
  await expect(run([{ name: 'm', params: [] }])).rejects.toThrow("groups[0] 'm': params must be a non-empty list of patterns");
});

test('no tensors leak', async () => {
  await oneStep([{ name: 'mapper', params: ['mapper.*'], lrScale: 10 }], 0.1); // warm-up
  const before = tf.memory().numTensors;
  await oneStep([{ name: 'mapper', params: ['mapper.*'], lrScale: 10 }], 0.1);
  expect(tf.memory().numTensors).toBe(before);
});
