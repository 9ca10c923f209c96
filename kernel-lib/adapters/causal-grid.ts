/**
 * The causal k×k convolution over an image's code grid that ConvLoRA (MoSS, Eq. 4) and SAM-ConvLoRA use,
 * and the row routing of every output-modality adapter (MoE-LoRA's too), as one host op on the adapter's
 * projected rows.
 *
 * Which cell a position sits on: the grid is the grid of positions that OUTPUT image codes. The
 * position that outputs the code at cell (i, j) (row-major index k = i·W + j) sits on cell (i, j); its
 * token, and so its projection input, is the token before that code: `<boi>` for k = 0, the code at
 * index k − 1 otherwise. Positions that output text or `<eoi>` sit on no cell.
 *
 * Causal padding: the convolution at cell (i, j) reads cells (i − dy, j − dx) for dy, dx ∈ [0, k),
 * zero where i − dy < 0 or j − dx < 0 (zero padding top and left only, none bottom or right), so a
 * 2×2 kernel sees the cell itself and its top, left and top-left neighbours. Those cells are outputs
 * of earlier positions, s = dy·W + dx positions back in the same sequence: an image's cells are output
 * by consecutive positions (<boi> outputs cell 0, the code of cell m − 1 outputs cell m), so cell
 * (i − dy, j − dx) = k − s is output s positions before k. A position never reads anything generated after
 * it. Kernel tap (kh, kw) — PyTorch Conv2d's weight index — reads the cell at dy = k−1−kh, dx = k−1−kw, as
 * a PyTorch Conv2d (stride 1, no padding) does on the grid padded with k−1 zero rows on top and k−1 zero
 * columns on the left (`F.pad(x, (k−1, 0, k−1, 0))`).
 *
 * Multiply first: a conv of the input, Σ_taps shift_s(x)·W_tap, equals Σ_taps shift_s(x·W_tap), since
 * moving rows commutes with multiplying on the right. So the adapters project every row once, for every
 * tap and target together (P = x·[W_tap…], rank-wide columns), and `branchRows` shifts and sums those
 * rank-wide rows — where an im2col copied, masked and concatenated d_in-wide input rows per sequence and
 * multiplied [N, k²·d_in] by [k²·d_in, r] (README, "MoSS training step"). The shift is taken within each
 * sequence (row t of a sequence reads its row t − s, never a row of the sequence before it: rows before a
 * sequence's first read its decode history, or zeros), the same rows the im2col read.
 */
import * as tf from '@tensorflow/tfjs';
import { MODALITY_CODES, OUTPUT_UNKNOWN, PositionMeta } from '../model/positions';
import type { AdapterDecodeState } from '../model/adapter-seam';
import { lazyCustomGrad } from '../util/lazy-grad';

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

/**
 * Per-sequence decode state: under each (layer, projection) key, the last historyRows projected image-tap
 * rows (the P columns after the text block, see branchRows) of the sequence so far.
 */
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

/** What branchRows needs to know about a call besides P. */
export interface BranchRowsPlan {
  /** Each row's output cell (outputCells): −1 for rows on no cell. */
  cells: Int32Array;
  /** The grid's width. */
  W: number;
  /** Columns of each block: the adapter's targets × rank. */
  c: number;
  /** The kernels whose taps follow the text block, in order: [1] (the cell itself: MoE-LoRA), [2] (ConvLoRA), [2, 4] (SAM). */
  kernels: readonly number[];
  /** Sequences and rows per sequence: row b·seqLen + t is row t of sequence b. */
  batch: number;
  seqLen: number;
  /** Decode states (one per sequence) while decoding: their history under `key` is read and replaced. */
  states?: readonly AdapterDecodeState[];
  key: string;
}

/**
 * An output-modality adapter's low-rank rows from its projected rows P [N, c + Σ_k k²·c]: columns [0, c) the
 * text branch (x·A_text), then per kernel k its k² tap blocks of c columns (tap order as causalTaps). Returns
 * [N, 2c]: columns [0, c) the text rows of P (zero on rows on a cell), columns [c, 2c) on each row on a cell
 * the sum over kernels and taps whose cell is on the grid of P's tap block at the row s back in the same
 * sequence (its decode history before the sequence's first row, zero without one), zero on rows on no cell.
 * So each row gets exactly one branch. Computed on the host (one pass over P's values; the gradient is one
 * pass that copies each output gradient to the single P entry it came from), because on wasm the same
 * shifts and masks as TF.js ops cost a slice, a multiply and an add of [N, c] per tap, and column blocks of
 * P are slow to cut. The decode history holds P's tap columns and is read as a constant (no gradient): no
 * training forward keeps decode states.
 */
export function branchRows(P: tf.Tensor2D, plan: BranchRowsPlan): tf.Tensor2D {
  const { cells, W, c, kernels, batch: B, seqLen: T } = plan;
  const N = B * T;
  const C = P.shape[1];
  const cImg = C - c;
  const taps: Array<CausalTap & { col: number }> = [];
  let col = c;
  for (const k of kernels) {
    for (const tap of causalTaps(k, W)) {
      taps.push({ ...tap, col });
      col += c;
    }
  }
  if (P.shape[0] !== N || cells.length !== N || col !== C) {
    throw new Error(`branchRows: P is [${P.shape}], the plan wants [${N}, ${col}] (${B}×${T} rows, ${cells.length} cells)`);
  }
  const K = Math.max(0, ...kernels.map((k) => historyRows(k, W)));
  const p = P.dataSync() as Float32Array;
  const out = new Float32Array(N * 2 * c);
  const acc = new Float64Array(c);
  for (let b = 0; b < B; b++) {
    const st = K > 0 ? (plan.states?.[b] as GridHistory | undefined) : undefined;
    const histT = st?.rows.get(plan.key);
    const hist = histT ? (histT.dataSync() as Float32Array) : null; // [K, cImg]
    for (let t = 0; t < T; t++) {
      const row = b * T + t;
      const cell = cells[row];
      const o = row * 2 * c;
      if (cell < 0) {
        out.set(p.subarray(row * C, row * C + c), o); // the text branch
        continue;
      }
      const i = Math.floor(cell / W);
      const j = cell % W;
      acc.fill(0);
      for (const tap of taps) {
        if (i < tap.dy || j < tap.dx) continue; // off the grid: the causal zero padding
        const u = t - tap.s; // the neighbour's row in this sequence
        if (u >= 0) {
          const from = (b * T + u) * C + tap.col;
          for (let q = 0; q < c; q++) acc[q] += p[from + q];
        } else if (hist && K + u >= 0) {
          const from = (K + u) * cImg + tap.col - c;
          for (let q = 0; q < c; q++) acc[q] += hist[from + q];
        }
      }
      for (let q = 0; q < c; q++) out[o + c + q] = acc[q];
    }
    if (st) {
      // the new history: the last K rows of [history (or zeros); this call's tap columns]
      const h = new Float32Array(K * cImg);
      for (let m = 0; m < K; m++) {
        const e = T + m; // index in the K + T rows
        if (e < K) {
          if (hist) h.set(hist.subarray(e * cImg, (e + 1) * cImg), m * cImg);
        } else {
          const from = (b * T + e - K) * C + c;
          h.set(p.subarray(from, from + cImg), m * cImg);
        }
      }
      st.rows.set(plan.key, tf.keep(tf.tensor2d(h, [K, cImg])));
      histT?.dispose(); // now read; the new history replaces it
    }
  }
  const op = lazyCustomGrad<[tf.Tensor2D], tf.Tensor2D>(() => ({
    value: tf.tensor2d(out, [N, 2 * c]),
    gradFunc: (dy) => [
      () => {
        const g = dy.dataSync() as Float32Array; // [N, 2c]
        const dp = new Float32Array(N * C);
        for (let b = 0; b < B; b++) {
          for (let t = 0; t < T; t++) {
            const row = b * T + t;
            const cell = cells[row];
            const o = row * 2 * c;
            if (cell < 0) {
              dp.set(g.subarray(o, o + c), row * C);
              continue;
            }
            const i = Math.floor(cell / W);
            const j = cell % W;
            for (const tap of taps) {
              const u = t - tap.s;
              if (i < tap.dy || j < tap.dx || u < 0) continue;
              const to = (b * T + u) * C + tap.col; // each (row, tap block) of P feeds one output row: a copy
              for (let q = 0; q < c; q++) dp[to + q] += g[o + c + q];
            }
          }
        }
        return tf.tensor2d(dp, [N, C]);
      },
    ],
  }));
  return op(P);
}
