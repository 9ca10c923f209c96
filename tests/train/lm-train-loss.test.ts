/**
 * The trainer's loss (train/trainer.ts lmTrainLoss: the LM head and log-softmax only on targets with a weight)
 * against its old form (bench/head-legacy.ts: the head over every position, then weightedNll) on a MoSS-style
 * instruction batch of a tiny multimodal model — prompt and padding positions weighted 0, position metadata
 * for the adapters — through the training loop's gradient call: with the `lora` and `moss` arms' adapters
 * attached (dropout on, seeded) and with every model weight trained (the `full` arm). The loss, its parts and
 * every trained gradient are the same bits, and no tensor is left behind.
 */
import * as tf from '@tensorflow/tfjs';
import { moss, attachLoRA } from '../../kernel-lib';
import type { Session } from '../../kernel-lib/session';
import { localGradients } from '../../kernel-lib/train/loop';
import { lmTrainLoss, prepareBatch, trainingParams } from '../../kernel-lib/train/trainer';
import { legacyTrainLoss } from '../../bench/head-legacy';
import { mulberry32 } from '../../kernel-lib/util/random';
import { tinySession } from '../helpers/fixtures';
import { useBackend } from '../helpers/backend';
import { sameBits } from '../helpers/grads';
import { countingEncoder, tinySource } from '../papers/moss-helpers';

let s: Session;
beforeAll(async () => {
  await useBackend();
  s = await tinySession({ seed: 4 });
});
afterAll(() => s.dispose());

/** Loss parts and the gradients of `names`, on the host, through the loop's gradient function. */
function step(names: string[], loss: () => { total: tf.Scalar; lm: tf.Scalar; aux: tf.Scalar }): { parts: number[]; grads: Map<string, Float32Array> } {
  const params = trainingParams(s.model);
  let parts: number[] = [];
  let grads = new Map<string, Float32Array>();
  tf.tidy(() => {
    const g = localGradients(params, () => {
      const l = loss();
      parts = [l.total, l.lm, l.aux].map((t) => t.dataSync()[0]);
      return l.total;
    })(null, 0, names);
    grads = new Map([...g.grads].map(([n, t]) => [n, Float32Array.from(t.dataSync() as Float32Array)]));
  });
  return { parts, grads };
}

test.each([['lora'], ['moss'], ['full']] as const)('a MoSS instruction batch, arm %s: loss parts and every trained gradient bit for bit, no leak', (arm) => {
  const tok = s.tokenizer;
  const spec = moss.armAdapter(s.config, arm, { rank: 4, seed: 1, grid: tok.imageGrid });
  const adapter = spec ? attachLoRA(s, spec) : null;
  try {
    if (adapter) {
      // a new adapter's B is 0, which would zero its A's gradients: give it values
      const rand = mulberry32(5);
      for (const [n, v] of adapter.parameters()) if (n.endsWith('.B')) v.assign(tf.tidy(() => tf.randomUniform(v.shape, -0.1, 0.1, 'float32', Math.floor(rand() * 1e6))));
    }
    const batches = moss.instructionBatches(tok, new moss.CodedItems(tinySource(12), countingEncoder().encode), { batchSize: 4, seed: 0 });
    const b = prepareBatch(batches(1), { modalityOf: (id) => tok.modalityOf(id), positionsOf: (rows) => s.positions(rows) }, s.config.vocabSize);
    const zeros = b.weights.filter((w) => w === 0).length;
    expect(zeros).toBeGreaterThan(b.B * b.T / 4); // prompt and padding: most of what the head skips
    expect(zeros).toBeLessThan(b.B * b.T);
    const params = trainingParams(s.model);
    const names = adapter ? [...params.keys()].filter((n) => !s.model.params.has(n)) : [...params.keys()];
    const o = { auxCoef: s.config.routerAuxLossCoef, dropoutSeed: 11 };
    tf.tidy(() => void legacyTrainLoss(s.model, b, o)); // the first forward of a shape builds the model's kept tables
    const before = tf.memory().numTensors;
    const old = step(names, () => legacyTrainLoss(s.model, b, o));
    const neu = step(names, () => lmTrainLoss(s.model, b, o));
    expect(tf.memory().numTensors).toBe(before);
    expect(neu.parts.every(Number.isFinite)).toBe(true);
    expect(neu.parts.map((x, i) => Object.is(x, old.parts[i]))).toEqual([true, true, true]);
    expect([...neu.grads.keys()]).toEqual([...old.grads.keys()]);
    expect(neu.grads.size).toBe(names.length);
    const differing = names.filter((n) => !sameBits(neu.grads.get(n)!, old.grads.get(n)!));
    expect(differing).toEqual([]);
    if (!adapter) expect(neu.grads.get('lm_head')?.some((v) => v !== 0) ?? neu.grads.get('embed')!.some((v) => v !== 0)).toBe(true);
  } finally {
    adapter?.detach();
  }
});
