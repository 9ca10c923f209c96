/**
 * MoSS's ConvLoRA (Eq. 4): at positions that output image codes, the delta is
 * s · Conv_{2×2}(I) · B, where the causal 2×2 convolution maps the full input width d_in straight to
 * rank r over the image's code grid (stride 1, zero padding top and left only; causal-grid.ts says which
 * cell a position sits on). The conv weight is stored im2col-ready as `image.conv` [4·d_in, r], row
 * (kh·2 + kw)·d_in + c holding PyTorch Conv2d's weight[:, c, kh, kw]; `image.B` is [r, out].
 *
 * Computed multiply-first (causal-grid.ts): the four taps' weights of q, k and v (which read the same
 * input) side by side, [d_in, 4·c], so one product gives every tap's rank-wide rows, which branchRows
 * shifts and sums on the grid. One decode history serves all three targets.
 */
import * as tf from '@tensorflow/tfjs';
import type { LoRATarget } from './lora';
import { projectionShape } from './lora';
import { ImageTaps, ModalityLoRAAdapter } from './modality-lora';

export const CONV_KERNEL = 2;

export class ConvLoRAAdapter extends ModalityLoRAAdapter {
  protected readonly usesGrid = true;

  protected imageShapes(dIn: number, dOut: number): [string, [number, number], number][] {
    const r = this.spec.rank;
    return [['conv', [CONV_KERNEL * CONV_KERNEL * dIn, r], 1 / Math.sqrt(r)], ['B', [r, dOut], 0]];
  }

  protected imageTaps(layer: number, targets: LoRATarget[]): ImageTaps {
    const taps = CONV_KERNEL * CONV_KERNEL;
    const dIn = projectionShape(this.config, targets[0]).in; // q, k and v read the same input
    const r = this.spec.rank;
    const perTarget = targets.map((t) => tf.reshape(this.v(layer, t, 'image', 'conv'), [taps, dIn, r]) as tf.Tensor3D); // [tap, in, r]
    const stacked = perTarget.length === 1 ? perTarget[0] : (tf.concat(perTarget, 2) as tf.Tensor3D); // [tap, in, c]
    const first = tf.reshape(tf.transpose(stacked, [1, 0, 2]), [dIn, taps * targets.length * r]) as tf.Tensor2D; // [in, tap·c], column tap·c + j·r + q
    return { first, second: null, kernels: [CONV_KERNEL] };
  }
}
