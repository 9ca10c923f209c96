/**
 * Adapters for testing the adapter seam: one that records what it is told, one that keeps
 * per-sequence decode state (a delta that depends on the previous position's projection input, the
 * shape of a causal ConvLoRA's dependence on the previous grid row).
 */
import * as tf from '@tensorflow/tfjs';
import type { MoEConfig } from '../../kernel-lib/model/config';
import { headDim } from '../../kernel-lib/model/config';
import type { AdapterContext, AdapterDecodeState, ProjectionAdapter, ProjectionTarget } from '../../kernel-lib/model/adapter-seam';
import { mulberry32, normalArray } from '../../kernel-lib/util/random';

/** Adds nothing; records the layout and metadata of every call at (layer 0, attn.wqkv). */
export class RecordingAdapter implements ProjectionAdapter {
  enabled = true;
  readonly calls: { batch: number; seqLen: number; start: number[]; modality: number[]; outputModality: number[]; image: number[]; row: number[]; col: number[]; hasStates: boolean }[] = [];
  constructor(readonly name: string, private readonly cfg: MoEConfig) {}
  appliesTo(layer: number, target: ProjectionTarget): boolean {
    return layer === 0 && target === 'attn.wqkv';
  }
  delta(_layer: number, _target: ProjectionTarget, x: tf.Tensor2D, ctx: AdapterContext): tf.Tensor2D {
    const p = ctx.positions;
    this.calls.push({
      batch: ctx.batch, seqLen: ctx.seqLen, start: [...ctx.start],
      modality: p ? [...p.modality] : [], outputModality: p ? [...p.outputModality] : [],
      image: p ? [...p.image] : [], row: p ? [...p.row] : [], col: p ? [...p.col] : [], hasStates: ctx.states !== undefined,
    });
    return tf.zeros([x.shape[0], (this.cfg.numHeads + 2 * this.cfg.numKvHeads) * headDim(this.cfg)]);
  }
  dispose(): void {}
}

/** The previous position's o_proj input, per layer, for one sequence. */
class PrevInput implements AdapterDecodeState {
  readonly last = new Map<number, tf.Tensor2D>(); // layer → [1, in]
  clone(): PrevInput {
    const c = new PrevInput();
    for (const [l, t] of this.last) c.last.set(l, tf.keep(tf.clone(t)));
    return c;
  }
  dispose(): void {
    for (const t of this.last.values()) t.dispose();
    this.last.clear();
  }
}

/** o_proj delta at position t = x[t−1]·M (zero at a sequence's first position): needs decode state. */
export class PrevInputAdapter implements ProjectionAdapter {
  enabled = true;
  readonly m: tf.Tensor2D;
  created = 0;
  constructor(readonly name: string, cfg: MoEConfig, seed = 3) {
    const n = cfg.numHeads * headDim(cfg);
    this.m = tf.keep(tf.tensor2d(normalArray(n * cfg.hiddenSize, 0.5, mulberry32(seed)), [n, cfg.hiddenSize]));
  }
  appliesTo(_layer: number, target: ProjectionTarget): boolean {
    return target === 'attn.wo';
  }
  createDecodeState(): AdapterDecodeState {
    this.created++;
    return new PrevInput();
  }
  delta(layer: number, _target: ProjectionTarget, x: tf.Tensor2D, ctx: AdapterContext): tf.Tensor2D {
    const { batch: B, seqLen: T } = ctx;
    const n = x.shape[1];
    const shifted: tf.Tensor2D[] = [];
    const old: tf.Tensor[] = [];
    for (let b = 0; b < B; b++) {
      const xb = tf.slice(x, [b * T, 0], [T, n]);
      const st = ctx.states?.[b] as PrevInput | undefined;
      const prev = st?.last.get(layer) ?? tf.zeros([1, n]);
      shifted.push(T === 1 ? (prev as tf.Tensor2D) : tf.concat([prev, tf.slice(xb, [0, 0], [T - 1, n])], 0));
      if (st) {
        const o = st.last.get(layer);
        if (o) old.push(o);
        st.last.set(layer, tf.keep(tf.slice(xb, [T - 1, 0], [1, n])));
      }
    }
    const d = tf.matMul(B === 1 ? shifted[0] : tf.concat(shifted, 0), this.m) as tf.Tensor2D;
    tf.dispose(old); // the previous inputs, now used
    return d;
  }
  dispose(): void {
    this.m.dispose();
  }
}
