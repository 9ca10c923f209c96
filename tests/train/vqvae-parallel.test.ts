/**
 * VQ-VAE training on data-parallel workers (train/vqvae/grads.ts through train/parallel): loss, gradients,
 * encoder outputs and codes equal the single-thread step (float tolerance) for 1, 2 and 3 workers; a
 * trainVQVAE run on 2 workers follows the one-thread run, repeats bit for bit, and its run directory
 * resumes on 2 workers exactly and on 1 worker at all. Workers run compiled JS: needs dist/ (jest's
 * global setup builds it).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { useBackend, maxAbsDiff } from '../helpers/backend';
import { synthImage } from '../helpers/images';
import { defaultVQVAEConfig } from '../../kernel-lib/image/config';
import { CODEBOOK, toModelRange, VQVAE } from '../../kernel-lib/image/model';
import { DataParallelPool, compiledModule } from '../../kernel-lib/train/parallel/pool';
import { joinOutputs, VqGradInit, vqShares } from '../../kernel-lib/train/vqvae/grads';
import { trainVQVAE, VQVAETrainEvent, VQVAETrainOptions } from '../../kernel-lib/train/vqvae/train-vqvae';

const SMALL = defaultVQVAEConfig({ numCodes: 16, codeDim: 4, hidden1: 4, hidden2: 8 });
const BETA = 0.25;

/** One step's batches: 5 images at 32×32 (weight 1) and 3 at 16×16 (weight 0.5), so 2 and 3 workers split unevenly. */
function batches(): Array<{ s: number; pixels: Uint8Array; weight: number }> {
  const pack = (ids: number[], s: number): Uint8Array => {
    const out = new Uint8Array(ids.length * s * s * 3);
    ids.forEach((i, b) => out.set(synthImage(i, s).pixels, b * s * s * 3));
    return out;
  };
  return [
    { s: 32, pixels: pack([0, 1, 2, 3, 4], 32), weight: 1 },
    { s: 16, pixels: pack([5, 6, 7], 16), weight: 0.5 },
  ];
}

/** The single-thread trainer's step written out independently: means over each whole batch, one backward. */
function reference(model: VQVAE, names: string[]) {
  const z: Float32Array[] = [];
  const codes: Int32Array[] = [];
  let out = { loss: NaN, grads: new Map<string, Float32Array>() };
  tf.tidy(() => {
    const { value, grads } = tf.engine().gradients(() => {
      let total: tf.Scalar = tf.scalar(0);
      for (const { s, pixels, weight } of batches()) {
        const x = toModelRange(pixels, [pixels.length / (s * s * 3), s, s, 3]);
        const f = model.forward(x);
        const mse = tf.mean(tf.square(tf.sub(f.recon, x)));
        const commit = tf.mean(tf.square(tf.sub(f.z, f.e)));
        total = tf.add(total, tf.mul(tf.add(mse, tf.mul(commit, BETA)), weight));
        z.push(f.z.dataSync() as Float32Array);
        codes.push(f.codes.dataSync() as Int32Array);
      }
      return total;
    }, names.map((n) => model.params.get(n) as tf.Variable), undefined, true);
    out = { loss: value.dataSync()[0], grads: new Map(names.map((n, i) => [n, grads[i].dataSync() as Float32Array])) };
  });
  return { ...out, z, codes };
}

let model: VQVAE;
let names: string[];
let ref: ReturnType<typeof reference>;
let tmp: string;

beforeAll(async () => {
  await useBackend('wasm');
  model = VQVAE.create(SMALL, 3); // not the workers' seed 0: a worker that ignored the shared codebook would pick other codes
  names = [...model.params.keys()].filter((n) => n !== CODEBOOK);
  ref = reference(model, names);
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-vqpar-'));
});
afterAll(() => {
  model.dispose();
  fs.rmSync(tmp, { recursive: true, force: true });
});

async function runPool(workers: number, outputBytes = 1 << 16) {
  const init: VqGradInit = { config: SMALL, names, commitment: BETA };
  const specs = [...model.params].map(([name, v]) => ({ name, shape: v.shape.slice() }));
  const pool = await DataParallelPool.start({ workers, module: compiledModule('kernel-lib/train/vqvae/grads'), init, specs, outputBytes });
  try {
    const shares = vqShares(batches(), workers);
    const r = await pool.grads((n) => (model.params.get(n) as tf.Variable).dataSync() as Float32Array, shares);
    return { ...r, kept: joinOutputs(shares, r.outputs, r.stats, [32, 16]) };
  } finally {
    await pool.close();
  }
}

test('vqShares: contiguous rows of every size, a worker without rows of a size has no part of it', () => {
  const shares = vqShares(batches(), 3);
  expect(shares.map((sh) => sh?.parts.map((p) => [p.s, p.rows, p.batchRows]))).toEqual([
    [[32, 2, 5], [16, 1, 3]],
    [[32, 2, 5], [16, 1, 3]],
    [[32, 1, 5], [16, 1, 3]],
  ]);
  expect(Array.from(shares[1]!.parts[0].pixels.subarray(0, 6))).toEqual(Array.from(synthImage(2).pixels.subarray(0, 6)));
  expect(vqShares([{ s: 16, pixels: new Uint8Array(16 * 16 * 3), weight: 1 }], 2)[1]).toBeNull();
});

test.each([1, 2, 3])('%i worker(s): loss, every gradient, z and codes equal the single-thread step', async (workers) => {
  const r = await runPool(workers);
  expect(Math.abs(r.loss - ref.loss)).toBeLessThan(1e-5 * ref.loss);
  for (const n of names) {
    const g = ref.grads.get(n) as Float32Array;
    const scale = Math.max(1e-3, ...Array.from(g, Math.abs));
    expect({ n, ok: maxAbsDiff(r.grads.get(n) as Float32Array, g) / scale < 2e-4 }).toEqual({ n, ok: true });
  }
  expect(Array.from(r.grads.get(CODEBOOK) as Float32Array).every((x) => x === 0)).toBe(true); // the EMA moves it, not AdamW
  r.kept.forEach((k, i) => {
    expect(k.s).toBe([32, 16][i]);
    expect(maxAbsDiff(k.z, ref.z[i])).toBeLessThan(1e-5);
    expect(Array.from(k.codes)).toEqual(Array.from(ref.codes[i])); // batch order, the main thread's codebook
  });
  // the per-size parts of the loss add up to the loss
  const sum = r.stats['mse.32'] + BETA * r.stats['commit.32'] + 0.5 * (r.stats['mse.16'] + BETA * r.stats['commit.16']);
  expect(Math.abs(sum - ref.loss)).toBeLessThan(1e-5 * ref.loss);
}, 120_000);

test('outputs larger than the pool buffer are named', async () => {
  await expect(runPool(2, 64)).rejects.toThrow(/worker [01]: outputs of \d+ bytes exceed the pool's output buffer of 64 bytes \(PoolOptions\.outputBytes\)/);
}, 60_000);

describe('trainVQVAE with workers', () => {
  const images = Array.from({ length: 12 }, (_, i) => synthImage(i + 10));
  const base = (workers: number, runDir?: string): VQVAETrainOptions => ({
    config: SMALL, train: images, val: images.slice(0, 2), steps: 6, batchSize: 5, lowResBatchSize: 3, lr: 3e-3,
    deadAfter: 2, seed: 5, logEvery: 1, evalEvery: 0, checkpointEvery: 2, workers, runDir,
  });
  const strip = (c: Array<{ msPerStep: number; cpuMsPerStep: number }>): unknown => c.map(({ msPerStep: _m, cpuMsPerStep: _c, ...rest }) => rest);
  async function run(o: VQVAETrainOptions, onEvent?: (e: VQVAETrainEvent) => void) {
    const threads: number[] = [];
    const r = await trainVQVAE({ ...o, onEvent: (e) => (e.kind === 'step' && threads.push(e.threads), onEvent?.(e)) });
    const weights = new Map([...r.model.params].map(([n, v]) => [n, v.dataSync().slice() as Float32Array]));
    r.model.dispose();
    return { ...r, threads, weights };
  }

  test('2 workers follow the one-thread run (loss, codebook, weights), repeat bit for bit and report threads', async () => {
    const before = tf.memory().numTensors;
    const one = await run(base(1));
    const two = await run(base(2));
    const again = await run(base(2));
    expect(tf.memory().numTensors).toBe(before);
    expect([one.threads, two.threads, two.threads]).toEqual([[1, 1, 1, 1, 1, 1], [2, 2, 2, 2, 2, 2], [2, 2, 2, 2, 2, 2]]);
    expect(one.curve.reduce((a, p) => a + p.restarts, 0)).toBeGreaterThan(0); // the restarts read the joined z
    two.curve.forEach((p, i) => {
      const q = one.curve[i];
      expect(Math.abs(p.loss - q.loss)).toBeLessThan(1e-4 * q.loss);
      expect(Math.abs(p.mse['16'] - q.mse['16'])).toBeLessThan(1e-4 * q.mse['16']);
      expect([p.restarts, p.batchPerplexity]).toEqual([q.restarts, q.batchPerplexity]);
    });
    expect(one.curve[5].loss).toBeLessThan(one.curve[0].loss); // it trains
    for (const [n, w] of one.weights) expect({ n, ok: maxAbsDiff(two.weights.get(n) as Float32Array, w) < 1e-4 }).toEqual({ n, ok: true });
    expect(strip(again.curve)).toEqual(strip(two.curve));
    for (const [n, w] of two.weights) expect([n, Buffer.from((again.weights.get(n) as Float32Array).buffer).equals(Buffer.from(w.buffer))]).toEqual([n, true]);
    expect(two.settings).toEqual(one.settings); // the worker count is not a setting of the run
    expect(two.threads).toHaveLength(6);
  }, 240_000);

  test('a 2-worker run directory resumes on 2 workers exactly and on 1 worker within float tolerance', async () => {
    const full = await run(base(2));
    const dir2 = path.join(tmp, 'run2');
    const abort = new AbortController();
    const first = await run({ ...base(2, dir2), signal: abort.signal }, (e) => e.kind === 'step' && e.step === 3 && abort.abort());
    expect(first.stopped).toBe('aborted');
    const dir1 = path.join(tmp, 'run1');
    fs.cpSync(dir2, dir1, { recursive: true });
    const second = await run(base(2, dir2));
    expect(second.resumedFrom).toBe(3);
    expect(strip(second.curve)).toEqual(strip(full.curve));
    for (const [n, w] of full.weights) expect([n, Buffer.from((second.weights.get(n) as Float32Array).buffer).equals(Buffer.from(w.buffer))]).toEqual([n, true]);
    const onOne = await run(base(1, dir1));
    expect([onOne.resumedFrom, onOne.threads]).toEqual([3, [1, 1, 1]]);
    onOne.curve.forEach((p, i) => expect(Math.abs(p.loss - full.curve[i].loss)).toBeLessThan(1e-4 * full.curve[i].loss));
  }, 240_000);

  test('bad worker counts are named', async () => {
    await expect(trainVQVAE({ ...base(0) })).rejects.toThrow('trainVQVAE: workers must be a positive integer, got 0');
    await expect(trainVQVAE({ ...base(1.5) })).rejects.toThrow('trainVQVAE: workers must be a positive integer, got 1.5');
  });
});
