/**
 * The latent diffusion decoder trained on data-parallel workers (diffusion/grads.ts through train/parallel):
 * each row's timestep and noise are its own (a split draws what one thread draws), the workers' loss and
 * every gradient equal the single-thread step for 1–3 workers, a trainDiffusion run on 2 workers follows
 * the one-thread run (loss and parameter update) and repeats bit for bit, and a run killed mid-step
 * (SIGKILL, workers and all) resumes on 2 workers exactly and on 1 within float tolerance. Workers run
 * compiled JS: needs dist/ (jest's global setup builds it).
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { useBackend } from '../helpers/backend';
import { maxAbsDiff, randomize, tinyLdm } from './helpers';
import type { LatentDiffusion } from '../../kernel-lib/diffusion/model';
import { tokenizeCaptions } from '../../kernel-lib/diffusion/caption-encoder';
import { batchPart, DiffusionPart, noisePredictionLoss, partLoss, rowDraws } from '../../kernel-lib/diffusion/loss';
import { DiffusionGradInit, diffusionShares } from '../../kernel-lib/diffusion/grads';
import { trainDiffusion, DiffusionTrainOptions, DiffusionTrainData } from '../../kernel-lib/diffusion/train';
import { DataParallelPool, compiledModule } from '../../kernel-lib/train/parallel/pool';
import { mulberry32, normalArray } from '../../kernel-lib/util/random';
import { clearAttentionCache } from '../../kernel-lib/diffusion/attention';
import { sparseEmbedding } from '../../kernel-lib/diffusion/layers';

// '' is a dropped caption (the null conditioning); lengths differ, so padding differs row to row. 5 rows:
// 2 and 3 workers split them unevenly, and the last worker's rows are all dropped captions (one distinct
// token id: the embedding gradient's special case).
const CAPTIONS = ['a cat face', 'a red apple to the left of a green tree below a smiling sun', 'a tiger face', '', ''];
const B = CAPTIONS.length;
const NOISE_SEED = 12345;
const LATENTS_SEED = 3;

let m: LatentDiffusion;
let per: number;
let latents: Float32Array;
let whole: DiffusionPart;
let tmp: string;

const relDiff = (a: ArrayLike<number>, b: ArrayLike<number>): number => maxAbsDiff(a, b) / Math.max(1e-12, ...Array.from(b, Math.abs));

beforeAll(async () => {
  await useBackend('wasm');
  m = tinyLdm({ seed: 1 });
  randomize(m, 0.1, 5); // adaLN-Zero starts with most gradients exactly 0: a wrong sum would hide there
  per = m.config.latentSize ** 2 * m.config.latentChannels;
  latents = normalArray(B * per, 1, mulberry32(LATENTS_SEED));
  whole = batchPart(latents, tokenizeCaptions(m.tokenizer, CAPTIONS, m.config.caption), NOISE_SEED, 0, B) as DiffusionPart;
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-ldmpar-'));
});
afterAll(() => {
  m.dispose();
  fs.rmSync(tmp, { recursive: true, force: true });
});

/** Loss and gradients of every parameter for `part`, computed here. */
function localGrads(part: DiffusionPart): { loss: number; grads: Map<string, Float32Array> } {
  const names = [...m.params.keys()];
  let out = { loss: NaN, grads: new Map<string, Float32Array>() };
  tf.tidy(() => {
    const { value, grads } = tf.engine().gradients(() => partLoss(m, part), names.map((n) => m.params.get(n) as tf.Variable));
    out = { loss: value.dataSync()[0], grads: new Map(names.map((n, i) => [n, grads[i].dataSync() as Float32Array])) };
  });
  return out;
}

test('rowDraws: a pure function of (noise seed, row), timesteps in 1…T', () => {
  const a = rowDraws(NOISE_SEED, 3, 1000, per);
  const again = rowDraws(NOISE_SEED, 3, 1000, per);
  expect(a.t).toBe(again.t);
  expect(Buffer.from(a.eps.buffer).equals(Buffer.from(again.eps.buffer))).toBe(true);
  expect(maxAbsDiff(rowDraws(NOISE_SEED, 4, 1000, per).eps, a.eps)).toBeGreaterThan(1);
  expect(maxAbsDiff(rowDraws(NOISE_SEED + 1, 3, 1000, per).eps, a.eps)).toBeGreaterThan(1);
  const ts = Array.from({ length: 2000 }, (_, r) => rowDraws(7, r, 10, 2).t);
  expect([Math.min(...ts), Math.max(...ts)]).toEqual([1, 10]);
  expect(a.eps.length).toBe(per);
});

test('the batch loss is the mean of each row alone (own caption, own draws), and parts add up to it', () => {
  const batchLoss = tf.tidy(() => partLoss(m, whole).dataSync()[0]); // also makes the kept position embedding
  clearAttentionCache();
  const before = tf.memory().numTensors;
  // independent of partLoss: every row on its own, batch 1, through the public caption encoder
  const rows = CAPTIONS.map((c, r) =>
    tf.tidy(() => {
      const d = rowDraws(NOISE_SEED, r, m.config.timesteps, per);
      return noisePredictionLoss(m, latents.slice(r * per, (r + 1) * per), m.encodeCaption([c]), [d.t], d.eps).dataSync()[0];
    }),
  );
  expect(Math.abs(batchLoss - rows.reduce((a, x) => a + x, 0) / B)).toBeLessThan(1e-5 * batchLoss);
  const parts = diffusionShares(latents, whole.tokens, NOISE_SEED, 3);
  expect(parts.map((p) => p && [p.firstRow, p.rows, p.batchRows])).toEqual([[0, 2, 5], [2, 2, 5], [4, 1, 5]]);
  const sum = parts.reduce((a, p) => a + tf.tidy(() => partLoss(m, p as DiffusionPart).dataSync()[0]), 0);
  expect(Math.abs(sum - batchLoss)).toBeLessThan(1e-5 * batchLoss);
  expect(diffusionShares(latents.slice(0, per), tokenizeCaptions(m.tokenizer, ['x'], m.config.caption), 1, 2)[1]).toBeNull();
  clearAttentionCache();
  expect(tf.memory().numTensors).toBe(before);
});

test('embedding gradient with one distinct id (a share of dropped captions only) equals the dense one-hot product', () => {
  const table = tf.tensor2d(normalArray(6 * 3, 1, mulberry32(9)), [6, 3]);
  const dy = tf.tensor2d(normalArray(4 * 3, 1, mulberry32(10)), [4, 3]);
  for (const ids of [Int32Array.from([0, 0, 0, 0]), Int32Array.from([2, 0, 2, 5])]) {
    const got = tf.tidy(() => tf.grad((t: tf.Tensor) => tf.sum(tf.mul(sparseEmbedding(ids, t as tf.Tensor2D), dy)))(table).dataSync());
    const want = tf.tidy(() => tf.grad((t: tf.Tensor) => tf.sum(tf.mul(tf.matMul(tf.oneHot(tf.tensor1d(ids, 'int32'), 6).toFloat(), t as tf.Tensor2D), dy)))(table).dataSync());
    expect(maxAbsDiff(got, want)).toBeLessThan(1e-6);
  }
  tf.dispose([table, dy]);
});

test.each([1, 2, 3])('%i worker(s): loss and every gradient equal the single-thread step', async (workers) => {
  const ref = localGrads(whole);
  const specs = [...m.params].map(([name, v]) => ({ name, shape: v.shape.slice() }));
  const init: DiffusionGradInit = { config: m.config, names: specs.map((s) => s.name) };
  const pool = await DataParallelPool.start({ workers, module: compiledModule('kernel-lib/diffusion/grads'), init, specs });
  try {
    const r = await pool.grads((n) => (m.params.get(n) as tf.Variable).dataSync() as Float32Array, diffusionShares(latents, whole.tokens, NOISE_SEED, workers));
    expect(r.loss).not.toBe(0);
    expect(Math.abs(r.loss - ref.loss)).toBeLessThan(1e-5 * ref.loss);
    for (const [n, g] of ref.grads) {
      expect(Math.max(...Array.from(g, Math.abs))).toBeGreaterThan(0); // randomized: every parameter gets a gradient
      expect({ n, rel: relDiff(r.grads.get(n) as Float32Array, g) < 1e-5 }).toEqual({ n, rel: true });
    }
  } finally {
    await pool.close();
  }
}, 120_000);

describe('trainDiffusion with workers', () => {
  const data = (): DiffusionTrainData => ({ latents, captions: CAPTIONS.map((c) => [c, `${c}, again`]) });
  const base = (workers: number, runDir?: string): DiffusionTrainOptions => ({ data: data(), steps: 4, batchSize: B, lr: 1e-3, warmupSteps: 1, seed: 2, checkpointEvery: 2, workers, runDir });
  /** A run from a fresh tiny decoder (the recipe's start: adaLN-Zero) or, `randomized`, from generic weights. */
  async function run(o: DiffusionTrainOptions, randomized = false) {
    const model = tinyLdm({ seed: 7 });
    if (randomized) randomize(model, 0.1, 11);
    const snapshot = () => new Map([...model.params].map(([n, v]) => [n, v.dataSync().slice() as Float32Array]));
    const start = snapshot();
    try {
      const r = await trainDiffusion(model, o);
      const weights = snapshot();
      const update = new Map([...weights].map(([n, w]) => [n, w.map((x, i) => x - (start.get(n) as Float32Array)[i])]));
      return { ...r, weights, update, losses: r.history.map((e) => e.loss), gradNorms: r.history.map((e) => e.gradNorm), threadsPerStep: r.history.map((e) => e.threads) };
    } finally {
      model.dispose();
    }
  }

  /**
   * Per tensor, max |update_a − update_b| ≤ rel × its largest update + 2 ulps of its largest weight (the
   * update is read as a difference of float32 weights: one rounding of a weight near 1, 1.2e-7, is 7e-5
   * of a 4-step update of ~1.7e-3 at lr 1e-3).
   */
  function expectSameUpdate(a: { update: Map<string, Float32Array> }, b: { update: Map<string, Float32Array>; weights: Map<string, Float32Array> }, rel: number): void {
    const ulp = (x: number): number => 2 ** (Math.floor(Math.log2(x)) - 23);
    for (const [n, u] of b.update) {
      const tol = rel * Math.max(...Array.from(u, Math.abs)) + 2 * ulp(Math.max(...Array.from(b.weights.get(n) as Float32Array, Math.abs)));
      expect({ n, ok: maxAbsDiff(a.update.get(n) as Float32Array, u) <= tol }).toEqual({ n, ok: true });
    }
  }

  test('one step from generic weights: 2 workers make the one-thread parameter update (1e-5 relative)', async () => {
    const LR = 1e-3;
    const one = await run({ ...base(1), steps: 1, lr: LR }, true);
    const two = await run({ ...base(2), steps: 1, lr: LR }, true);
    expect(Math.abs(two.losses[0] - one.losses[0])).toBeLessThan(1e-5 * one.losses[0]);
    // AdamW's first step moves an element by −lr·g/(|g| + ε), ε = 1e-8: by lr·sign(g) wherever |g| ≫ ε,
    // whatever float-order noise g carries, but where |g| is within ~100 ε of zero by a fraction of lr that
    // follows g's own relative error (a 1e-9 difference in a 4e-8 gradient moved one element 0.3 % of lr;
    // a key bias's gradient is 0 in exact arithmetic — softmax ignores a constant added to a query's
    // scores — so its sign is float noise, moving it by ±0.6 % of lr). So: full-size moves agree to 1e-5
    // of lr; the few ε-regime elements to 2 % of lr.
    let moved = 0;
    let epsRegime = 0;
    for (const [n, u] of one.update) {
      const w = one.weights.get(n) as Float32Array;
      const u2 = two.update.get(n) as Float32Array;
      u.forEach((x, i) => {
        const rounding = 2 * 2 ** (Math.floor(Math.log2(Math.max(Math.abs(w[i]), 1e-30))) - 23); // the update is read from float32 weights
        if (x === 0 && u2[i] === 0) return; // no gradient: embedding rows of tokens not in the batch
        if (Math.abs(x) >= 0.99 * LR) {
          moved++;
          if (Math.abs(u2[i] - x) > 1e-5 * LR + rounding) throw new Error(`${n}[${i}]: update ${u2[i]} on 2 workers, ${x} on 1`);
        } else {
          epsRegime++;
          if (Math.abs(u2[i] - x) > 2e-2 * LR + rounding) throw new Error(`${n}[${i}] (|g| near ε): update ${u2[i]} on 2 workers, ${x} on 1`);
        }
      });
    }
    // not vacuous: most elements take full-size moves (measured: 89,587 full-size, 3,644 in the ε regime,
    // where clipping the generic weights' large gradient to norm 1 brings many elements near ε)
    expect(epsRegime).toBeLessThan(0.1 * moved);
  }, 120_000);

  test("4 steps from the recipe's start: 2 workers give the one-thread losses and gradient norms (1e-5 relative) and weights, repeat bit for bit, leak nothing", async () => {
    clearAttentionCache();
    const before = tf.memory().numTensors;
    const one = await run(base(1));
    const two = await run(base(2));
    const again = await run(base(2));
    clearAttentionCache();
    expect(tf.memory().numTensors).toBe(before);
    expect([one.threads, one.threadsPerStep, two.threads, two.threadsPerStep]).toEqual([1, [1, 1, 1, 1], 2, [2, 2, 2, 2]]);
    expect(one.losses[3]).toBeLessThan(one.losses[0]); // it trains
    two.losses.forEach((l, i) => expect(Math.abs(l - one.losses[i])).toBeLessThan(1e-5 * one.losses[i]));
    two.gradNorms.forEach((g, i) => expect(Math.abs(g - one.gradNorms[i])).toBeLessThan(1e-5 * one.gradNorms[i]));
    // Over 4 steps AdamW divides each element by its own running RMS, so an element whose gradient is
    // tiny through cancellation (a key bias's is 0 in exact arithmetic: softmax ignores a constant added
    // to a query's scores) turns a float-order difference of 1e-7 into up to ~7e-5 of the update (measured)
    expectSameUpdate(two, one, 2e-4);
    expect(again.losses).toEqual(two.losses);
    for (const [n, w] of two.weights) expect([n, Buffer.from((again.weights.get(n) as Float32Array).buffer).equals(Buffer.from(w.buffer))]).toEqual([n, true]);
  }, 240_000);

  test('killed mid-step (SIGKILL, workers too), the run resumes on 2 workers exactly and on 1 within float tolerance', async () => {
    const dir2 = path.join(tmp, 'run2');
    const spec = {
      runDir: dir2,
      modelSeed: 7,
      latentsSeed: LATENTS_SEED,
      captions: CAPTIONS,
      train: { steps: 4, batchSize: B, lr: 1e-3, warmupSteps: 1, seed: 2, checkpointEvery: 2, workers: 2 },
      killAtStep: 3, // after the snapshot of step 2, in the middle of the 3rd step's bookkeeping
    };
    // the child trains on captions without the ", again" variants: give the parent's runs the same data
    const childData: DiffusionTrainData = { latents, captions: CAPTIONS.map((c) => [c]) };
    const child = spawnSync(process.execPath, [path.join(__dirname, 'fixtures', 'train-child.js'), JSON.stringify(spec)], { encoding: 'utf8', env: { ...process.env, SWITCHBOARD_TRAIN_WORKERS: '' } });
    const stderr = child.signal === 'SIGKILL' ? '' : child.stderr; // shown when the child failed otherwise
    expect([child.signal, child.stdout.trim().split('\n'), stderr]).toEqual(['SIGKILL', ['step 1 2', 'step 2 2', 'step 3 2'], '']);
    expect(JSON.parse(fs.readFileSync(path.join(dir2, 'trainer_state.json'), 'utf8')).step).toBe(2);
    const dir1 = path.join(tmp, 'run1');
    fs.cpSync(dir2, dir1, { recursive: true });
    const straight = await run({ ...base(2), data: childData });
    const resumed = await run({ ...base(2, dir2), data: childData });
    expect(resumed.resumedFrom).toBe(2);
    expect(resumed.losses).toEqual(straight.losses);
    for (const [n, w] of straight.weights) expect([n, Buffer.from((resumed.weights.get(n) as Float32Array).buffer).equals(Buffer.from(w.buffer))]).toEqual([n, true]);
    const onOne = await run({ ...base(1, dir1), data: childData });
    expect([onOne.resumedFrom, onOne.threadsPerStep]).toEqual([2, [2, 2, 1, 1]]); // the first two steps are the child's
    onOne.losses.forEach((l, i) => expect(Math.abs(l - straight.losses[i])).toBeLessThan(1e-5 * straight.losses[i]));
    expectSameUpdate(onOne, straight, 2e-4);
  }, 300_000);

  test('bad worker counts are named', async () => {
    const model = tinyLdm({ seed: 7 });
    try {
      await expect(trainDiffusion(model, base(0))).rejects.toThrow('trainDiffusion: workers must be a positive integer, got 0');
      await expect(trainDiffusion(model, base(1.5))).rejects.toThrow('trainDiffusion: workers must be a positive integer, got 1.5');
    } finally {
      model.dispose();
    }
  });
});
