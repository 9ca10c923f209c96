/**
 * Weights prepared for batch-1 decoding, where per-op dispatch dominates: each RMSNorm gain is folded
 * into the matrix that follows it (x̂⊙g)·W = x̂·(diag(g)·W) and the attention scale 1/√hd into the query
 * columns. That removes ~17 kernels per step.
 *
 * The folded copies are rebuilt when any source parameter was reassigned (a tf.Variable gets a new
 * dataId on assign), so training, resuming or editing weights can never leave decoding stale.
 */
import * as tf from '@tensorflow/tfjs';
import type { MoEConfig } from './config';
import { headDim } from './config';
import type { MoEWeights } from './moe';
import { HostExperts } from './expert-kernel';

export interface DecodeLayerWeights {
  wqkv: tf.Tensor2D; // [H, (nh + 2·nKv)·hd], input gain folded, q columns scaled by 1/√hd
  wo: tf.Tensor2D; // [nh·hd, H] (the parameter itself)
  moe: MoEWeights; // router and w1|w3 (and shared w1|w3) with the post-attention gain folded
}

export class DecodeWeights {
  readonly layers: DecodeLayerWeights[] = [];
  readonly head: tf.Tensor2D; // [H, V], final gain folded
  private readonly owned: tf.Tensor[] = [];
  private readonly sources: tf.Variable[];
  private readonly dataIds: unknown[];
  private readonly cfg: MoEConfig;
  /** Per layer, the MoE weights with the host experts (built on the first batched step). */
  private batched: MoEWeights[] | null = null;

  constructor(cfg: MoEConfig, p: (name: string) => tf.Variable) {
    this.cfg = cfg;
    const hd = headDim(cfg);
    const nq = cfg.numHeads * hd;
    const nk = cfg.numKvHeads * hd;
    const names: string[] = ['final_norm', cfg.tieWordEmbeddings ? 'embed' : 'lm_head'];
    const keep = <T extends tf.Tensor>(t: T): T => {
      this.owned.push(t);
      return tf.keep(t);
    };
    let head!: tf.Tensor2D;
    tf.tidy(() => {
      const fold = (gain: string, w: tf.Tensor): tf.Tensor2D => tf.mul(tf.reshape(p(gain), [-1, 1]), w) as tf.Tensor2D;
      for (let i = 0; i < cfg.numLayers; i++) {
        const b = `blocks.${i}`;
        names.push(`${b}.input_norm`, `${b}.attn.wqkv`, `${b}.attn.wo`, `${b}.post_attn_norm`, `${b}.moe.router`, `${b}.moe.w13`, `${b}.moe.w2`);
        const qkv = fold(`${b}.input_norm`, p(`${b}.attn.wqkv`)); // [H, nq + 2·nk]
        const scale = tf.concat([tf.fill([1, nq], 1 / Math.sqrt(hd)), tf.ones([1, 2 * nk])], 1);
        const layer: DecodeLayerWeights = {
          wqkv: keep(tf.mul(qkv, scale) as tf.Tensor2D),
          wo: p(`${b}.attn.wo`) as tf.Tensor as tf.Tensor2D,
          moe: {
            router: keep(fold(`${b}.post_attn_norm`, p(`${b}.moe.router`))),
            w13: keep(fold(`${b}.post_attn_norm`, p(`${b}.moe.w13`))),
            w2: p(`${b}.moe.w2`) as tf.Tensor as tf.Tensor2D,
          },
        };
        if (cfg.sharedExpertSize > 0) {
          names.push(`${b}.moe.shared.w13`, `${b}.moe.shared.w2`);
          layer.moe.sharedW13 = keep(fold(`${b}.post_attn_norm`, p(`${b}.moe.shared.w13`)));
          layer.moe.sharedW2 = p(`${b}.moe.shared.w2`) as tf.Tensor as tf.Tensor2D;
        }
        this.layers.push(layer);
      }
      const w = cfg.tieWordEmbeddings ? tf.transpose(p('embed')) : p('lm_head');
      head = keep(fold('final_norm', w));
    });
    this.head = head;
    this.sources = names.map(p);
    this.dataIds = this.sources.map((v) => v.dataId);
  }

  /**
   * Layer i's MoE weights for a batched step: the same tensors plus the experts copied into a kernel
   * memory (expert-kernel.ts; 4·E·I·3H bytes a layer, made once per set of weights, when a step first
   * has several rows).
   */
  batchedMoe(i: number): MoEWeights {
    if (!this.batched) {
      const c = this.cfg;
      const shape = { hidden: c.hiddenSize, numExperts: c.numExperts, intermediate: c.intermediateSize };
      this.batched = this.layers.map((l) => ({
        ...l.moe,
        host: new HostExperts(shape, l.moe.w13.dataSync() as Float32Array, l.moe.w2.dataSync() as Float32Array),
      }));
    }
    return this.batched[i];
  }

  /** False once any source parameter has been reassigned (or disposed). */
  get fresh(): boolean {
    return this.sources.every((v, i) => !v.isDisposed && v.dataId === this.dataIds[i]);
  }

  dispose(): void {
    tf.dispose(this.owned);
    this.batched = null;
  }
}
