/**
 * Pixels for image codes. A VQ-VAE decoder (another part of the project) will turn codes into a picture;
 * until then CodePaletteRenderer paints each code as a flat patch in a fixed colour, which already shows
 * the structure of what a model generates (repeats, rows, borders). liveDecode takes any PatchRenderer.
 */
import { codeColor, RGB } from './colors';

export interface PatchRenderer {
  /** Pixels per patch side: an H×W grid becomes an (H·patchSize)×(W·patchSize) image. */
  readonly patchSize: number;
  /**
   * RGB bytes of the whole image, row-major. `codes` has height·width entries; −1 marks a code not
   * generated yet (drawn as background).
   */
  render(codes: readonly number[], grid: { height: number; width: number }): Uint8Array;
}

/** The colour of codes not generated yet. */
export const PENDING_RGB: RGB = [236, 236, 236];

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
