/**
 * Copies between host arrays and float32 tensors for data-parallel training, which moves every parameter
 * and gradient through them each step (train/parallel). On the wasm backend a tensor's values lie in the
 * module's heap, so a gradient is copied straight from there into shared memory, without the
 * intermediate array of `dataSync()`; other backends take the ordinary route.
 */
import * as tf from '@tensorflow/tfjs';

/** The part of the wasm backend used here (tfjs-backend-wasm 4.x). */
interface HeapBackend {
  typedArrayFromHeap(t: tf.TensorInfo): Float32Array | Int32Array | Uint8Array;
}

function heapBackend(): HeapBackend | null {
  if (tf.getBackend() !== 'wasm') return null;
  const b = tf.backend() as unknown as Partial<HeapBackend>;
  return typeof b.typedArrayFromHeap === 'function' ? (b as HeapBackend) : null;
}

/** Copies float32 tensor `t`'s values into `dst` (of length t.size). */
export function readInto(t: tf.Tensor, dst: Float32Array): void {
  if (t.dtype !== 'float32') throw new Error(`readInto: needs a float32 tensor, got ${t.dtype}`);
  if (t.size !== dst.length) throw new Error(`readInto: tensor of ${t.size} values into an array of ${dst.length}`);
  const heap = heapBackend();
  dst.set(heap ? (heap.typedArrayFromHeap(t) as Float32Array) : (t.dataSync() as Float32Array));
}

/**
 * Gives float32 variable `v` the values `src` (of length v.size) by one `assign` of a new tensor. Not in
 * place, although the wasm heap would allow it: the wasm backend caches XNNPACK operators with their
 * weights packed (a matMul's second operand, a convolution's filter), keyed by the weight tensor's id and
 * dropped when that tensor is disposed, so those ops would go on using the old values (a 2-worker training run drifted from the 1-thread run by 5e-4 after
 * one update until this was an `assign`). A new tensor per update gets a new id.
 */
export function writeVariable(v: tf.Variable, src: Float32Array): void {
  if (v.dtype !== 'float32') throw new Error(`writeVariable: needs a float32 variable, got ${v.dtype}`);
  if (v.size !== src.length) throw new Error(`writeVariable: ${src.length} values for a variable of ${v.size}`);
  tf.tidy(() => v.assign(tf.tensor(src, v.shape, 'float32')));
}
