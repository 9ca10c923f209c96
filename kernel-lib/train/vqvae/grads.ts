/**
 * Gradient module for the VQ-VAE (run inside data-parallel workers, train/parallel/pool.ts): the loss of
 * loss.ts on a worker's share of a step's batches, i.e. contiguous rows of each image size's batch.
 *
 * The codebook follows an EMA on the main thread, not the gradient: it is one of the pool's parameters
 * only so that every worker quantises with the current codebook. Each worker hands back its encoder
 * outputs z and their codes through shared memory (ShareResult.outputs); the main thread joins them in
 * size-then-worker order, which is batch order, so the EMA update and dead-code restarts see exactly the
 * rows the single-thread trainer sees.
 */
import * as tf from '@tensorflow/tfjs';
import type { VQVAEConfig } from '../../image/config';
import { VQVAE } from '../../image/model';
import { splitRows } from '../parallel/split-rows';
import { concatTyped } from '../../util/concat';
import type { GradFn, OutputArray, ShareResult } from '../parallel/protocol';
import { vqLoss, VqPart, VqPartResult } from './loss';

export interface VqGradInit {
  config: VQVAEConfig;
  /** Parameters to return gradients for (the trainable ones: all but the codebook). */
  names: string[];
  commitment: number;
}

/** One worker's rows of every size (sizes in the step's order; a size it has no rows of is left out). */
export interface VqShare {
  parts: VqPart[];
}

/** Worker r's share of a step's batches: rows [from, to) of each size's batch (splitRows). */
export function vqShares(batches: ReadonlyArray<{ s: number; pixels: Uint8Array; weight: number }>, workers: number): Array<VqShare | null> {
  const shares: VqPart[][] = Array.from({ length: workers }, () => []);
  for (const { s, pixels, weight } of batches) {
    const per = s * s * 3;
    const batchRows = pixels.length / per;
    splitRows(batchRows, workers).forEach(([from, to], r) => {
      if (to > from) shares[r].push({ s, pixels: pixels.slice(from * per, to * per), rows: to - from, batchRows, weight });
    });
  }
  return shares.map((parts) => (parts.length > 0 ? { parts } : null));
}

/** A worker's outputs: z then codes of each of its parts, in its share's order. */
export function packOutputs(kept: readonly VqPartResult[]): OutputArray[] {
  return kept.flatMap((k) => [k.z, k.codes]);
}

/**
 * The step's z and codes in size-then-worker order (= batch order) from the shares and the workers'
 * outputs, plus each size's MSE and commitment summed over workers.
 */
export function joinOutputs(shares: ReadonlyArray<VqShare | null>, outputs: readonly OutputArray[][], stats: Record<string, number>, sizes: readonly number[]): VqPartResult[] {
  return sizes.map((s) => {
    const z: Float32Array[] = [];
    const codes: Int32Array[] = [];
    shares.forEach((share, r) => {
      const i = share?.parts.findIndex((p) => p.s === s) ?? -1;
      if (i < 0) return;
      z.push(outputs[r][2 * i] as Float32Array);
      codes.push(outputs[r][2 * i + 1] as Int32Array);
    });
    return { s, z: concatTyped(z, Float32Array), codes: concatTyped(codes, Int32Array), mse: stats[`mse.${s}`] ?? 0, commit: stats[`commit.${s}`] ?? 0 };
  });
}

export function createGradFn(init: VqGradInit): GradFn<VqShare> {
  const model = VQVAE.create(init.config, 0); // values are overwritten from shared memory before every step
  for (const n of init.names) if (!model.params.has(n)) throw new Error(`vqvae grads: the model has no parameter '${n}'`);
  return {
    params: model.params,
    grad(share: VqShare | null): ShareResult {
      if (!share) return { loss: 0, grads: new Map() };
      const kept: VqPartResult[] = [];
      const vars = init.names.map((n) => model.params.get(n) as tf.Variable);
      const { value, grads } = tf.engine().gradients(() => vqLoss(model, share.parts, init.commitment, kept), vars, undefined, true);
      const out = new Map<string, tf.Tensor>();
      init.names.forEach((n, i) => {
        if (grads[i]) out.set(n, grads[i]);
      });
      const stats: Record<string, number> = {};
      for (const k of kept) {
        stats[`mse.${k.s}`] = k.mse;
        stats[`commit.${k.s}`] = k.commit;
      }
      return { loss: value.dataSync()[0], grads: out, stats, outputs: packOutputs(kept) };
    },
  };
}
