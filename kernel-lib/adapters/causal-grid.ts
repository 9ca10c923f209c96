/**
 * The causal k×k convolution over an image's code grid that ConvLoRA (MoSS, Eq. 4) and SAM-ConvLoRA
 * use, built as shifted copies + one matMul (im2col), so every op has a gradient on wasm (which has no
 * conv2d filter gradient).
 *
 * Which cell a position sits on: the grid is the grid of positions that OUTPUT image codes. The
 * position that outputs the code at cell (i, j) (row-major index k = i·W + j) sits on cell (i, j); its
 * token, and so its projection input, is the token before that code: `<boi>` for k = 0, the code at
 * index k − 1 otherwise. Positions that output text or `<eoi>` sit on no cell.
 *
 * Causal padding: the convolution at cell (i, j) reads cells (i − dy, j − dx) for dy, dx ∈ [0, k),
 * zero where i − dy < 0 or j − dx < 0 (zero padding top and left only, none bottom or right), so a
 * 2×2 kernel sees the cell itself and its top, left and top-left neighbours. Those cells are outputs
 * of earlier positions (dy·W + dx positions back in the sequence, inside the same image), so a
 * position never reads anything generated after it. Kernel tap (kh, kw) — PyTorch Conv2d's weight
 * index — reads the cell at dy = k−1−kh, dx = k−1−kw, as a PyTorch Conv2d (stride 1, no padding) does
 * on the grid padded with k−1 zero rows on top and k−1 zero columns on the left
 * (`F.pad(x, (k−1, 0, k−1, 0))`). im2col columns are tap-major: column (kh·k + kw)·d + c.
 */
import * as tf from '@tensorflow/tfjs';
import { MODALITY_CODES, OUTPUT_UNKNOWN, PositionMeta } from '../model/positions';
import type { AdapterDecodeState } from '../model/adapter-seam';

/** The output cell of every row: k = i·W + j for rows that output an image code, −1 otherwise. */
export function outputCells(positions: PositionMeta | undefined, N: number, W: number, who: string): Int32Array {
  if (!positions) {
    throw new Error(`${who} needs each position's metadata (positionMeta): pass positions to forward/prefill/step, or go through Session.trace/generate/train, which pass them`);
  }
  const out = new Int32Array(N).fill(-1);
  for (let p = 0; p < N; p++) {
    const o = positions.outputModality[p];
    if (o === OUTPUT_UNKNOWN) throw new Error(`${who} needs what each position outputs; modality codes alone do not say it: pass positions (positionMeta) instead of modalities`);
    if (o !== MODALITY_CODES.image) continue;
    // the position holds <boi> (row −1: outputs cell 0) or the code at (row, col) (outputs the next cell)
    out[p] = positions.row[p] < 0 ? 0 : positions.row[p] * W + positions.col[p] + 1;
  }
  return out;
}

/** Rows of history a causal k×k convolution needs for a grid W wide: k−1 rows and k−1 cells back. */
export function historyRows(k: number, W: number): number {
  return (k - 1) * W + (k - 1);
}

/**
 * im2col of features f [T, d] of ONE sequence: [T, k·k·d], row t holding the k×k causal neighbourhood
 * of row t's cell (zeros for rows on no cell and for taps off the grid). `hist` [historyRows, d] are
 * the features of the rows just before f (from the decode state); null means the sequence starts here.
 */
export function causalIm2col(f: tf.Tensor2D, hist: tf.Tensor2D | null, cells: Int32Array, W: number, k: number): tf.Tensor2D {
  const [T, d] = f.shape;
  const K = historyRows(k, W);
  const ext: tf.Tensor2D = K === 0 ? f : tf.concat([hist ?? tf.zeros([K, d]), f], 0); // [K + T, d]
  const cols: tf.Tensor2D[] = [];
  for (let kh = 0; kh < k; kh++) {
    for (let kw = 0; kw < k; kw++) {
      const dy = k - 1 - kh;
      const dx = k - 1 - kw;
      const s = dy * W + dx; // positions back in the sequence
      const m = new Float32Array(T);
      let all = true;
      let any = false;
      for (let t = 0; t < T; t++) {
        const c = cells[t];
        const ok = c >= 0 && Math.floor(c / W) - dy >= 0 && (c % W) - dx >= 0;
        m[t] = ok ? 1 : 0;
        all &&= ok;
        any ||= ok;
      }
      if (!any) {
        cols.push(tf.zeros([T, d]));
        continue;
      }
      const shifted = tf.slice(ext, [K - s, 0], [T, d]); // row t ← row t − s
      cols.push(all ? shifted : tf.mul(shifted, tf.tensor2d(m, [T, 1])));
    }
  }
  return cols.length === 1 ? cols[0] : tf.concat(cols, 1);
}

/** Per-sequence decode state: the last historyRows feature rows of each (layer, projection, stream). */
export class GridHistory implements AdapterDecodeState {
  readonly rows = new Map<string, tf.Tensor2D>();
  clone(): GridHistory {
    const c = new GridHistory();
    for (const [key, t] of this.rows) c.rows.set(key, tf.keep(tf.clone(t)));
    return c;
  }
  dispose(): void {
    for (const t of this.rows.values()) t.dispose();
    this.rows.clear();
  }
}

/**
 * Causal im2col of features f [B·T, d] for every sequence of a call, reading and updating each
 * sequence's history under `key` when decoding (states given). Returns [B·T, k·k·d].
 */
export function causalIm2colCall(
  f: tf.Tensor2D, cells: Int32Array, W: number, k: number, B: number, T: number,
  states: readonly AdapterDecodeState[] | undefined, key: string,
): tf.Tensor2D {
  const d = f.shape[1];
  const K = historyRows(k, W);
  const parts: tf.Tensor2D[] = [];
  for (let b = 0; b < B; b++) {
    const fb = B === 1 ? f : tf.slice(f, [b * T, 0], [T, d]);
    const st = states?.[b] as GridHistory | undefined;
    const hist = st?.rows.get(key) ?? null;
    parts.push(causalIm2col(fb, hist, cells.subarray(b * T, (b + 1) * T), W, k));
    if (st && K > 0) {
      const ext = tf.concat([hist ?? (tf.zeros([K, d]) as tf.Tensor2D), fb], 0);
      st.rows.set(key, tf.keep(tf.slice(ext, [ext.shape[0] - K, 0], [K, d])));
      hist?.dispose(); // now used; the new history replaces it
    }
  }
  return parts.length === 1 ? parts[0] : tf.concat(parts, 0);
}
