import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { useBackend } from '../helpers/backend';
import { MoEModel } from '../../kernel-lib/model/model';
import { defaultMoEConfig } from '../../kernel-lib/model/config';
import { train, trainableNames, TrainBatch } from '../../kernel-lib/train/trainer';
import { learningRate } from '../../kernel-lib/train/schedule';
import { saveCheckpoint } from '../../kernel-lib/checkpoint';

const cfg = defaultMoEConfig('tiny', { vocabSize: 64, maxPositions: 32 });

/** A learnable toy language: each row counts up modulo 50 from a step-dependent start. */
function batches(step: number): TrainBatch {
  return { ids: Array.from({ length: 4 }, (_, b) => Array.from({ length: 17 }, (_, j) => (step * 7 + b * 13 + j) % 50)) };
}

function saver(model: MoEModel) {
  return (dir: string, extra: Record<string, unknown>) =>
    saveCheckpoint(dir, { config: model.config, params: model.toHost(), tokenizer: { model: { type: 'none' } }, tokenizerLayout: {}, extra });
}

let tmp: string;
beforeAll(async () => {
  await useBackend();
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-train-'));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

test('warmup + cosine schedule', () => {
  const o = { lr: 1e-3, minLr: 1e-4, warmupSteps: 10, totalSteps: 110 };
  expect(learningRate(0, o)).toBeCloseTo(1e-4, 12);
  expect(learningRate(9, o)).toBeCloseTo(1e-3, 12);
  expect(learningRate(60, o)).toBeCloseTo(1e-4 + 0.5 * 9e-4, 12);
  expect(learningRate(110, o)).toBeCloseTo(1e-4, 12);
});

test('loss falls on a learnable sequence, and no tensors leak', async () => {
  const model = MoEModel.init(cfg, 1);
  model.forward([batches(0).ids[0].slice(1)]); // builds the cached causal mask for T = 16
  const before = tf.memory().numTensors;
  const events: number[] = [];
  const r = await train(model, { steps: 40, batches, lr: 1e-2, warmupSteps: 4, onStep: (e) => events.push(e.lmLoss) });
  expect(tf.memory().numTensors).toBe(before);
  expect(r.history).toHaveLength(40);
  expect(events[0]).toBeGreaterThan(Math.log(64) - 0.5);
  expect(events[39]).toBeLessThan(events[0] * 0.6);
  for (const e of r.history) {
    expect(e.tokensPerSec).toBeGreaterThan(0);
    expect(e.auxLoss).toBeGreaterThan(0.99); // Switch aux loss is ≥ 1 at the optimum … and ≈1 when balanced
  }
  model.dispose();
});

test('frozen parameters do not change; the pattern must match something', async () => {
  const model = MoEModel.init(cfg, 2);
  const before = model.p('blocks.0.attn.wqkv').dataSync().slice();
  const routerBefore = model.p('blocks.0.moe.router').dataSync().slice();
  await train(model, { steps: 3, batches, freeze: ['blocks.*.attn.*', 'embed'] });
  expect(Array.from(model.p('blocks.0.attn.wqkv').dataSync())).toEqual(Array.from(before));
  expect(Array.from(model.p('blocks.0.moe.router').dataSync())).not.toEqual(Array.from(routerBefore));
  expect(() => trainableNames(['a', 'b'], ['c*'])).toThrow("freeze pattern 'c*' matches no parameter");
  expect(() => trainableNames(['a', 'b'], ['*'])).toThrow('every parameter is frozen: nothing to train');
  model.dispose();
});

test('a run interrupted and resumed continues the same loss curve', async () => {
  const straight = MoEModel.init(cfg, 3);
  const full = await train(straight, { steps: 8, batches, lr: 5e-3, warmupSteps: 2 });
  straight.dispose();

  const runDir = path.join(tmp, 'run');
  const first = MoEModel.init(cfg, 3);
  const ac = new AbortController();
  const part = await train(first, {
    steps: 8, batches, lr: 5e-3, warmupSteps: 2, runDir, checkpointEvery: 4, saveModel: saver(first),
    onStep: (e) => { if (e.step === 5) ac.abort(); }, signal: ac.signal,
  });
  expect(part.stopped).toBe('aborted');
  first.dispose();
  // "Kernel restart": a brand-new model object with different initial weights.
  const second = MoEModel.init(cfg, 99);
  const rest = await train(second, { steps: 8, batches, lr: 5e-3, warmupSteps: 2, runDir, checkpointEvery: 4, saveModel: saver(second) });
  expect(rest.resumedFrom).toBe(4);
  expect(rest.history.map((e) => e.step)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
  for (let i = 0; i < 8; i++) expect(rest.history[i].loss).toBeCloseTo(full.history[i].loss, 4);
  await expect(train(second, { steps: 9, batches, runDir, saveModel: saver(second) })).rejects.toThrow(/this run was started with steps = 8, now 9/);
  second.dispose();
});

describe('trainSlices: a parameter that trains only in part', () => {
  // new vocabulary rows train, the old ones stay bit-identical (no step, no weight decay)
  const slices = [
    { param: 'embed', axis: 0, from: 40 },
    { param: 'lm_head', axis: 1, from: 40 },
  ];
  const rowsOf = (data: Float32Array, rows: number, cols: number, axis: number, lo: number, hi: number): number[] => {
    const out: number[] = [];
    for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) if ((axis === 0 ? r : c) >= lo && (axis === 0 ? r : c) < hi) out.push(data[r * cols + c]);
    return out;
  };

  test('rows outside the slice keep their exact values; rows inside change; no leaks', async () => {
    const model = MoEModel.init(cfg, 5);
    model.forward([batches(0).ids[0].slice(1)]);
    const V = cfg.vocabSize;
    const H = cfg.hiddenSize;
    const e0 = model.p('embed').dataSync().slice() as Float32Array;
    const h0 = model.p('lm_head').dataSync().slice() as Float32Array;
    const r0 = Array.from(model.p('blocks.0.moe.router').dataSync());
    const before = tf.memory().numTensors;
    // rows reach every id in [0, 50); weight decay on, so an unmasked decay would move frozen rows too
    await train(model, { steps: 4, batches, lr: 1e-2, weightDecay: 0.5, trainSlices: slices });
    expect(tf.memory().numTensors).toBe(before);
    const e1 = model.p('embed').dataSync() as Float32Array;
    const h1 = model.p('lm_head').dataSync() as Float32Array;
    expect(rowsOf(e1, V, H, 0, 0, 40)).toEqual(rowsOf(e0, V, H, 0, 0, 40));
    expect(rowsOf(h1, H, V, 1, 0, 40)).toEqual(rowsOf(h0, H, V, 1, 0, 40));
    const moved = (a: number[], b: number[]) => a.reduce((m, x, i) => Math.max(m, Math.abs(x - b[i])), 0);
    expect(moved(rowsOf(e1, V, H, 0, 40, 50), rowsOf(e0, V, H, 0, 40, 50))).toBeGreaterThan(1e-4);
    expect(moved(rowsOf(h1, H, V, 1, 40, V), rowsOf(h0, H, V, 1, 40, V))).toBeGreaterThan(1e-4);
    // the rest of the model trains as usual
    expect(moved(Array.from(model.p('blocks.0.moe.router').dataSync()), r0)).toBeGreaterThan(1e-4);
    model.dispose();
  });

  test('bad slices are refused, naming what is wrong, before anything trains', async () => {
    const model = MoEModel.init(cfg, 6);
    const w0 = model.p('blocks.0.moe.router').dataSync().slice();
    const run = (trainSlices: unknown, freeze?: string[]) =>
      train(model, { steps: 1, batches, trainSlices: trainSlices as { param: string; axis: number; from: number }[], freeze });
    await expect(run([{ param: 'embedding', axis: 0, from: 1 }])).rejects.toThrow("trainSlices[0]: no parameter 'embedding'");
    await expect(run([{ param: 'embed', axis: 0, from: 1 }], ['embed'])).rejects.toThrow("trainSlices[0]: parameter 'embed' is frozen; a slice of it cannot train");
    await expect(run([{ param: 'embed', axis: 2, from: 1 }])).rejects.toThrow("trainSlices[0]: axis must be an integer in [0, 2) for 'embed' of shape [64, 32], got 2");
    await expect(run([{ param: 'embed', axis: 0, from: 64 }])).rejects.toThrow("trainSlices[0]: need integers 0 <= from < to <= 64 on axis 0 of 'embed', got from 64, to 64");
    await expect(run([{ param: 'embed', axis: 0, from: 1 }, { param: 'embed', axis: 1, from: 1 }])).rejects.toThrow("trainSlices[1]: parameter 'embed' has two slices");
    expect(model.p('blocks.0.moe.router').dataSync()).toEqual(w0);
    model.dispose();
  });

  test('a resumed run must use the same slices', async () => {
    const model = MoEModel.init(cfg, 7);
    const runDir = path.join(tmp, 'slices-run');
    await train(model, { steps: 2, batches, runDir, saveModel: saver(model), trainSlices: slices });
    const m2 = MoEModel.init(cfg, 7);
    await expect(train(m2, { steps: 2, batches, runDir, saveModel: saver(m2) })).rejects.toThrow(
      `${path.join(runDir, 'trainer_state.json')}: this run was started with trainSlices = ${JSON.stringify(slices)}, now undefined; use a new runDir or the same options`,
    );
    model.dispose();
    m2.dispose();
  });
});
