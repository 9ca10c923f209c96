/**
 * Pixels for image codes without an image decoder: CodePaletteRenderer paints each code as a flat patch
 * in a fixed colour, which already shows the structure of what a model generates (repeats, rows,
 * borders). liveDecode takes any PatchRenderer (image/types.ts); a VQVAE's `patchRenderer()` draws the
 * decoded pixels instead.
 */
import { codeColor } from './colors';
import { PENDING_RGB, type PatchRenderer } from '../image/types';

export { PENDING_RGB };
export type { PatchRenderer };

/** Each code is a patchSize×patchSize square in the colour `codeColor(code)`. */
export class CodePaletteRenderer implements PatchRenderer {
  constructor(readonly patchSize = 4) {
    if (!Number.isInteger(patchSize) || patchSize < 1) throw new Error(`patchSize must be a positive integer, got ${patchSize}`);
  }

  render(codes: readonly number[], grid: { height: number; width: number }): Uint8Array {
    const { height: H, width: W } = grid;
    if (codes.length !== H * W) throw new Error(`render: ${codes.length} codes for a ${H}×${W} grid`);
    const P = this.patchSize;
    const rowLen = W * P * 3;
    const out = new Uint8Array(H * P * rowLen);
    for (let r = 0; r < H; r++) {
      for (let c = 0; c < W; c++) {
        const code = codes[r * W + c];
        const rgb = code >= 0 ? codeColor(code) : PENDING_RGB;
        for (let y = 0; y < P; y++) {
          const row = (r * P + y) * rowLen + c * P * 3;
          for (let x = 0; x < P; x++) out.set(rgb, row + x * 3);
        }
      }
    }
    return out;
  }
}
