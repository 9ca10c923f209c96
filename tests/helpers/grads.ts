/** Test helpers for gradient tests: bit-for-bit comparison and the matMuls a computation runs. */
import * as tf from '@tensorflow/tfjs';

/** True when a and b hold the same float32 bit patterns (so -0 ≠ 0 and NaN = NaN of the same payload). */
export function sameBits(a: Float32Array, b: Float32Array): boolean {
  if (a.length !== b.length) return false;
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}

/** A BatchMatMul kernel call: its input shapes and output shape, e.g. `6x5·5x7→6x7`. */
export type MatMulCall = string;

/**
 * The BatchMatMul kernels `f` runs (every tf.matMul, the custom-gradient ops' ones included), by shape,
 * recorded with tf.profile. `f` must dispose what it makes (its return value is discarded).
 */
export async function matMulsOf(f: () => void): Promise<MatMulCall[]> {
  const info = await tf.profile(() => {
    f();
    return [];
  });
  const dims = (s: number[] | null) => (s ?? []).join('x');
  return info.kernels.filter((k) => k.name === 'BatchMatMul').map((k) => `${k.inputShapes.map(dims).join('·')}→${dims(k.outputShapes[0])}`);
}

/** How many of `calls` produce an output of this shape. */
export function countOutputs(calls: readonly MatMulCall[], shape: readonly number[]): number {
  const want = `→${shape.join('x')}`;
  return calls.filter((c) => c.endsWith(want)).length;
}
