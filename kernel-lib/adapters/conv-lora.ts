/**
 * MoSS's ConvLoRA (Eq. 4): at positions that output image codes, the delta is
 * s · Conv_{2×2}(I) · B, where the causal 2×2 convolution maps the full input width d_in straight to
 * rank r over the image's code grid (stride 1, zero padding top and left only; causal-grid.ts says which
 * cell a position sits on). The conv weight is stored im2col-ready as `image.conv` [4·d_in, r], row
 * (kh·2 + kw)·d_in + c holding PyTorch Conv2d's weight[:, c, kh, kw]; `image.B` is [r, out].
 *
 * q, k and v read the same projection input, so one convolution with their conv weights side by side,
 * [4·d_in, c] (causal-grid.ts causalConv), gives their low-rank rows, and one decode history serves all three.
 */
import type * as tf from '@tensorflow/tfjs';
import type { AdapterContext, ProjectionTarget } from '../model/adapter-seam';
import type { LoRATarget } from './lora';
import { ModalityLoRAAdapter } from './modality-lora';
import { causalConv } from './causal-grid';
import { concatColumns } from './fused';

export const CONV_KERNEL = 2;

export class ConvLoRAAdapter extends ModalityLoRAAdapter {
  protected readonly usesGrid = true;

  protected imageShapes(dIn: number, dOut: number): [string, [number, number], number][] {
    const r = this.spec.rank;
    return [['conv', [CONV_KERNEL * CONV_KERNEL * dIn, r], 1 / Math.sqrt(r)], ['B', [r, dOut], 0]];
  }

  protected imageLow(layer: number, target: ProjectionTarget, targets: LoRATarget[], x: tf.Tensor2D, cells: Int32Array, ctx: AdapterContext): tf.Tensor2D {
    const W = (this.spec.grid as { width: number }).width;
    const conv = concatColumns(targets.map((t) => this.v(layer, t, 'image', 'conv'))); // [4·d_in, c]
    return causalConv(x, conv, { cells, W, k: CONV_KERNEL, batch: ctx.batch, seqLen: ctx.seqLen, states: ctx.states, key: `${layer}.${target}` }); // [N, c], zero on rows on no cell
  }
}
