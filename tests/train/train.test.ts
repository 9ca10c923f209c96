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
