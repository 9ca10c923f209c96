/**
 * The adapters' delta as it was before the fused form (kept for the `moss-train` bench section, which times
 * both in the same run, and for the tests that check the fused form computes the same):
 *
 *   LoRA / PLoRA     per target: (x·A)·B, q|k|v concatenated into the fused columns, then × α/√r; PLoRA
 *                    masked the projection INPUT x [N, in]
 *   MoE-LoRA, ConvLoRA, SAM-ConvLoRA
 *                    the text LoRA on x ⊙ text-mask, the image branch on every row, × image-mask, per target;
 *                    ConvLoRA's causal 2×2 conv as an im2col of the input [N, 4·d_in] built with TF.js ops per
 *                    sequence (shifted slices, masks, concats of d_in-wide tensors) times conv [4·d_in, r],
 *                    per target; SAM's 2×2 and 4×4 convs the same in rank space, per target (decode history
 *                    per target and kernel, of z_t [., r]; the fused form keeps one per projection and kernel,
 *                    of z [., targets·r])
 *
 * `useLegacyDelta(handle)` swaps an attached adapter's delta for the old one (same weights) until the returned
 * function is called. The file formats are not involved: both forms read the same variables.
 * `useHostRoute()` makes the per-batch products of attention (model/linear.ts) cut and paste through host
 * arrays again, as before they did it inside the wasm heap (bit-identical either way).
 */
import * as tf from '@tensorflow/tfjs';
import { linear } from '../kernel-lib/model/linear';
import type { AdapterContext, AdapterDecodeState, ProjectionTarget } from '../kernel-lib/model/adapter-seam';
import { MODALITY_CODES } from '../kernel-lib/model/positions';
import { LoRAAdapter, LoRATarget, projectionShape } from '../kernel-lib/adapters/lora';
import { ModalityLoRAAdapter } from '../kernel-lib/adapters/modality-lora';
import { ConvLoRAAdapter, CONV_KERNEL } from '../kernel-lib/adapters/conv-lora';
import { SAMConvLoRAAdapter, SAM_KERNELS } from '../kernel-lib/adapters/sam-conv-lora';
import { GridHistory, historyRows, outputCells } from '../kernel-lib/adapters/causal-grid';
import { adapterDropout } from '../kernel-lib/adapters/dropout';
import type { LoRAHandle } from '../kernel-lib/adapters/attach';
import { heapRoute } from '../kernel-lib/backend/host-copy';

/** im2col of features f [T, d] of ONE sequence: [T, k·k·d] (causal-grid.ts before the fused form). */
export function legacyCausalIm2col(f: tf.Tensor2D, hist: tf.Tensor2D | null, cells: Int32Array, W: number, k: number): tf.Tensor2D {
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

/** The im2col of every sequence of a call, reading and updating each sequence's history under `key` when decoding. */
export function legacyCausalIm2colCall(
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
    parts.push(legacyCausalIm2col(fb, hist, cells.subarray(b * T, (b + 1) * T), W, k));
    if (st && K > 0) {
      const ext = tf.concat([hist ?? (tf.zeros([K, d]) as tf.Tensor2D), fb], 0);
      st.rows.set(key, tf.keep(tf.slice(ext, [ext.shape[0] - K, 0], [K, d])));
      hist?.dispose();
    }
  }
  return parts.length === 1 ? parts[0] : tf.concat(parts, 0);
}

const weight = (a: { parameters(): Map<string, tf.Variable> }, path: string): tf.Tensor2D => a.parameters().get(path) as tf.Tensor as tf.Tensor2D;

/** LoRAAdapter.delta before (plain LoRA and Partial LoRA). */
export function legacyLoRADelta(a: LoRAAdapter, layer: number, target: ProjectionTarget, x: tf.Tensor2D, ctx: AdapterContext): tf.Tensor2D {
  const N = x.shape[0];
  const c = a.config;
  const widths = { q: projectionShape(c, 'q').out, k: projectionShape(c, 'k').out, v: projectionShape(c, 'v').out };
  const outWidth = target === 'attn.wo' ? c.hiddenSize : widths.q + widths.k + widths.v;
  let mask: tf.Tensor2D | null = null;
  if (a.spec.kind === 'plora') {
    if (!ctx.positions) throw new Error('legacy PLoRA delta needs positions');
    const m = new Float32Array(N);
    let any = false;
    for (let i = 0; i < N; i++) if (ctx.positions.modality[i] === MODALITY_CODES.image) (m[i] = 1), (any = true);
    if (!any) return tf.zeros([N, outWidth]);
    mask = tf.tensor2d(m, [N, 1]);
  }
  const xd = adapterDropout(x, a.spec.dropout ?? 0, ctx, { adapter: a.name, layer, target });
  const xm: tf.Tensor2D = mask ? tf.mul(xd, mask) : xd;
  const low = (t: LoRATarget): tf.Tensor2D => linear(linear(xm, weight(a, a.path(layer, t, 'A'))), weight(a, a.path(layer, t, 'B')));
  const d = target === 'attn.wo' ? low('o') : tf.concat((['q', 'k', 'v'] as const).map((t) => (a.spec.targets.includes(t) ? low(t) : (tf.zeros([N, widths[t]]) as tf.Tensor2D))), 1);
  return tf.mul(d, a.scaling);
}

/** The image branch before, per target [N, out] (rows on no cell zero or masked by the caller). */
function legacyImageLow(a: ModalityLoRAAdapter, layer: number, target: ProjectionTarget, targets: LoRATarget[], x: tf.Tensor2D, cells: Int32Array, ctx: AdapterContext): tf.Tensor2D[] {
  const v = (t: LoRATarget, w: string) => weight(a, a.path(layer, t, 'image', w));
  const W = a.spec.grid?.width ?? 1;
  if (a instanceof ConvLoRAAdapter) {
    const cols = legacyCausalIm2colCall(x, cells, W, CONV_KERNEL, ctx.batch, ctx.seqLen, ctx.states, `${layer}.${target}`); // [N, 4·d_in]
    return targets.map((t) => linear(linear(cols, v(t, 'conv')), v(t, 'B')));
  }
  if (a instanceof SAMConvLoRAAdapter) {
    return targets.map((t) => {
      const z = linear(x, v(t, 'A')); // [N, r]
      let sum: tf.Tensor2D | null = null;
      for (const k of SAM_KERNELS) {
        const c = linear(legacyCausalIm2colCall(z, cells, W, k, ctx.batch, ctx.seqLen, ctx.states, `${layer}.${t}.${k}`), v(t, `conv${k}`));
        sum = sum ? (tf.add(sum, c) as tf.Tensor2D) : c;
      }
      return linear(sum as tf.Tensor2D, v(t, 'B'));
    });
  }
  return targets.map((t) => linear(linear(x, v(t, 'A')), v(t, 'B'))); // MoE-LoRA
}

/** ModalityLoRAAdapter.delta before (MoE-LoRA, ConvLoRA, SAM-ConvLoRA). */
export function legacyModalityDelta(a: ModalityLoRAAdapter, layer: number, target: ProjectionTarget, x0: tf.Tensor2D, ctx: AdapterContext): tf.Tensor2D {
  const N = x0.shape[0];
  const cells = outputCells(ctx.positions, N, a.spec.grid?.width ?? 1, `${a.spec.kind} adapter '${a.name}'`);
  const x = adapterDropout(x0, a.spec.dropout, ctx, { adapter: a.name, layer, target });
  const img = new Float32Array(N);
  let nImg = 0;
  for (let i = 0; i < N; i++) if (cells[i] >= 0) (img[i] = 1), nImg++;
  const all: LoRATarget[] = target === 'attn.wo' ? ['o'] : ['q', 'k', 'v'];
  const targets = all.filter((t) => a.spec.targets.includes(t));
  const usesGrid = a.spec.kind !== 'moe-lora';
  const runImage = nImg > 0 || (usesGrid && ctx.states !== undefined);
  const imageParts = runImage ? legacyImageLow(a, layer, target, targets, x, cells, ctx) : null;
  const imgMask = nImg > 0 && nImg < N ? tf.tensor2d(img, [N, 1]) : null;
  const txtMask = nImg > 0 && nImg < N ? (tf.sub(1, imgMask as tf.Tensor2D) as tf.Tensor2D) : null;
  const parts = all.map((t) => {
    const i = targets.indexOf(t);
    if (i < 0) return tf.zeros([N, projectionShape(a.config, t).out]) as tf.Tensor2D;
    if (nImg === N) return (imageParts as tf.Tensor2D[])[i];
    const text = linear(linear(txtMask ? (tf.mul(x, txtMask) as tf.Tensor2D) : x, weight(a, a.path(layer, t, 'text', 'A'))), weight(a, a.path(layer, t, 'text', 'B')));
    if (nImg === 0) return text;
    return tf.add(text, tf.mul((imageParts as tf.Tensor2D[])[i], imgMask as tf.Tensor2D)) as tf.Tensor2D;
  });
  const d = parts.length === 1 ? parts[0] : tf.concat(parts, 1);
  return tf.mul(d, a.scaling);
}

/**
 * Makes an attached adapter compute its delta the old way (its own weights) until the returned function is
 * called. Decode states made by one form must not be read by the other (SAM's are keyed and shaped differently).
 */
export function useLegacyDelta(h: LoRAHandle): () => void {
  const a = h.adapter;
  const legacy = a instanceof ModalityLoRAAdapter
    ? (layer: number, target: ProjectionTarget, x: tf.Tensor2D, ctx: AdapterContext) => legacyModalityDelta(a, layer, target, x, ctx)
    : (layer: number, target: ProjectionTarget, x: tf.Tensor2D, ctx: AdapterContext) => legacyLoRADelta(a, layer, target, x, ctx);
  Object.defineProperty(a, 'delta', { value: legacy, configurable: true, writable: true });
  return () => {
    delete (a as { delta?: unknown }).delta; // the prototype's (fused) delta again
  };
}

/** Per-batch products through host arrays (dataSync, a host output array) until the returned function is called. */
export function useHostRoute(): () => void {
  const was = heapRoute.enabled;
  heapRoute.enabled = false;
  return () => {
    heapRoute.enabled = was;
  };
}
