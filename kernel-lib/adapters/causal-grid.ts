/**
 * The causal k×k convolution over an image's code grid that ConvLoRA (MoSS, Eq. 4) and SAM-ConvLoRA use,
 * built as an im2col (the features of each position's causal neighbourhood side by side) + one matMul, so
 * every op has a gradient on wasm (which has no conv2d filter gradient).
 *
 * Which cell a position sits on: the grid is the grid of positions that OUTPUT image codes. The
 * position that outputs the code at cell (i, j) (row-major index k = i·W + j) sits on cell (i, j); its
 * token, and so its projection input, is the token before that code: `<boi>` for k = 0, the code at
 * index k − 1 otherwise. Positions that output text or `<eoi>` sit on no cell.
 *
 * Causal padding: the convolution at cell (i, j) reads cells (i − dy, j − dx) for dy, dx ∈ [0, k),
 * zero where i − dy < 0 or j − dx < 0 (zero padding top and left only, none bottom or right), so a
 * 2×2 kernel sees the cell itself and its top, left and top-left neighbours. Those cells are outputs
 * of earlier positions, s = dy·W + dx positions back in the same sequence: an image's cells are output by
 * consecutive positions (<boi> outputs cell 0, the code of cell m − 1 outputs cell m), so cell
 * (i − dy, j − dx) = k − s is output s positions before k. A position never reads anything generated after
 * it. Kernel tap (kh, kw) — PyTorch Conv2d's weight index — reads the cell at dy = k−1−kh, dx = k−1−kw, as
 * a PyTorch Conv2d (stride 1, no padding) does on the grid padded with k−1 zero rows on top and k−1 zero
 * columns on the left (`F.pad(x, (k−1, 0, k−1, 0))`). im2col columns are tap-major: column (kh·k + kw)·d + c.
 *
 * The convolution is one op over every row of a call (causalConv; README, "MoSS training step"): the
 * im2col built with TF.js ops per sequence (shifted slices, masks, concats of d-wide features, then a concat
 * of the sequences, and their gradients: SplitV, pads, adds) cost more than the rest of a ConvLoRA step's
 * adapter work, on wasm where each of those ops copies [T, d] and column blocks are slow to cut. Row t of a
 * sequence reads that sequence's row t − s (never a row of the sequence before it: rows before a sequence's
 * first come from its decode history, or are zero), the rows the per-sequence im2col read.
 */
import * as tf from '@tensorflow/tfjs';
import { MODALITY_CODES, OUTPUT_UNKNOWN, PositionMeta } from '../model/positions';
import type { AdapterDecodeState } from '../model/adapter-seam';
import { lazyCustomGrad } from '../util/lazy-grad';
import { transpose2d } from '../util/transpose';
import { heapCopies } from '../backend/host-copy';

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

/** One tap of a causal k×k kernel: how far up (dy) and left (dx) it reads, s = dy·W + dx positions back. */
export interface CausalTap {
  dy: number;
  dx: number;
  s: number;
}

/** The k² taps of a causal k×k kernel in PyTorch's weight order (tap kh·k + kw). */
export function causalTaps(k: number, W: number): CausalTap[] {
  const taps: CausalTap[] = [];
  for (let kh = 0; kh < k; kh++) {
    for (let kw = 0; kw < k; kw++) {
      const dy = k - 1 - kh;
      const dx = k - 1 - kw;
      taps.push({ dy, dx, s: dy * W + dx });
    }
  }
  return taps;
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

/** What causalConv needs to know about a call besides its operands. */
export interface ConvPlan {
  /** Each row's output cell (outputCells): −1 for rows on no cell. */
  cells: Int32Array;
  /** The grid's width. */
  W: number;
  /** The kernel size. */
  k: number;
  /** Sequences and rows per sequence: row b·seqLen + t is row t of sequence b. */
  batch: number;
  seqLen: number;
  /** Decode states (one per sequence) while decoding: their history under `key` is read and replaced. */
  states?: readonly AdapterDecodeState[];
  key: string;
}

/**
 * Where each row's k×k causal neighbourhood is, as (destination row, tap, source row) triples: source ≥ 0 a
 * row of this call (the same sequence, s = dy·W + dx rows back), source < 0 the history row K + source of
 * sequence ⌊row / seqLen⌋. Rows on no cell and taps off the grid (or before a sequence with no history)
 * have none.
 */
function neighbourhood(plan: ConvPlan, hasHistory: (b: number) => boolean): Int32Array {
  const { cells, W, k, batch: B, seqLen: T } = plan;
  const taps = causalTaps(k, W);
  const K = historyRows(k, W);
  const out: number[] = [];
  for (let b = 0; b < B; b++) {
    const hist = K > 0 && hasHistory(b);
    for (let t = 0; t < T; t++) {
      const row = b * T + t;
      const cell = cells[row];
      if (cell < 0) continue;
      const i = Math.floor(cell / W);
      const j = cell % W;
      taps.forEach((tap, tau) => {
        if (i < tap.dy || j < tap.dx) return; // off the grid: the causal zero padding
        const u = t - tap.s; // the neighbour's row in this sequence
        if (u >= 0) out.push(row, tau, b * T + u);
        else if (hist && K + u >= 0) out.push(row, tau, u); // from the history
      });
    }
  }
  return Int32Array.from(out);
}

/**
 * The causal k×k convolution of features f [N, d] with weight w [k²·d, m] (im2col layout: row tap·d + c) for
 * every sequence of a call: im2col(f) · w → [N, m], zero on rows on no cell. The im2col (each row's
 * neighbourhood side by side, tap-major, zeros for taps off the grid) is built in one pass over the rows,
 * the neighbourhood of a sequence's first rows read from its decode history under `key` (the last
 * historyRows feature rows before the call, replaced by the new last ones), or zero; it is the per-sequence
 * im2col of before, and the product the same matMul, so the values are its bits. The gradient never builds
 * the im2col's gradient [N, k²·d]: with D [N, k²·m] holding each row's output gradient at the rows it read
 * (D[u, tap·m + a] = dy[u + s_tap, a]), dw = fᵀ·D (rearranged; the sum over rows in the same order as
 * im2colᵀ·dy, so the same bits) and df = D · w rearranged [k²·m, d]. The history is read as a constant (no
 * training forward keeps decode states). On wasm the im2col is written straight into the heap
 * (backend/host-copy.ts) rather than through host arrays.
 */
export function causalConv(f: tf.Tensor2D, w: tf.Tensor2D, plan: ConvPlan): tf.Tensor2D {
  const { k, W, batch: B, seqLen: T } = plan;
  const [N, d] = f.shape;
  const taps = k * k;
  const m = w.shape[1];
  if (N !== B * T || plan.cells.length !== N) throw new Error(`causalConv: ${N} feature rows and ${plan.cells.length} cells for ${B}×${T} rows`);
  if (w.shape[0] !== taps * d) throw new Error(`causalConv: weight [${w.shape}] for ${k}×${k} taps of ${d} features (expected [${taps * d}, m])`);
  const K = historyRows(k, W);
  const history = (b: number): tf.Tensor2D | undefined => (K > 0 ? (plan.states?.[b] as GridHistory | undefined)?.rows.get(plan.key) : undefined);
  const hood = neighbourhood(plan, (b) => history(b) !== undefined);
  const histData = Array.from({ length: B }, (_, b) => {
    const h = history(b);
    return h ? (h.dataSync() as Float32Array) : null; // [K, d]
  });
  if (plan.states && K > 0) {
    // the new history of each sequence: the last K rows of [history (or zeros); this call's features]
    const x = f.dataSync() as Float32Array;
    for (let b = 0; b < B; b++) {
      const st = plan.states[b] as GridHistory;
      const h = new Float32Array(K * d);
      for (let r = 0; r < K; r++) {
        const e = T + r; // index in the K + T rows
        if (e >= K) h.set(x.subarray((b * T + e - K) * d, (b * T + e - K + 1) * d), r * d);
        else if (histData[b]) h.set((histData[b] as Float32Array).subarray(e * d, (e + 1) * d), r * d);
      }
      history(b)?.dispose(); // read above; the new history replaces it
      st.rows.set(plan.key, tf.keep(tf.tensor2d(h, [K, d])));
    }
  }
  const fill = (cols: Float32Array, x: Float32Array): void => {
    cols.fill(0);
    for (let n = 0; n < hood.length; n += 3) {
      const [row, tau, src] = [hood[n], hood[n + 1], hood[n + 2]];
      const to = row * taps * d + tau * d;
      if (src >= 0) cols.set(x.subarray(src * d, (src + 1) * d), to);
      else cols.set((histData[Math.floor(row / T)] as Float32Array).subarray((K + src) * d, (K + src + 1) * d), to);
    }
  };
  const op = lazyCustomGrad<[tf.Tensor2D, tf.Tensor2D], tf.Tensor2D>(([f2, w2], save) => {
    save([f2, w2]);
    const heap = heapCopies();
    let cols: tf.Tensor2D;
    if (heap) {
      cols = heap.empty([N, taps * d]) as tf.Tensor2D; // written whole below, before the matMul reads it
      fill(heap.view(cols), heap.view(f2));
    } else {
      const host = new Float32Array(N * taps * d);
      fill(host, f2.dataSync() as Float32Array);
      cols = tf.tensor2d(host, [N, taps * d]);
    }
    const value: tf.Tensor2D = tf.matMul(cols, w2); // [N, m]
    cols.dispose();
    let spread: Float32Array | null = null; // D, shared by the two gradients (each runs in its own tidy)
    const spreadOf = (dy: tf.Tensor2D): tf.Tensor2D => {
      if (!spread) {
        const g = dy.dataSync() as Float32Array; // [N, m]
        spread = new Float32Array(N * taps * m);
        for (let n = 0; n < hood.length; n += 3) {
          const src = hood[n + 2];
          if (src >= 0) spread.set(g.subarray(hood[n] * m, (hood[n] + 1) * m), src * taps * m + hood[n + 1] * m); // one copy per (row, tap): each lands alone
        }
      }
      return tf.tensor2d(spread, [N, taps * m]);
    };
    return {
      value,
      gradFunc: (dy, saved) => {
        const [fs, ws] = saved as tf.Tensor2D[];
        return [
          () => tf.matMul(spreadOf(dy), tf.reshape(tf.transpose(tf.reshape(ws, [taps, d, m]), [0, 2, 1]), [taps * m, d]) as tf.Tensor2D), // df [N, d]
          () => tf.reshape(tf.transpose(tf.reshape(tf.matMul(transpose2d(fs), spreadOf(dy)), [d, taps, m]), [1, 0, 2]), [taps * d, m]), // dw [k²·d, m]
        ];
      },
    };
  });
  return op(f, w);
}
