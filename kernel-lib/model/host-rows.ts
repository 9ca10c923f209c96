/**
 * Row gather, row scatter-add and transposes on host Float32Arrays, for the grouped expert path
 * (`experts.ts`). On wasm these data movements are far cheaper in JavaScript than as kernels (measured on
 * this project's 2-core machine): `tf.gather` of 4,096 rows of width 128 ~60 ms against ~9 ms read,
 * copied and uploaded; SplitV along rows ~40 ms per call for a [4096, 128] tensor; gather's gradient
 * (UnsortedSegmentSum) has no wasm kernel at all; 2-D transposes of tall matrices are 20–40× slower than
 * the same permutation in 3-D form.
 */

/** rows idx[0], idx[1], … of src [R, width] → [idx.length, width]. */
export function gatherHost(src: Float32Array, width: number, idx: Int32Array): Float32Array {
  const out = new Float32Array(idx.length * width);
  for (let r = 0; r < idx.length; r++) out.set(src.subarray(idx[r] * width, (idx[r] + 1) * width), r * width);
  return out;
}

/** dst[idx[r]] += src[r] for src [idx.length, width], dst [R, width]. */
export function scatterAddHost(src: Float32Array, width: number, idx: Int32Array, dst: Float32Array): void {
  for (let r = 0; r < idx.length; r++) {
    const o = idx[r] * width;
    const s = r * width;
    for (let c = 0; c < width; c++) dst[o + c] += src[s + c];
  }
}

/** Rows idx of src [R, width], transposed: [width, idx.length]. */
export function gatherTransposedHost(src: Float32Array, width: number, idx: Int32Array): Float32Array {
  const n = idx.length;
  const out = new Float32Array(width * n);
  for (let r = 0; r < n; r++) {
    const s = idx[r] * width;
    for (let c = 0; c < width; c++) out[c * n + r] = src[s + c];
  }
  return out;
}

/**
 * Columns [from, from + count) of src [rows, stride], as a [rows, count] matrix (transposed: [count, rows]).
 * `stride` is src's row length.
 */
export function columnsHost(src: Float32Array, rows: number, stride: number, from: number, count: number, transposed = false): Float32Array {
  const out = new Float32Array(rows * count);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < count; c++) {
      const v = src[r * stride + from + c];
      if (transposed) out[c * rows + r] = v;
      else out[r * count + c] = v;
    }
  }
  return out;
}
