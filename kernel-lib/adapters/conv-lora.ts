/**
 * MoSS's ConvLoRA (Eq. 4): at positions that output image codes, the delta is
 * s · Conv_{2×2}(I) · B, where the causal 2×2 convolution maps the full input width d_in straight to
 * rank r over the image's code grid (stride 1, zero padding top and left only; causal-grid.ts says which
 * cell a position sits on). The conv weight is stored im2col-ready as `image.conv` [4·d_in, r], row
 * (kh·2 + kw)·d_in + c holding PyTorch Conv2d's weight[:, c, kh, kw]; `image.B` is [r, out].
 *
 * q, k and v read the same projection input, so one im2col (and one decode history) serves all three.
 */
import type * as tf from '@tensorflow/tfjs';
import { linear } from '../model/linear';
import type { AdapterContext, ProjectionTarget } from '../model/adapter-seam';
import type { LoRATarget } from './lora';
import { ModalityLoRAAdapter } from './modality-lora';
import { causalIm2colCall } from './causal-grid';

export const CONV_KERNEL = 2;

export class ConvLoRAAdapter extends ModalityLoRAAdapter {
  protected readonly usesGrid = true;

  protected imageShapes(dIn: number, dOut: number): [string, [number, number], number][] {
    const r = this.spec.rank;
    return [['conv', [CONV_KERNEL * CONV_KERNEL * dIn, r], 1 / Math.sqrt(r)], ['B', [r, dOut], 0]];
  }

  protected imageLow(layer: number, target: ProjectionTarget, targets: LoRATarget[], x: tf.Tensor2D, cells: Int32Array, ctx: AdapterContext): tf.Tensor2D[] {
    const W = (this.spec.grid as { width: number }).width;
    const cols = causalIm2colCall(x, cells, W, CONV_KERNEL, ctx.batch, ctx.seqLen, ctx.states, `${layer}.${target}`); // [N, 4·d_in]
    return targets.map((t) => linear(linear(cols, this.v(layer, t, 'image', 'conv')), this.v(layer, t, 'image', 'B')));
  }
}
