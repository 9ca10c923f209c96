/**
 * MoE-LoRA (MoSS Table 2's baseline): two linear LoRAs, the image one at positions that output image
 * codes, the text one everywhere else (the output-modality rule of modality-lora.ts). Its image branch
 * is x·A_image as a single 1×1 tap: each row reads itself.
 */
import type * as tf from '@tensorflow/tfjs';
import type { LoRATarget } from './lora';
import { ImageTaps, ModalityLoRAAdapter } from './modality-lora';
import { concatColumns } from './fused';

export class MoELoRAAdapter extends ModalityLoRAAdapter {
  protected readonly usesGrid = false;

  protected imageShapes(dIn: number, dOut: number): [string, [number, number], number][] {
    const r = this.spec.rank;
    return [['A', [dIn, r], 1 / Math.sqrt(r)], ['B', [r, dOut], 0]];
  }

  protected imageTaps(layer: number, targets: LoRATarget[]): ImageTaps {
    const first: tf.Tensor2D = concatColumns(targets.map((t) => this.v(layer, t, 'image', 'A'))); // [in, c]
    return { first, second: null, kernels: [1] };
  }
}
