/**
 * SAM-ConvLoRA (Zhong et al. 2024, "Convolution Meets LoRA"; MoSS Table 10's comparison): at positions
 * that output image codes, project down to rank r first (A [d_in, r]), then multi-scale causal 2×2 and
 * 4×4 convolutions in the rank space (r → r each, summed), then up (B [r, out]). The convolutions use
 * causal-grid.ts's cells and padding, so the branch is causal like MoSS's ConvLoRA; their weights are
 * stored im2col-ready: `image.conv2` [4·r, r], `image.conv4` [16·r, r] (row (kh·k + kw)·r + c holds
 * PyTorch's weight[:, c, kh, kw]). Unlike MoSS's ConvLoRA, the convolution sees low-rank features.
 *
 * The targets go together: z = x·[A_q | A_k | A_v] [N, c], then per kernel one convolution of z
 * (causal-grid.ts causalConv) with the targets' conv weights block-diagonal, [k²·c, c] (target j's outputs
 * read only its own columns of each tap block; the zero blocks add exact zeros).
 */
import * as tf from '@tensorflow/tfjs';
import { linear } from '../model/linear';
import type { AdapterContext, ProjectionTarget } from '../model/adapter-seam';
import type { LoRATarget } from './lora';
import { ModalityLoRAAdapter } from './modality-lora';
import { causalConv } from './causal-grid';
import { concatColumns } from './fused';

export const SAM_KERNELS = [2, 4] as const;

export class SAMConvLoRAAdapter extends ModalityLoRAAdapter {
  protected readonly usesGrid = true;

  protected imageShapes(dIn: number, dOut: number): [string, [number, number], number][] {
    const r = this.spec.rank;
    return [
      ['A', [dIn, r], 1 / Math.sqrt(r)],
      ...SAM_KERNELS.map((k): [string, [number, number], number] => [`conv${k}`, [k * k * r, r], 1 / Math.sqrt(k * k * r)]),
      ['B', [r, dOut], 0],
    ];
  }

  /** conv{k} of every target as one [k²·c, c] weight: row (tap·c + j·r + q) → column j·r + q', zero across targets. */
  private convWeight(layer: number, targets: LoRATarget[], k: number): tf.Tensor2D {
    const r = this.spec.rank;
    const c = targets.length * r;
    if (targets.length === 1) return this.v(layer, targets[0], 'image', `conv${k}`);
    const blocks = targets.map((t, j) => {
      const w = tf.reshape(this.v(layer, t, 'image', `conv${k}`), [k * k, r, r]); // [tap, q, q']
      return tf.pad(w, [[0, 0], [0, 0], [j * r, c - (j + 1) * r]]); // [tap, q, c]: target j's output columns
    });
    return tf.reshape(tf.concat(blocks, 1), [k * k * c, c]) as tf.Tensor2D; // [tap, (j, q), c]
  }

  protected imageLow(layer: number, target: ProjectionTarget, targets: LoRATarget[], x: tf.Tensor2D, cells: Int32Array, ctx: AdapterContext): tf.Tensor2D {
    const W = (this.spec.grid as { width: number }).width;
    const z = linear(x, concatColumns(targets.map((t) => this.v(layer, t, 'image', 'A')))); // [N, c]
    let sum: tf.Tensor2D | null = null;
    for (const k of SAM_KERNELS) {
      const conv = causalConv(z, this.convWeight(layer, targets, k), { cells, W, k, batch: ctx.batch, seqLen: ctx.seqLen, states: ctx.states, key: `${layer}.${target}.${k}` }); // [N, c]
      sum = sum ? (tf.add(sum, conv) as tf.Tensor2D) : conv;
    }
    return sum as tf.Tensor2D; // zero on rows on no cell
  }
}
