/**
 * The paths as they were before the LM head ran only where its output is read (kept for the `head-rows`
 * bench section, which times them beside the new ones, and for the tests that check the new paths give
 * the same losses and gradients):
 *
 *   legacyStatesModel   the model whose forwardStates is forwardTensors (the head over every row computed
 *                       and dropped; under a gradient tape, recorded too) and whose forwardHidden is forward
 *                       (all [B·T, V] logits read back to the host): MUMU's encoderStates / promptStates
 *                       called with it are the old ones
 *   legacyTrainLoss     the trainer's old loss: the head and log-softmax over every position, weightedNll
 *   legacyVokenLosses   MiniGPT-5's old losses: the same, and the voken states picked by a one-hot product
 *   legacyPrefill       MoEModel.prefill before: the head over every prompt position, the last row read;
 *                       legacyPrefillModel, the model whose prefill it is (a Generation run on it decodes as before)
 *   legacyRowsSession   a session whose model's forwardRows is forward with the rows read from every row's logits
 *                       (what Session.trace, answer ranking, the conditioning probe, MiniGPT-5's narration NLL and
 *                       Liquid's vocabulary view computed before they ran the head on the rows they read)
 *   legacyTokenScores   analysis/token-scores.ts tokenScores before: the head and log-softmax on every position of
 *                       the padded batch, padding included
 */
import * as tf from '@tensorflow/tfjs';
import type { MoEModel, TensorForwardOptions, TensorStates, HiddenForwardOptions, HiddenForwardResult, CaptureLevel, PrefillOptions, ForwardOptions, RowsForwardResult } from '../kernel-lib/model/model';
import type { Session } from '../kernel-lib/session';
import type { TokenScores, TokenScoreOptions } from '../kernel-lib/analysis/token-scores';
import type { LayerRouting } from '../kernel-lib/model/moe';
import { KvCache } from '../kernel-lib/model/kv-cache';
import { HiddenCapture } from '../kernel-lib/model/hidden';
import type { HiddenStates } from '../kernel-lib/model/hidden';
import type { PositionMeta } from '../kernel-lib/model/positions';
import { weightedNll } from '../kernel-lib/train/lm-loss';
import type { LossParts, LossWeights, VokenBatch } from '../kernel-lib/papers/minigpt5-generative-vokens/losses';
import { captionLoss, vokenDropout } from '../kernel-lib/papers/minigpt5-generative-vokens/losses';
import type { FeatureMapper } from '../kernel-lib/papers/minigpt5-generative-vokens/mapper';
import type { LatentDiffusion } from '../kernel-lib/diffusion/model';

/** `model` with forwardStates and forwardHidden as they cost before: the full forward, head included. */
export function legacyStatesModel(model: MoEModel): MoEModel {
  const legacy = Object.create(model) as MoEModel;
  Object.defineProperty(legacy, 'forwardStates', {
    value: (ids: tf.Tensor2D, o: TensorForwardOptions = {}): TensorStates => model.forwardTensors(ids, o),
  });
  Object.defineProperty(legacy, 'forwardHidden', {
    value: (ids: number[][], o: HiddenForwardOptions): HiddenForwardResult => {
      const r = model.forward(ids, o);
      if (!r.hidden) throw new Error('legacyStatesModel: forward returned no hidden states');
      return { hidden: r.hidden, routing: r.routing, aux: r.aux };
    },
  });
  return legacy;
}

/** The trainer's batch as lmTrainLoss takes it. */
export interface LmBatch {
  inputs: Int32Array;
  targets: Int32Array;
  weights: Float32Array | number[];
  modalities?: Uint8Array;
  positions?: PositionMeta;
  B: number;
  T: number;
}

/** The trainer's loss before: logits of every position, then weightedNll. */
export function legacyTrainLoss(model: MoEModel, b: LmBatch, o: { auxCoef: number; dropoutSeed?: number }): { total: tf.Scalar; lm: tf.Scalar; aux: tf.Scalar } {
  const out = model.forwardTensors(tf.tensor2d(b.inputs, [b.B, b.T], 'int32'), { capture: 'none', ...(b.positions ? { positions: b.positions } : { modalities: b.modalities }), training: true, dropoutSeed: o.dropoutSeed });
  const lm = weightedNll(out.logits, b.targets, b.weights, Array.from(b.weights).reduce((a, x) => a + x, 0), model.config.vocabSize);
  return { total: tf.add(lm, tf.mul(out.aux, o.auxCoef)) as tf.Scalar, lm, aux: out.aux };
}

/** Rows of x through a one-hot product (MiniGPT-5's selectRows before). */
export function oneHotSelectRows(x: tf.Tensor2D, rows: readonly number[]): tf.Tensor2D {
  const oh = tf.cast(tf.oneHot(tf.tensor1d(Int32Array.from(rows), 'int32'), x.shape[0]), 'float32') as tf.Tensor2D; // [r, N]
  return tf.matMul(oh, x); // [r, H]
}

/** MiniGPT-5's vokenLosses before (papers/minigpt5-generative-vokens/losses.ts, the same image losses). */
export function legacyVokenLosses(parts: { model: MoEModel; mapper: FeatureMapper | null; ldm: LatentDiffusion }, b: VokenBatch, w: LossWeights): LossParts {
  const { model, mapper, ldm } = parts;
  const { B, T, rows } = b;
  const inputs = new Int32Array(B * T);
  const targets = new Int32Array(B * T);
  rows.forEach((r, i) => {
    for (let j = 0; j < T; j++) {
      inputs[i * T + j] = r[j];
      targets[i * T + j] = r[j + 1];
    }
  });
  const out = model.forwardTensors(tf.tensor2d(inputs, [B, T], 'int32'), { capture: 'none', training: true, ...(b.positions ? { positions: b.positions } : {}) });
  const text = weightedNll(out.logits, targets, b.weights, b.weights.reduce((a, x) => a + x, 0), model.config.vocabSize);
  let total: tf.Scalar = tf.mul(text, w.text);
  const R = b.imageRows.length;
  if (R === 0 || (w.ldm === 0 && w.cap === 0) || !mapper) return { total, text, ldm: null, cap: null };
  const n = mapper.config.numVokens;
  const h = tf.reshape(oneHotSelectRows(out.states, b.vokenPositions), [R, n, model.config.hiddenSize]) as tf.Tensor3D; // [R, n, H]
  const cond = mapper.forward(vokenDropout(h, b.keep));
  let ldmLoss: tf.Scalar | null = null;
  let cap: tf.Scalar | null = null;
  if (w.ldm > 0) {
    ldmLoss = ldm.loss(b.latents, cond, { seed: b.noiseSeed });
    total = tf.add(total, tf.mul(ldmLoss, w.ldm));
  }
  if (w.cap > 0 && b.capTarget) {
    const { length: L, dim } = mapper.config;
    cap = captionLoss(cond.seq, tf.tensor3d(b.capTarget, [R, L, dim]), b.keep);
    total = tf.add(total, tf.mul(cap, w.cap));
  }
  return { total, text, ldm: ldmLoss, cap };
}

/**
 * MoEModel.prefill as it was (batch 1, a fresh cache or an empty one given): forwardTensors over the prompt —
 * the LM head on every position — and the last row of its logits; the cache filled with its keys and values
 * and, through `cache`, the adapters' decode state. Checks left out: callers give valid ids.
 */
export function legacyPrefill(model: MoEModel, ids: number[], capture: CaptureLevel = 'routing', o: Omit<PrefillOptions, 'capture'> = {}): { cache: KvCache; logits: Float32Array; routing: LayerRouting[]; hidden?: HiddenStates } {
  const { numLayers, maxPositions, vocabSize: V } = model.config;
  const cache = o.cache ?? new KvCache(numLayers, maxPositions);
  const hidden = o.hidden ? new HiddenCapture(o.hidden, numLayers, ids.length) : undefined;
  let logits!: Float32Array;
  let routing!: LayerRouting[];
  tf.tidy(() => {
    const r = model.forwardTensors(tf.tensor2d(Int32Array.from(ids), [1, ids.length], 'int32'), { capture, wantKv: true, positions: o.positions, modalities: o.modalities, hidden, cache });
    logits = tf.slice(r.logits, [ids.length - 1, 0], [1, V]).dataSync() as Float32Array;
    routing = r.routing;
    cache.fill(r.kv, ids.length);
  });
  return { cache, logits, routing, ...(hidden ? { hidden: hidden.result() } : {}) };
}

/** `model` with prefill as it was (legacyPrefill); everything else is the model's own. */
export function legacyPrefillModel(model: MoEModel): MoEModel {
  const legacy = Object.create(model) as MoEModel;
  Object.defineProperty(legacy, 'prefill', {
    value: (ids: number[], capture: CaptureLevel = 'routing', o: Uint8Array | Omit<PrefillOptions, 'capture'> = {}) =>
      legacyPrefill(model, ids, capture, o instanceof Uint8Array ? { modalities: o } : o),
  });
  return legacy;
}

/** `s` with a model whose forwardRows is the full forward, the rows copied from all [B·T, V] logits. */
export function legacyRowsSession(s: Session): Session {
  const model = Object.create(s.model) as MoEModel;
  Object.defineProperty(model, 'forwardRows', {
    value: (ids: number[][], rows: readonly number[], o: ForwardOptions = {}): RowsForwardResult => {
      const r = s.model.forward(ids, o);
      const V = r.shape[2];
      const logits = new Float32Array(rows.length * V);
      rows.forEach((row, i) => logits.set(r.logits.subarray(row * V, (row + 1) * V), i * V));
      return { logits, routing: r.routing, aux: r.aux, ...(r.hidden ? { hidden: r.hidden } : {}) };
    },
  });
  const legacy = Object.create(s) as Session;
  Object.defineProperty(legacy, 'model', { value: model });
  return legacy;
}

/** tokenScores as it was (its checks left out: callers give valid rows): the head on every position of each padded batch. */
export function legacyTokenScores(s: Session, rows: readonly (readonly number[])[], o: Omit<TokenScoreOptions, 'from'> = {}): TokenScores[] {
  const bs = o.batchSize ?? 4;
  const V = s.config.vocabSize;
  const Vt = o.vocabLimit;
  const out: TokenScores[] = [];
  for (let b0 = 0; b0 < rows.length; b0 += bs) {
    const chunk = rows.slice(b0, b0 + bs);
    const B = chunk.length;
    const T = Math.max(...chunk.map((r) => r.length)) - 1;
    const inputs = chunk.map((r) => Array.from({ length: T }, (_, t) => (t < r.length ? r[t] : s.tokenizer.pad)));
    const pick = new Int32Array(B * T);
    chunk.forEach((r, b) => {
      for (let t = 0; t + 1 < r.length; t++) pick[b * T + t] = (b * T + t) * V + r[t + 1];
    });
    let nll = new Float32Array(0);
    let top = new Int32Array(0);
    let limited: Float32Array | null = null;
    tf.tidy(() => {
      const r = s.model.forwardTensors(tf.tensor2d(inputs, [B, T], 'int32'), { capture: 'none', positions: s.positions(inputs) });
      const logits = tf.reshape(r.logits, [B * T, V]); // [B·T, V]
      const target = tf.gather(tf.reshape(logits, [-1]), tf.tensor1d(pick, 'int32')); // [B·T]
      nll = tf.sub(tf.logSumExp(logits, -1), target).dataSync() as Float32Array;
      top = tf.argMax(logits, -1).dataSync() as Int32Array;
      if (Vt !== undefined) limited = tf.sub(tf.logSumExp(tf.slice(logits, [0, 0], [B * T, Vt]), -1), target).dataSync() as Float32Array;
    });
    chunk.forEach((r, b) => {
      const n = r.length - 1;
      const correct = new Uint8Array(n);
      for (let t = 0; t < n; t++) correct[t] = top[b * T + t] === r[t + 1] ? 1 : 0;
      const l = limited as Float32Array | null;
      out.push({ nll: nll.slice(b * T, b * T + n), correct, ...(l ? { limitedNll: l.slice(b * T, b * T + n) } : {}) });
    });
  }
  return out;
}
