/**
 * Shared by the Liquid tests: a stand-in VQ codec for the tiny test tokenizer (4×4 codes, 32 of them, from
 * each cell's mean brightness; decoding paints each cell grey at its code's level), and tiny tools for a run
 * (a small data build, the tiny tokenizer, a shrunk size config, few Brown documents and held-out items).
 */
import * as path from 'path';
import type { RGBImage } from '../../kernel-lib/image/types';
import type { ImageCodes } from '../../kernel-lib/tokenizer';
import type { DataStore } from '../../kernel-lib/data/store';
import { liquid } from '../../kernel-lib';
import { SceneChecker } from '../../kernel-lib/eval/scene-checker';
import { ClipModel } from '../../kernel-lib/eval/clip';
import { defaultClipConfig } from '../../kernel-lib/eval/clip-config';
import { tinyBpe, tinyTokenizer } from '../helpers/fixtures';

/** A stand-in VQ encoder: 4×4 codes from each cell's mean brightness (deterministic, in [0, 32)). */
export function fakeVq(img: RGBImage): ImageCodes {
  const codes: number[] = [];
  for (let r = 0; r < 4; r++) {
    for (let c = 0; c < 4; c++) {
      let sum = 0;
      let n = 0;
      for (let y = Math.floor((r * img.height) / 4); y < Math.floor(((r + 1) * img.height) / 4); y++) {
        for (let x = Math.floor((c * img.width) / 4); x < Math.floor(((c + 1) * img.width) / 4); x++, n++) sum += img.pixels[(y * img.width + x) * 3];
      }
      codes.push(Math.floor(sum / Math.max(n, 1) / 8) % 32);
    }
  }
  return { height: 4, width: 4, codes };
}

/** Codes → 32×32 images: each of the 4×4 cells grey at level 8·code. */
export function fakeDecode(grids: readonly ImageCodes[]): RGBImage[] {
  return grids.map((g) => {
    const pixels = new Uint8Array(32 * 32 * 3);
    for (let y = 0; y < 32; y++) for (let x = 0; x < 32; x++) pixels.fill(8 * g.codes[Math.floor(y / 8) * 4 + Math.floor(x / 8)], (y * 32 + x) * 3, (y * 32 + x) * 3 + 3);
    return { height: 32, width: 32, pixels };
  });
}

export const fakeCodec = (): liquid.ImageCodec & { calls: number; images: number } => {
  const c = {
    numCodes: 32,
    grid: { height: 4, width: 4 },
    calls: 0,
    images: 0,
    encode: (imgs: readonly RGBImage[]) => {
      c.calls++;
      c.images += imgs.length;
      return imgs.map(fakeVq);
    },
    decode: fakeDecode,
  };
  return c;
};

/** A size preset shrunk for tests: one layer, hidden 16, 4 experts top-2, a context for 160-token rows. */
export const TINY_SIZE = { hiddenSize: 16, intermediateSize: 8, numLayers: 1, numHeads: 2, numKvHeads: 1, numExperts: 4, topK: 2, maxPositions: 256 };

/** Few held-out items of each kind. */
export const TINY_HELD_OUT: Partial<liquid.HeldOutSizes> = { brownWindows: 4, brownSeqLen: 32, t2iItems: 4, i2tItems: 4, questions: 4, drawn: 2, routingRows: 4 };

/** A small random CLIP on the tiny tokenizer (its scores mean nothing; they exercise the CLIP-T path). */
export function tinyClip(): ClipModel {
  const bpe = tinyBpe();
  return ClipModel.create(bpe, defaultClipConfig({ vocabSize: bpe.vocabSize, visionWidths: [8, 8, 8], visionHidden: 16, textEmbed: 8, textHidden: 16, embedDim: 8 }), 1);
}

/** Tools for a run on a small data build: text checkpoints under `root`/liquid/text-<size>, with the scene checker and a tiny CLIP. */
export function tinyTools(store: DataStore, root: string, o: { evaluators?: boolean } = {}): liquid.LiquidTools & { codec: ReturnType<typeof fakeCodec> } {
  const checker = o.evaluators === false ? undefined : SceneChecker.fromStore(store);
  const clip = o.evaluators === false ? undefined : tinyClip();
  return {
    store,
    codec: fakeCodec(),
    checker,
    clip,
    textDir: (size) => path.join(root, 'liquid', `text-${size}`),
    brown: { maxDocs: 3 },
    textTokenizer: tinyTokenizer(false),
    configFor: () => TINY_SIZE,
    heldOutSizes: TINY_HELD_OUT,
    dispose: () => {
      checker?.dispose();
      clip?.dispose();
    },
  };
}
