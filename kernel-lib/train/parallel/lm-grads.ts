/**
 * Gradient module for the MoE language model (run inside data-parallel workers, see pool.ts): the
 * trainer's loss — weighted next-token cross-entropy + coef · the Switch load-balancing loss — for a share
 * of the batch's rows, scaled so the workers' losses and gradients add up to the whole batch's.
 *
 * The cross-entropy is a weighted mean, so each share divides by the batch's total weight. The
 * load-balancing loss E·Σ_e f_e·P_e multiplies two means over ALL the batch's tokens (f_e: fraction routed
 * to e, no gradient; P_e: mean router probability): a share's own f_e would give a different loss, so the
 * workers all-reduce their expert counts in the middle of the forward pass and each uses the batch's f_e
 * with its own tokens' probabilities summed over the batch's token count.
 */
import * as tf from '@tensorflow/tfjs';
import { MoEModel } from '../../model/model';
import type { MoEConfig } from '../../model/config';
import { HookContext } from '../../model/hooks';
import { statesNll } from '../lm-loss';
import type { Collective } from './collective';
import type { GradFn, ShareResult } from './protocol';

export { splitRows } from './split-rows';

export interface LmGradInit {
  config: MoEConfig;
  /** Parameters to return gradients for (model parameter names). */
  names: string[];
  auxCoef: number;
}

/** One worker's rows of a prepared batch (row-major [B, T] arrays, as the trainer prepares them). */
export interface LmShare {
  inputs: Int32Array;
  targets: Int32Array;
  /** Per-target loss weights [B·T]. */
  weights: Float32Array;
  modalities?: Uint8Array;
  B: number;
  T: number;
  /** Σ weights over the whole batch. */
  weightTotal: number;
  /** B·T of the whole batch. */
  tokenTotal: number;
}

/** Rows [from, to) of a prepared batch as a share. */
export function lmShare(b: { inputs: Int32Array; targets: Int32Array; weights: ArrayLike<number>; modalities?: Uint8Array; B: number; T: number }, from: number, to: number): LmShare | null {
  if (to <= from) return null;
  const T = b.T;
  let weightTotal = 0;
  for (let i = 0; i < b.B * T; i++) weightTotal += b.weights[i];
  return {
    inputs: b.inputs.slice(from * T, to * T),
    targets: b.targets.slice(from * T, to * T),
    weights: Float32Array.from(Array.prototype.slice.call(b.weights, from * T, to * T) as number[]),
    modalities: b.modalities?.slice(from * T, to * T),
    B: to - from,
    T,
    weightTotal,
    tokenTotal: b.B * T,
  };
}

export function createGradFn(init: LmGradInit): GradFn<LmShare> {
  const c = init.config;
  const model = MoEModel.init(c, 0); // values are overwritten from shared memory before every step
  const params = model.params;
  for (const n of init.names) if (!params.has(n)) throw new Error(`lm-grads: the model has no parameter '${n}'`);
  const L = c.numLayers;
  const E = c.numExperts;
  return {
    params,
    grad(share: LmShare | null, collective: Collective): ShareResult {
      if (!share) {
        collective.allReduceSum(new Float64Array(L * E)); // join the all-reduce the others are in
        return { loss: 0, grads: new Map(), stats: { lmLoss: 0, auxLoss: 0 } };
      }
      const { B, T } = share;
      let lmLoss = 0;
      let auxLoss = 0;
      const vars = init.names.map((n) => params.get(n) as tf.Variable);
      const { value, grads } = tf.engine().gradients(() => {
        const probs: tf.Tensor2D[] = [];
        const hooks = new HookContext(new Map(Array.from({ length: L }, (_, l) => [`blocks.${l}.moe.probs`, (t: tf.Tensor) => void probs.push(t as tf.Tensor2D)])));
        const r = model.forwardStates(tf.tensor2d(share.inputs, [B, T], 'int32'), { hooks, capture: 'routing', modalities: share.modalities, training: true });
        const lm = statesNll(r.states, (x) => model.head(x, true), share.targets, share.weights, share.weightTotal, c.vocabSize); // the head on weighted rows only
        // The batch's expert counts per layer, then this share's part of E·Σ_e f_e·P_e averaged over layers.
        const local = new Float64Array(L * E);
        r.routing.forEach((lr, l) => {
          for (const e of lr.experts) local[l * E + e]++;
        });
        const counts = collective.allReduceSum(local);
        const f = new Float32Array(L * E);
        for (let i = 0; i < L * E; i++) f[i] = counts[i] / share.tokenTotal;
        const pSum = tf.stack(probs.map((p) => tf.sum(p, 0))); // [L, E] this share's Σ_n probs
        const aux = tf.div(tf.sum(tf.mul(pSum, tf.tensor2d(f, [L, E]))), (share.tokenTotal * L) / E) as tf.Scalar;
        lmLoss = lm.dataSync()[0];
        auxLoss = aux.dataSync()[0];
        return tf.add(lm, tf.mul(aux, init.auxCoef)) as tf.Scalar;
      }, vars, undefined, true);
      const out = new Map<string, tf.Tensor>();
      init.names.forEach((n, i) => {
        if (grads[i]) out.set(n, grads[i]);
      });
      return { loss: value.dataSync()[0], grads: out, stats: { lmLoss, auxLoss } };
    },
  };
}
