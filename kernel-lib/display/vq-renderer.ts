/**
 * A PatchRenderer that draws image codes with the VQ-VAE decoder, so liveDecode shows real pixels:
 * codes not generated yet decode as code 0 and are then painted over with the pending colour.
 */
import type { VQVAE } from '../image';
import { PatchRenderer, PENDING_RGB } from './patch-renderer';

export class VQPatchRenderer implements PatchRenderer {
  readonly patchSize: number;

  /** `imageSize`: the side in pixels of the images the grid decodes to (32 for 8×8 codes). */
  constructor(private readonly vq: VQVAE, grid: { height: number; width: number }, imageSize = 32) {
    if (grid.height !== grid.width || imageSize % grid.width !== 0) {
      throw new Error(`VQPatchRenderer: a ${grid.height}×${grid.width} grid does not tile ${imageSize}×${imageSize} pixels`);
    }
    this.patchSize = imageSize / grid.width;
  }

  render(codes: readonly number[], grid: { height: number; width: number }): Uint8Array {
    const { height: H, width: W } = grid;
    if (codes.length !== H * W) throw new Error(`render: ${codes.length} codes for a ${H}×${W} grid`);
    const img = this.vq.decode([{ height: H, width: W, codes: codes.map((c) => (c >= 0 ? c : 0)) }])[0];
    const out = Uint8Array.from(img.pixels);
    const P = this.patchSize;
    const rowLen = W * P * 3;
    codes.forEach((c, k) => {
      if (c >= 0) return;
      const r = Math.floor(k / W);
      const col = k % W;
      for (let y = 0; y < P; y++) for (let x = 0; x < P; x++) out.set(PENDING_RGB, (r * P + y) * rowLen + (col * P + x) * 3);
    });
    return out;
  }
}
