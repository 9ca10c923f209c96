/**
 * Copies between host arrays and float32 tensors without the intermediate arrays of `dataSync()` and
 * `tf.tensor()`. On the wasm backend a tensor's values lie in the module's heap, so a gradient can be
 * copied straight from there into shared memory, and a variable that no other tensor shares can take new
 * values in place (no allocation, no free, no new tensor). Data-parallel training moves every parameter
 * and gradient through these each step (train/parallel); other backends take the ordinary route.
 */
import * as tf from '@tensorflow/tfjs';

/** The part of the wasm backend used here (tfjs-backend-wasm 4.x: typedArrayFromHeap, refCount). */
interface HeapBackend {
  typedArrayFromHeap(t: tf.TensorInfo): Float32Array | Int32Array | Uint8Array;
  refCount(dataId: object): number;
}

function heapBackend(): HeapBackend | null {
  if (tf.getBackend() !== 'wasm') return null;
  const b = tf.backend() as unknown as Partial<HeapBackend>;
  return typeof b.typedArrayFromHeap === 'function' && typeof b.refCount === 'function' ? (b as HeapBackend) : null;
}

/** Copies float32 tensor `t`'s values into `dst` (of length t.size). */
export function readInto(t: tf.Tensor, dst: Float32Array): void {
  if (t.dtype !== 'float32') throw new Error(`readInto: needs a float32 tensor, got ${t.dtype}`);
  if (t.size !== dst.length) throw new Error(`readInto: tensor of ${t.size} values into an array of ${dst.length}`);
  const heap = heapBackend();
  dst.set(heap ? (heap.typedArrayFromHeap(t) as Float32Array) : (t.dataSync() as Float32Array));
}

/**
 * Gives float32 variable `v` the values `src` (of length v.size): in place where the backend allows it
 * and no other tensor shares the variable's buffer, else by one `assign`.
 */
export function writeVariable(v: tf.Variable, src: Float32Array): void {
  if (v.dtype !== 'float32') throw new Error(`writeVariable: needs a float32 variable, got ${v.dtype}`);
  if (v.size !== src.length) throw new Error(`writeVariable: ${src.length} values for a variable of ${v.size}`);
  const heap = heapBackend();
  if (heap && heap.refCount(v.dataId) === 1) {
    (heap.typedArrayFromHeap(v) as Float32Array).set(src);
    return;
  }
  tf.tidy(() => v.assign(tf.tensor(src, v.shape, 'float32')));
}
