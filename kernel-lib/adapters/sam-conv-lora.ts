/**
 * SAM-ConvLoRA (Zhong et al. 2024, "Convolution Meets LoRA"; MoSS Table 10's comparison): at positions
 * that output image codes, project down to rank r first (A [d_in, r]), then multi-scale causal 2×2 and
 * 4×4 convolutions in the rank space (r → r each, summed), then up (B [r, out]). The convolutions use
 * causal-grid.ts's cells and padding, so the branch is causal like MoSS's ConvLoRA; their weights are
 * stored im2col-ready: `image.conv2` [4·r, r], `image.conv4` [16·r, r] (row (kh·k + kw)·r + c holds
 * PyTorch's weight[:, c, kh, kw]). Unlike MoSS's ConvLoRA, the convolution sees low-rank features.
 *
 * Computed multiply-first (causal-grid.ts): z = x·[A_q | A_k | A_v] [N, c], then z times every tap's
 * weight of both kernels [c, 20·c] (block-diagonal over the targets: target j's taps read only its own
 * z columns), whose rows branchRows shifts and sums on the grid.
 */
import * as tf from '@tensorflow/tfjs';
import type { LoRATarget } from './lora';
import { ImageTaps, ModalityLoRAAdapter } from './modality-lora';
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

  protected imageTaps(layer: number, targets: LoRATarget[]): ImageTaps {
    const r = this.spec.rank;
    const c = targets.length * r;
    const first = concatColumns(targets.map((t) => this.v(layer, t, 'image', 'A'))); // [in, c]
    const perKernel = SAM_KERNELS.map((k) => {
      // target j: conv [k²·r, r] → [r (in), k², r (out)], its out columns placed at j·r of c → rows j·r… of [c, k², c]
      const rows = targets.map((t, j) => {
        const w = tf.transpose(tf.reshape(this.v(layer, t, 'image', `conv${k}`), [k * k, r, r]), [1, 0, 2]) as tf.Tensor3D; // [r, k², r]
        return targets.length === 1 ? w : (tf.pad(w, [[0, 0], [0, 0], [j * r, c - (j + 1) * r]]) as tf.Tensor3D);
      });
      const block = rows.length === 1 ? rows[0] : (tf.concat(rows, 0) as tf.Tensor3D); // [c, k², c]
      return tf.reshape(block, [c, k * k * c]) as tf.Tensor2D; // column tap·c + j·r + q
    });
    return { first, second: concatColumns(perKernel), kernels: SAM_KERNELS };
  }
}
