/**
 * The VQ-VAE training loss, shared by the single-thread trainer and the data-parallel workers
 * (grads.ts): for each image size, w_size · (MSE(x̂, x) + β · MSE(z, sg(e))).
 *
 * A part is some rows of one size's batch. Its MSEs are means over its own rows times rows / batchRows,
 * so the parts of a batch add up to the batch's means (and the workers' gradients to the batch's
 * gradient); a whole batch (rows = batchRows) is scaled by nothing, so the single-thread loss is the same
 * bits it was before the loss moved here.
 */
import * as tf from '@tensorflow/tfjs';
import { toModelRange, VQVAE } from '../../image/model';

export interface VqPart {
  /** Image side. */
  s: number;
  /** Bytes [rows, s, s, 3]. */
  pixels: Uint8Array;
  rows: number;
  /** Rows of this size in the whole batch. */
  batchRows: number;
  /** Loss weight of this size. */
  weight: number;
}

/** What a part's forward leaves on the host for the EMA codebook update and the loss curve. */
export interface VqPartResult {
  s: number;
  /** Encoder outputs [rows·g·g·D] and their codes [rows·g·g], rows in batch order. */
  z: Float32Array;
  codes: Int32Array;
  /** This part's share of the batch's reconstruction MSE and commitment MSE (in [−1, 1] units). */
  mse: number;
  commit: number;
}

/** The summed loss of `parts` (under the caller's tape and tidy); `kept` gets each part's host results. */
export function vqLoss(model: VQVAE, parts: readonly VqPart[], commitment: number, kept: VqPartResult[]): tf.Scalar {
  let total: tf.Scalar = tf.scalar(0);
  for (const { s, pixels, rows, batchRows, weight } of parts) {
    const x = toModelRange(pixels, [rows, s, s, 3]); // [B, S, S, 3]
    const out = model.forward(x);
    let mse = tf.mean(tf.square(tf.sub(out.recon, x))) as tf.Scalar;
    let commit = tf.mean(tf.square(tf.sub(out.z, out.e))) as tf.Scalar; // e carries no gradient
    if (rows !== batchRows) {
      mse = tf.mul(mse, rows / batchRows);
      commit = tf.mul(commit, rows / batchRows);
    }
    total = tf.add(total, tf.mul(tf.add(mse, tf.mul(commit, commitment)), weight));
    kept.push({ s, z: out.z.dataSync() as Float32Array, codes: out.codes.dataSync() as Int32Array, mse: mse.dataSync()[0], commit: commit.dataSync()[0] });
  }
  return total;
}
