/**
 * MoE-LoRA (MoSS Table 2's baseline): two linear LoRAs, the image one at positions that output image
 * codes, the text one everywhere else (the output-modality rule of modality-lora.ts).
 */
import * as tf from '@tensorflow/tfjs';
import { linear } from '../model/linear';
import type { ProjectionTarget } from '../model/adapter-seam';
import type { LoRATarget } from './lora';
import { ModalityLoRAAdapter } from './modality-lora';
import { concatColumns } from './fused';

export class MoELoRAAdapter extends ModalityLoRAAdapter {
  protected readonly usesGrid = false;

  protected imageShapes(dIn: number, dOut: number): [string, [number, number], number][] {
    const r = this.spec.rank;
    return [['A', [dIn, r], 1 / Math.sqrt(r)], ['B', [r, dOut], 0]];
  }

  protected imageLow(layer: number, _target: ProjectionTarget, targets: LoRATarget[], x: tf.Tensor2D, cells: Int32Array): tf.Tensor2D {
    const low = linear(x, concatColumns(targets.map((t) => this.v(layer, t, 'image', 'A')))); // [N, c]
    return tf.mul(low, tf.tensor2d(Float32Array.from(cells, (c) => (c >= 0 ? 1 : 0)), [cells.length, 1])); // 0 on rows on no cell
  }
}
