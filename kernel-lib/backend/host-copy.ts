/**
 * Copies between host arrays and float32 tensors for data-parallel training, which moves every parameter
 * and gradient through them each step (train/parallel). On the wasm backend a tensor's values lie in the
 * module's heap, so a gradient is copied straight from there into shared memory, without the
 * intermediate array of `dataSync()`; other backends take the ordinary route.
 *
 * `heapCopies` cuts and pastes between float32 tensors inside that heap (model/linear.ts's per-batch
 * products): `dataSync()` allocates a fresh array per call, and at attention's training shapes those
 * arrays (and the garbage collection they cause) cost more than the products.
 */
import * as tf from '@tensorflow/tfjs';

/** The part of the wasm backend used here (tfjs-backend-wasm 4.x). */
interface HeapBackend {
  typedArrayFromHeap(t: tf.TensorInfo): Float32Array | Int32Array | Uint8Array;
}

/** What heapCopies adds: the backend's allocation of a kernel output, and the engine's wrapping of one as a tensor. */
interface OutputBackend extends HeapBackend {
  makeOutput(shape: number[], dtype: 'float32'): tf.TensorInfo;
}
interface TensorInfoEngine {
  makeTensorFromTensorInfo(info: tf.TensorInfo): tf.Tensor;
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

/** Float32 tensors cut and pasted inside the wasm heap (heapCopies). */
export interface HeapCopies {
  /**
   * A new float32 tensor of `shape` whose values are NOT set: write every one of them with `copy` before any
   * op reads it, and never after (the wasm backend caches XNNPACK operators with a matMul's second operand
   * packed, keyed by the tensor's id: see writeVariable).
   */
  empty(shape: number[]): tf.Tensor;
  /** dst's values [dstFrom, dstFrom + count) ← src's [srcFrom, srcFrom + count) (float32 tensors; one memmove). */
  copy(src: tf.Tensor, srcFrom: number, dst: tf.Tensor, dstFrom: number, count: number): void;
  /**
   * A float32 tensor's values where they lie in the heap: read any tensor's; write only an `empty` one's, before
   * any op reads it. Valid until the next allocation (making any tensor may grow the heap and replace it): take
   * views after making the tensors they are used with.
   */
  view(t: tf.Tensor): Float32Array;
}

/** Whether heapCopies offers the heap (true by default; bench/adapter-legacy.ts turns it off to time the host route it replaced). */
export const heapRoute = { enabled: true };

/**
 * On the wasm backend (4.x), copies between tensors' regions of the module's heap, with no host array in
 * between: the uninitialised output of a kernel (the backend's makeOutput, wrapped as a tensor by the
 * engine, as a kernel's output is) and memmoves within the heap (re-read on every copy: an allocation may
 * grow and replace it). Null on other backends (and when heapRoute is off).
 */
export function heapCopies(): HeapCopies | null {
  if (!heapRoute.enabled) return null;
  const b = heapBackend() as (HeapBackend & Partial<OutputBackend>) | null;
  const e = tf.engine() as unknown as Partial<TensorInfoEngine>;
  if (!b || typeof b.makeOutput !== 'function' || typeof e.makeTensorFromTensorInfo !== 'function') return null;
  const out = b as OutputBackend;
  const eng = e as TensorInfoEngine;
  const region = (t: tf.Tensor, from: number, count: number, who: string): Float32Array => {
    if (t.dtype !== 'float32') throw new Error(`heapCopies: ${who} must be float32, got ${t.dtype}`);
    if (!Number.isInteger(from) || from < 0 || from + count > t.size) throw new Error(`heapCopies: ${who} [${from}, ${from + count}) is outside its ${t.size} values`);
    return out.typedArrayFromHeap(t) as Float32Array; // a view of t's values in the heap as it is now
  };
  return {
    empty: (shape) => eng.makeTensorFromTensorInfo(out.makeOutput(shape, 'float32')),
    view: (t) => region(t, 0, t.size, 'the tensor'),
    copy: (src, srcFrom, dst, dstFrom, count) => {
      const s = region(src, srcFrom, count, 'the source');
      const d = region(dst, dstFrom, count, 'the destination');
      const heap = new Float32Array(s.buffer); // the whole heap: copyWithin is a memmove inside it
      const s0 = s.byteOffset / 4 + srcFrom;
      heap.copyWithin(d.byteOffset / 4 + dstFrom, s0, s0 + count);
    },
  };
}
