/**
 * What a Liquid run reads besides its arm: the data store, the image tokenizer (VQ-VAE), the evaluators
 * (CLIP, the scene checker), where each size's text checkpoint lives, and — for tests — a tokenizer,
 * smaller size configs, fewer Brown documents and fewer held-out items. `openTools` gives the project's:
 * .cache/data, data/checkpoints/vqvae-emoji and clip-emoji, text checkpoints in .cache/liquid/text-<size>/
 * (moe-h128's is the shipped data/checkpoints/text-moe-small).
 */
import * as path from 'node:path';
import type { DataStore } from '../../data/store';
import { ensureData } from '../../data/store';
import type { MoEConfig, SizePresetName } from '../../model/config';
import type { RGBImage } from '../../image/types';
import { VQVAE } from '../../image/model';
import { gridSize } from '../../image/config';
import { ClipModel } from '../../eval/clip';
import { SceneChecker } from '../../eval/scene-checker';
import type { ImageCodes, ImageGrid, MultimodalTokenizer } from '../../tokenizer';
import type { BrownSource } from '../../recipes/text-moe-small';
import { cachePath, checkpointDir } from '../../paths';
import type { ImageEncoder } from './batches';
import type { HeldOutSizes } from './heldout';
import { SHIPPED_TEXT } from './plan';

/** Images ⇄ codes: what a run needs of a VQ-VAE. */
export interface ImageCodec {
  numCodes: number;
  grid: ImageGrid;
  encode: ImageEncoder;
  decode: (codes: readonly ImageCodes[]) => RGBImage[];
}

export interface LiquidTools {
  store: DataStore;
  codec: ImageCodec;
  clip?: ClipModel;
  checker?: SceneChecker;
  /** A size's text checkpoint directory. */
  textDir: (size: SizePresetName) => string;
  /** Tests: Brown limited to a few documents. */
  brown?: BrownSource;
  /** Tests: the pretraining tokenizer (default the project's). */
  textTokenizer?: MultimodalTokenizer;
  /** Tests: config fields over a size preset's (pretraining). */
  configFor?: (size: SizePresetName) => Partial<MoEConfig>;
  /** Tests: fewer held-out items. */
  heldOutSizes?: Partial<HeldOutSizes>;
  /** Frees what the tools hold (the VQ-VAE, CLIP, the checker). */
  dispose(): void;
}

/** The folder (of .cache, or of data/checkpoints once shipped) that holds one directory per run. */
export const RUNS_FOLDER = 'liquid';

/** A size's text checkpoint directory when the runs are in `runsDir`: the shipped one (moe-h128: text-moe-small), else `<runsDir>/text-<size>`. */
export function textDirIn(runsDir: string, size: SizePresetName): string {
  const shipped = SHIPPED_TEXT[size];
  return shipped ? checkpointDir(shipped) : path.join(runsDir, `text-${size}`);
}

/** Where a size's text checkpoint is: the shipped one, or .cache/liquid/text-<size> under `root` (default the repository's .cache). */
export function textCheckpointDir(size: SizePresetName, root: string = cachePath()): string {
  return textDirIn(path.join(root, RUNS_FOLDER), size);
}

/** The 32×32 image size the emoji VQ-VAE codes (8×8 codes). */
const IMAGE_SIDE = 32;

/** A VQ-VAE as an ImageCodec (32×32 images, 8×8 codes). */
export function vqCodec(vq: VQVAE): ImageCodec {
  const side = gridSize(IMAGE_SIDE);
  return { numCodes: vq.numCodes, grid: { height: side, width: side }, encode: (imgs) => encodeChunks(vq, imgs), decode: (codes) => vq.decode(codes) };
}

function encodeChunks(vq: VQVAE, imgs: readonly RGBImage[]): ImageCodes[] {
  const out: ImageCodes[] = [];
  for (let i = 0; i < imgs.length; i += 256) out.push(...vq.encodeImages(imgs.slice(i, i + 256)));
  return out;
}

/** The project's tools (see the file comment); `evaluators: false` leaves CLIP and the checker out. */
export async function openTools(o: { root?: string; evaluators?: boolean } = {}): Promise<LiquidTools> {
  const store = await ensureData();
  const vq = VQVAE.load(checkpointDir('vqvae-emoji'));
  const clip = o.evaluators === false ? undefined : ClipModel.load(checkpointDir('clip-emoji'));
  const checker = o.evaluators === false ? undefined : SceneChecker.fromStore(store);
  return {
    store,
    codec: vqCodec(vq),
    clip,
    checker,
    textDir: (size) => textCheckpointDir(size, o.root),
    dispose: () => {
      vq.dispose();
      clip?.dispose();
      checker?.dispose();
    },
  };
}
