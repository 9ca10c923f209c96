/**
 * The pool's shared memory: one shared WebAssembly.Memory that every thread maps, so the update kernel
 * (update-kernel.ts) can run over it in each worker, holding in the flat layout (protocol.ts flatLayout)
 *
 *   params  the parameters' current values (the real ones between update steps)
 *   m, v    AdamW's moments
 *   mask    0/1 slice masks of the parameters that train only in part
 *   grads   each worker's gradients, one region per worker, evenly spaced (the kernel steps over them)
 *
 * Regions start on 64-byte boundaries. A plain object of numbers plus the memory: it travels to the
 * workers in their workerData, and each thread makes its own views.
 */

export interface SharedRegions {
  memory: WebAssembly.Memory;
  /** Floats per region (the flat layout's total). */
  total: number;
  /** Byte offsets of params, m, v, mask and worker 0's grads; worker r's grads at grads + r·gradStride. */
  params: number;
  m: number;
  v: number;
  mask: number;
  grads: number;
  gradStride: number;
  workers: number;
}

const PAGE = 65536;
const ALIGN = 64;

/** Allocates the memory for `total` floats per region and `workers` gradient regions (all zero). */
export function sharedRegions(total: number, workers: number): SharedRegions {
  const region = Math.ceil((total * 4) / ALIGN) * ALIGN;
  const bytes = region * (4 + workers);
  const pages = Math.max(1, Math.ceil(bytes / PAGE));
  if (pages > 65536) throw new Error(`data-parallel pool: ${bytes} bytes of shared memory exceed WebAssembly's 4 GiB`);
  const memory = new WebAssembly.Memory({ initial: pages, maximum: pages, shared: true });
  return { memory, total, params: 0, m: region, v: 2 * region, mask: 3 * region, grads: 4 * region, gradStride: region, workers };
}

/** This thread's views of the regions. */
export function regionViews(r: SharedRegions): { params: Float32Array; m: Float32Array; v: Float32Array; mask: Float32Array; grads: Float32Array[] } {
  const buf = r.memory.buffer;
  const at = (offset: number) => new Float32Array(buf, offset, r.total);
  return { params: at(r.params), m: at(r.m), v: at(r.v), mask: at(r.mask), grads: Array.from({ length: r.workers }, (_, w) => at(r.grads + w * r.gradStride)) };
}
