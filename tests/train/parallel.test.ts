/**
 * train/parallel: data-parallel loss and gradients on worker threads equal the single-thread trainer's
 * (same loss, including the batch-wide load-balancing term, and same gradients within float tolerance),
 * are the same bits run to run for a given worker count, and fail with a named error instead of hanging.
 * Workers run compiled JS: needs dist/ (npx tsc -p tsconfig.build.json; npm test builds it).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { useBackend, maxAbsDiff } from '../helpers/backend';
import { MoEModel } from '../../kernel-lib/model/model';
import { defaultMoEConfig } from '../../kernel-lib/model/config';
import { mulberry32 } from '../../kernel-lib/util/random';
import { DataParallelPool, compiledModule } from '../../kernel-lib/train/parallel/pool';
import { lmShare, splitRows, LmGradInit } from '../../kernel-lib/train/parallel/lm-grads';
import { train, TrainOptions } from '../../kernel-lib/train/trainer';
import { saveCheckpoint } from '../../kernel-lib/checkpoint';

const cfg = defaultMoEConfig('tiny', { vocabSize: 40, maxPositions: 32, numExperts: 6, topK: 2 });
const B = 5;
const T = 9;
const AUX = 0.05; // larger than the default so a wrong load-balancing term would show

function batch() {
  const rand = mulberry32(4);
  const inputs = Int32Array.from({ length: B * T }, () => Math.floor(rand() * cfg.vocabSize));
  const targets = Int32Array.from({ length: B * T }, () => Math.floor(rand() * cfg.vocabSize));
  const weights = Float32Array.from({ length: B * T }, (_, i) => (i % 7 === 0 ? 0 : 0.5 + rand()));
  return { inputs, targets, weights, B, T };
}

/** The single-thread trainer's loss and gradients (trainer.ts's step, without the optimizer). */
function reference(model: MoEModel, names: string[]): { loss: number; grads: Map<string, Float32Array> } {
  const b = batch();
  let out = { loss: NaN, grads: new Map<string, Float32Array>() };
  tf.tidy(() => {
    const { value, grads } = tf.engine().gradients(() => {
      const r = model.forwardTensors(tf.tensor2d(b.inputs, [B, T], 'int32'), { capture: 'none', training: true });
      const logp = tf.logSoftmax(r.logits);
      const oh = tf.cast(tf.oneHot(tf.tensor1d(b.targets, 'int32'), cfg.vocabSize), 'float32');
      const nll = tf.neg(tf.sum(tf.mul(logp, oh), -1));
      const lm = tf.div(tf.sum(tf.mul(nll, tf.tensor1d(b.weights))), b.weights.reduce((a, x) => a + x, 0));
      return tf.add(lm, tf.mul(r.aux, AUX)) as tf.Scalar;
    }, names.map((n) => model.params.get(n) as tf.Variable), undefined, true);
    out = { loss: value.dataSync()[0], grads: new Map(names.map((n, i) => [n, grads[i].dataSync() as Float32Array])) };
  });
  return out;
}

let model: MoEModel;
let names: string[];
let ref: ReturnType<typeof reference>;

beforeAll(async () => {
  await useBackend('wasm');
  model = MoEModel.init(cfg, 7);
  names = [...model.params.keys()];
  ref = reference(model, names);
});
afterAll(() => model.dispose());

async function runPool(workers: number) {
  const init: LmGradInit = { config: cfg, names, auxCoef: AUX };
  const specs = names.map((name) => ({ name, shape: (model.params.get(name) as tf.Variable).shape.slice() }));
  const pool = await DataParallelPool.start({ workers, module: compiledModule('kernel-lib/train/parallel/lm-grads'), init, specs });
  try {
    const b = batch();
    const shares = splitRows(B, workers).map(([from, to]) => lmShare(b, from, to));
    return await pool.grads((n) => (model.params.get(n) as tf.Variable).dataSync() as Float32Array, shares);
  } finally {
    await pool.close();
  }
}

test('splitRows: contiguous, covering, first workers one row longer', () => {
  expect(splitRows(5, 2)).toEqual([[0, 3], [3, 5]]);
  expect(splitRows(2, 3)).toEqual([[0, 1], [1, 2], [2, 2]]);
});

test.each([1, 2, 3])('%i worker(s): loss and every gradient equal the single-thread trainer', async (workers) => {
  const r = await runPool(workers);
  expect(Math.abs(r.loss - ref.loss)).toBeLessThan(1e-5 * Math.abs(ref.loss));
  expect(r.stats.auxLoss).toBeGreaterThan(0.5); // E·Σ f·P is ≈ 1 for balanced routing; a share-local version differs
  for (const n of names) {
    const g = ref.grads.get(n) as Float32Array;
    const scale = Math.max(1e-3, ...Array.from(g, Math.abs));
    expect({ n, diff: maxAbsDiff(r.grads.get(n) as Float32Array, g) / scale < 2e-4 }).toEqual({ n, diff: true });
  }
  expect(r.workerMs).toHaveLength(workers);
}, 120_000);

test('deterministic: two runs with 2 workers give the same bits', async () => {
  const a = await runPool(2);
  const b = await runPool(2);
  expect(a.loss).toBe(b.loss);
  for (const n of names) expect(Buffer.compare(Buffer.from((a.grads.get(n) as Float32Array).buffer), Buffer.from((b.grads.get(n) as Float32Array).buffer))).toBe(0);
}, 120_000);

test('a failing worker is named and its peers do not hang (grads and gradsSync)', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-par-'));
  const mod = path.join(dir, 'bad.js');
  // rank 0 waits in the all-reduce, rank 1 throws before joining it
  fs.writeFileSync(mod, `exports.createGradFn = () => ({ params: new Map(), grad(share, c) {
    if (c.rank === 1) throw new Error('no luck'); c.allReduceSum(new Float64Array(1)); return { loss: 0, grads: new Map() }; } });`);
  const pool = await DataParallelPool.start({ workers: 2, module: mod, init: null, specs: [] });
  try {
    await expect(pool.grads(() => new Float32Array(0), [{}, {}])).rejects.toThrow(/worker [01]: (no luck|data-parallel step aborted: another worker failed)/);
    // the blocking form (the training loop's seam) fails the same way, and the pool stays usable
    expect(() => pool.gradsSync(() => new Float32Array(0), [{}, {}])).toThrow(/worker [01]: (no luck|data-parallel step aborted: another worker failed)/);
  } finally {
    await pool.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}, 60_000);

test('bad arguments are named', async () => {
  expect(() => compiledModule('kernel-lib/train/parallel/nope')).toThrow(/nope\.js is missing: data-parallel workers run compiled JS; build first/);
  await expect(DataParallelPool.start({ workers: 0, module: 'x', init: null, specs: [] })).rejects.toThrow('data-parallel workers must be a positive integer, got 0');
  await expect(DataParallelPool.start({ workers: 1, module: 'x', init: null, specs: [], initialOldSpaceMb: -1 })).rejects.toThrow('data-parallel initialOldSpaceMb must be a non-negative integer, got -1');
});

describe('train() with workers', () => {
  const steps = 3;
  const rows = () => {
    const rand = mulberry32(9);
    return Array.from({ length: steps }, () => ({ ids: Array.from({ length: 4 }, () => Array.from({ length: 10 }, () => Math.floor(rand() * cfg.vocabSize))) }));
  };
  async function curve(workers: number) {
    const m = MoEModel.init(cfg, 11);
    const data = rows();
    try {
      const r = await train(m, { steps, batches: (i) => data[i], lr: 3e-3, warmupSteps: 0, workers });
      return { losses: r.history.map((e) => e.loss), threads: r.history.map((e) => e.threads), embed: Array.from((m.params.get('embed') as tf.Variable).dataSync()) };
    } finally {
      m.dispose();
    }
  }

  test('2 workers follow the one-thread loss curve and weights within float tolerance, report threads, and repeat bit for bit', async () => {
    const one = await curve(1);
    const two = await curve(2);
    const again = await curve(2);
    expect(one.threads).toEqual([1, 1, 1]);
    expect(two.threads).toEqual([2, 2, 2]);
    two.losses.forEach((l, i) => expect(Math.abs(l - one.losses[i])).toBeLessThan(1e-5 * one.losses[i]));
    expect(one.losses[2]).toBeLessThan(one.losses[0]); // it trains
    expect(maxAbsDiff(two.embed, one.embed)).toBeLessThan(1e-5);
    expect(again.losses).toEqual(two.losses);
    expect(again.embed).toEqual(two.embed);
  }, 180_000);

  test('bad worker counts are named', async () => {
    const m = MoEModel.init(cfg, 11);
    await expect(train(m, { steps: 1, batches: () => ({ ids: [[1, 2]] }), workers: 0 })).rejects.toThrow('train: workers must be a positive integer, got 0');
    m.dispose();
  });
});

describe('train() with workers: the update runs in the workers (reduce-scatter)', () => {
  const steps = 4;
  const data = (() => {
    const rand = mulberry32(21);
    return Array.from({ length: steps }, () => ({ ids: Array.from({ length: 5 }, () => Array.from({ length: 10 }, () => Math.floor(rand() * cfg.vocabSize))) }));
  })();
  const host = (m: MoEModel) => new Map([...m.params].map(([n, v]) => [n, Float32Array.from(v.dataSync())]));
  const saver = (m: MoEModel) => (dir: string, extra: Record<string, unknown>) =>
    saveCheckpoint(dir, { config: m.config, params: m.toHost(), tokenizer: { model: { type: 'none' } }, tokenizerLayout: {}, extra });
  async function run(workers: number, o: Partial<TrainOptions> = {}, seed = 11) {
    const m = MoEModel.init(cfg, seed);
    try {
      const r = await train(m, { steps, batches: (i) => data[i], lr: 3e-3, warmupSteps: 1, weightDecay: 0.1, workers, ...o });
      return { r, params: host(m), losses: r.history.map((e) => e.loss), norms: r.history.map((e) => e.gradNorm) };
    } finally {
      m.dispose();
    }
  }
  const close = (a: Map<string, Float32Array>, b: Map<string, Float32Array>, tol: number) => {
    for (const [n, x] of a) expect({ n, ok: maxAbsDiff(x, b.get(n) as Float32Array) < tol }).toEqual({ n, ok: true });
  };
  const bits = (a: Map<string, Float32Array>, b: Map<string, Float32Array>) => {
    for (const [n, x] of a) expect({ n, same: Buffer.compare(Buffer.from(x.buffer), Buffer.from((b.get(n) as Float32Array).buffer)) === 0 }).toEqual({ n, same: true });
  };

  test('frozen parameters, a slice that trains and a group with its own rate and decay: 2 and 3 workers follow one thread, clipping included', async () => {
    // clipNorm 0.5: the gradient norm of this model is above it, so every step clips
    const o: Partial<TrainOptions> = {
      freeze: ['blocks.0.attn.*'],
      trainSlices: [{ param: 'embed', axis: 0, from: 20 }],
      groups: [{ name: 'routers', params: ['blocks.*.moe.router'], lrScale: 3, weightDecay: 0.5 }],
      clipNorm: 0.5,
    };
    const start = host(MoEModel.init(cfg, 11));
    const one = await run(1, o);
    expect(Math.min(...one.norms)).toBeGreaterThan(0.5);
    for (const workers of [2, 3]) {
      const par = await run(workers, o);
      expect(par.r.history.map((e) => e.threads)).toEqual(new Array(steps).fill(workers));
      par.losses.forEach((l, i) => expect(Math.abs(l - one.losses[i])).toBeLessThan(1e-5 * one.losses[i]));
      par.norms.forEach((g, i) => expect(Math.abs(g - one.norms[i])).toBeLessThan(1e-4 * one.norms[i]));
      close(par.params, one.params, 2e-5);
      // frozen: the workers used this model's values (not their own initialisation) and nothing moved them
      bits(new Map([...par.params].filter(([n]) => n.startsWith('blocks.0.attn.'))), new Map([...start].filter(([n]) => n.startsWith('blocks.0.attn.'))));
      // the embedding rows outside the slice are exactly as they were (no step, no decay)
      const H = cfg.hiddenSize;
      expect(Array.from((par.params.get('embed') as Float32Array).subarray(0, 20 * H))).toEqual(Array.from((start.get('embed') as Float32Array).subarray(0, 20 * H)));
      expect(maxAbsDiff((par.params.get('embed') as Float32Array).subarray(20 * H), (start.get('embed') as Float32Array).subarray(20 * H))).toBeGreaterThan(1e-4);
    }
  }, 300_000);

  test('a run directory resumes on 2 workers bit for bit and on 1 within float tolerance, and a one-thread one on 2 workers', async () => {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-par-run-'));
    try {
      const full = await run(2);
      const stopped = async (workers: number, dir: string) => {
        const m = MoEModel.init(cfg, 11);
        const ac = new AbortController();
        const r = await train(m, { steps, batches: (i) => data[i], lr: 3e-3, warmupSteps: 1, weightDecay: 0.1, workers, runDir: dir, checkpointEvery: 2, saveModel: saver(m), signal: ac.signal, onStep: (e) => e.step === 2 && ac.abort() });
        m.dispose();
        expect(r.stopped).toBe('aborted');
      };
      const resumed = async (workers: number, dir: string) => {
        const m = MoEModel.init(cfg, 99); // other weights: resume must restore them
        try {
          const r = await train(m, { steps, batches: (i) => data[i], lr: 3e-3, warmupSteps: 1, weightDecay: 0.1, workers, runDir: dir, checkpointEvery: 2, saveModel: saver(m) });
          expect(r.resumedFrom).toBe(2);
          return { params: host(m), losses: r.history.map((e) => e.loss) };
        } finally {
          m.dispose();
        }
      };
      const two = path.join(tmp, 'two');
      await stopped(2, two);
      /** The optimizer snapshot's safetensors header (names, shapes, offsets, metadata). */
      const header = (dir: string) => {
        const b = fs.readFileSync(path.join(dir, 'step-000002', 'optimizer.safetensors'));
        return b.subarray(8, 8 + Number(b.readBigUInt64LE(0))).toString();
      };
      const twoHeader = header(two);
      const again = path.join(tmp, 'two-again');
      fs.cpSync(two, again, { recursive: true });
      const on2 = await resumed(2, two);
      expect(on2.losses).toEqual(full.losses);
      bits(on2.params, full.params);
      const on1 = await resumed(1, again);
      on1.losses.forEach((l, i) => expect(Math.abs(l - full.losses[i])).toBeLessThan(1e-5 * full.losses[i]));
      close(on1.params, full.params, 2e-5);
      // a snapshot written by one thread (adamw.ts's moments) resumes on workers
      const one = path.join(tmp, 'one');
      await stopped(1, one);
      expect(header(one)).toBe(twoHeader); // the same format either way
      const from1 = await resumed(2, one);
      from1.losses.forEach((l, i) => expect(Math.abs(l - full.losses[i])).toBeLessThan(1e-5 * full.losses[i]));
      close(from1.params, full.params, 2e-5);
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  }, 300_000);
});
