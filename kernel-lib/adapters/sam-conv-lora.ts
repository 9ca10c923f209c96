/**
 * SAM-ConvLoRA (Zhong et al. 2024, "Convolution Meets LoRA"; MoSS Table 10's comparison): at positions
 * that output image codes, project down to rank r first (A [d_in, r]), then multi-scale causal 2×2 and
 * 4×4 convolutions in the rank space (r → r each, summed), then up (B [r, out]). The convolutions use
 * causal-grid.ts's cells and padding, so the branch is causal like MoSS's ConvLoRA; their weights are
 * stored im2col-ready: `image.conv2` [4·r, r], `image.conv4` [16·r, r] (row (kh·k + kw)·r + c holds
 * PyTorch's weight[:, c, kh, kw]). Unlike MoSS's ConvLoRA, the convolution sees low-rank features.
 */
import * as tf from '@tensorflow/tfjs';
import { linear } from '../model/linear';
import type { AdapterContext, ProjectionTarget } from '../model/adapter-seam';
import type { LoRATarget } from './lora';
import { ModalityLoRAAdapter } from './modality-lora';
import { causalIm2colCall } from './causal-grid';

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

  protected imageLow(layer: number, _target: ProjectionTarget, targets: LoRATarget[], x: tf.Tensor2D, cells: Int32Array, ctx: AdapterContext): tf.Tensor2D[] {
    const W = (this.spec.grid as { width: number }).width;
    return targets.map((t) => {
      const z = linear(x, this.v(layer, t, 'image', 'A')); // [N, r]
      let sum: tf.Tensor2D | null = null;
      for (const k of SAM_KERNELS) {
        const cols = causalIm2colCall(z, cells, W, k, ctx.batch, ctx.seqLen, ctx.states, `${layer}.${t}.${k}`); // [N, k²·r]
        const c = linear(cols, this.v(layer, t, 'image', `conv${k}`));
        sum = sum ? (tf.add(sum, c) as tf.Tensor2D) : c;
      }
      return linear(sum as tf.Tensor2D, this.v(layer, t, 'image', 'B'));
    });
  }
}
