/** Server-test fixtures: a fake ImageCoder (the VQ-VAE does not exist yet) and a step counter around generate. */
import type { Session, SessionGenerateOptions } from '../../kernel-lib/session';
import type { Step } from '../../kernel-lib/decode/generate';
import type { ImageCoder } from '../../kernel-lib/image/types';
import type { Prompt } from '../../kernel-lib/tokenizer';

export const PATCH_PX = 2;
const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

/**
 * "Encodes" anything with a PNG signature into a 4×4 grid (codes from its bytes, so different files
 * differ) and "decodes" a grid into PATCH_PX×PATCH_PX blocks whose red channel is the code × 8.
 */
export function fakeCoder(numCodes = 32): ImageCoder {
  return {
    async encodePng(png) {
      if (!PNG_SIGNATURE.every((b, i) => png[i] === b)) throw new Error('not a PNG file (bad signature)');
      return { height: 4, width: 4, codes: Array.from({ length: 16 }, (_, i) => (png[8 + i] ?? i) % numCodes) };
    },
    decode(img) {
      const W = img.width * PATCH_PX;
      const H = img.height * PATCH_PX;
      const rgb = new Uint8Array(W * H * 3); // [H, W, 3]
      for (let y = 0; y < H; y++) {
        for (let x = 0; x < W; x++) {
          const code = img.codes[Math.floor(y / PATCH_PX) * img.width + Math.floor(x / PATCH_PX)];
          rgb.set([code * 8, 100, 200], (y * W + x) * 3);
        }
      }
      return { height: H, width: W, pixels: rgb };
    },
  };
}

export function fakePng(seed: number): Uint8Array {
  const b = new Uint8Array(40);
  b.set(PNG_SIGNATURE);
  for (let i = 8; i < b.length; i++) b[i] = (seed * 31 + i * 7) & 0xff;
  return b;
}

/**
 * Wraps session.generate so each Generation reports how many steps it yielded after its AbortSignal
 * fired — the server-side measure of "Stop halts within one step".
 */
export function countStepsAfterAbort(s: Session): { after: number[]; restore(): void } {
  const orig = s.generate.bind(s);
  const after: number[] = [];
  s.generate = ((prompt: Prompt, opts: SessionGenerateOptions = {}) => {
    const g = orig(prompt, opts);
    const slot = after.push(0) - 1;
    const inner = g[Symbol.asyncIterator].bind(g);
    g[Symbol.asyncIterator] = async function* (): AsyncGenerator<Step> {
      const it = inner();
      try {
        for (;;) {
          const r = await it.next();
          if (r.done) return;
          if (opts.signal?.aborted) after[slot]++;
          yield r.value;
        }
      } finally {
        await it.return?.(undefined);
      }
    } as typeof g[typeof Symbol.asyncIterator];
    return g;
  }) as typeof s.generate;
  return { after, restore: () => (s.generate = orig) };
}
