/**
 * Drawing held-out prompts with a trained arm, and the per-item scores the verdicts pair across arms and
 * seeds (one number per held-out prompt, NaN where it is undefined; the items in the same order for every
 * arm and seed, as papers/paired.ts needs):
 *
 *   identity     (Finding 1, encoder vs caption-only) in a generic-word prompt ("a <crop> animal"), the share
 *                of its crops whose emoji the scene checker finds in the object's caption region: identity
 *                that only the crop can carry. NaN for prompts that name their objects.
 *   cropClipI    (Finding 1, §7) CLIP-I between each crop and the output cut at the object's box in the
 *                target scene (both area-resized to 32×32), mean over the prompt's crops: "average CLIP
 *                similarity between objects in the input prompt and corresponding objects in the output" (§7)
 *   copied       (§7, Fig. 12) the share of crops that reappear unchanged at their ORIGINAL size and place: the
 *                checker's ink distance between the output there and the crop ≤ COPY_DISTANCE. On other-source
 *                prompts that place is not where the caption puts the object (the whole canvas for an emoji
 *                image, the box in another scene for two-scenes crops), so a high share is copy-pasting.
 *   harmonised   (Finding 2) 1 when the checker finds every object of the target's caption in its region (one
 *                coherent scene with the crops' objects where the words put them), else 0
 */
import * as tf from '@tensorflow/tfjs';
import type { RGBImage } from '../../image/types';
import { cropImage, resizeArea } from '../../image/rgb';
import type { Example } from '../../data/example-list';
import type { MumuMeta } from '../../data/mumu-prompts';
import type { Session } from '../../session';
import type { LatentDiffusion } from '../../diffusion/model';
import type { Conditioning } from '../../diffusion/caption-encoder';
import type { ClipModel } from '../../eval/clip';
import { centreIn, inkDistance, SceneChecker } from '../../eval/scene-checker';
import type { Connector } from './connector';
import { MumuItem, padPromptRows, promptRow } from './items';
import { promptStates } from './encoder';

/**
 * Ink distance at or below which a crop counts as copied. Measured on 145 crops of 60 held-out scenes (README
 * "MUMU"): the scene through the VQ-VAE and back (what a perfect copy looks like after the decoder's VQ-VAE
 * decoding) is at median 0.039 from the crop at its box, 95th percentile 0.092; the crop's own pixels one pixel
 * off its box at median 0.098 (min 0.039); another object of the same size at least 0.16 (median 0.43).
 */
export const COPY_DISTANCE = 0.1;
/** Side of the images CLIP-I compares. */
const CLIP_SIDE = 32;

/** A trained arm for drawing: the LM and connector (prompt arms) or neither (caption-only), and the decoder (LoRA attached). */
export interface DrawParts {
  session: Session | null;
  connector: Connector | null;
  ldm: LatentDiffusion;
}

/** The conditioning of held-out items (the caller disposes it): connector(LM states), or τ(words) without a connector. */
export function conditionItems(p: DrawParts, items: readonly MumuItem[]): Conditioning {
  if (!p.connector) return p.ldm.encodeCaption(items.map((it) => it.caption));
  if (!p.session) throw new Error('mumu: a prompt arm draws through the LM; give its session');
  const { height, width } = p.session.tokenizer.imageGrid;
  const tokens = p.connector.tokensPerCrop(height * width);
  const b = padPromptRows(p.session.tokenizer, items.map((it) => promptRow(p.session!.tokenizer, it.prompt, tokens)));
  const states = promptStates(p.session.model, b, p.connector);
  try {
    return tf.tidy(() => p.connector!.forward(states, tf.tensor2d(b.mask, [b.B, b.T])) as unknown as tf.TensorContainerObject) as unknown as Conditioning;
  } finally {
    states.dispose();
  }
}

export interface DrawOptions {
  /** Classifier-free guidance scale against the null conditioning (default 4). */
  cfgScale?: number;
  /** DDIM steps (default 25). */
  steps?: number;
  /** Item i starts from the noise of seed + i, whatever the batching (default 0). */
  seed?: number;
  /** Items drawn per sampling call (default 8). */
  batch?: number;
  onProgress?: (done: number, total: number) => void;
}

/** One image per item (see DrawOptions). */
export async function drawItems(p: DrawParts, items: readonly MumuItem[], o: DrawOptions = {}): Promise<RGBImage[]> {
  const batch = o.batch ?? 8;
  if (!Number.isInteger(batch) || batch < 1) throw new Error(`mumu.drawItems: batch must be a positive integer, got ${JSON.stringify(o.batch)}`);
  const out: RGBImage[] = [];
  for (let k = 0; k < items.length; k += batch) {
    const cond = conditionItems(p, items.slice(k, k + batch));
    try {
      const r = await p.ldm.sample({ cond, cfgScale: o.cfgScale ?? 4, steps: o.steps ?? 25, seed: (o.seed ?? 0) + k });
      out.push(...r.images);
    } finally {
      tf.dispose([cond.seq, cond.mask]);
    }
    o.onProgress?.(out.length, items.length);
  }
  return out;
}

const at32 = (img: RGBImage) => (img.height === CLIP_SIDE && img.width === CLIP_SIDE ? img : resizeArea(img, CLIP_SIDE, CLIP_SIDE));

function checkLengths(what: string, images: readonly RGBImage[], n: number): void {
  if (images.length !== n) throw new Error(`mumu.${what}: ${images.length} images for ${n} prompts`);
}

/** The crop images of a prompt, in crop order. */
function cropsOf(ex: Example<MumuMeta>): RGBImage[] {
  return ex.meta.crops.map((c) => {
    const part = ex.parts[c.part];
    if (!part || !('image' in part)) throw new Error(`mumu: ${ex.id}: crop ${c.object} points at part ${c.part}, which is not an image`);
    return part.image;
  });
}

/** Identity accuracy of generic-word objects per prompt (see the file comment). */
export function identityScores(checker: SceneChecker, images: readonly RGBImage[], metas: readonly MumuMeta[]): number[] {
  checkLengths('identityScores', images, metas.length);
  return metas.map((m, i) => {
    if (!m.generic || m.crops.length === 0) return NaN;
    const check = checker.check(images[i], m.scene);
    const right = m.crops.filter((c) => {
      const hit = check.matches[c.object];
      return hit !== null && centreIn(hit.box, m.scene.objects[c.object].region);
    }).length;
    return right / m.crops.length;
  });
}

/** CLIP-I between each crop and the output at its object's box, mean per prompt (NaN without crops). */
export function cropClipI(clip: ClipModel, images: readonly RGBImage[], examples: ReadonlyArray<Example<MumuMeta>>): number[] {
  checkLengths('cropClipI', images, examples.length);
  const a: RGBImage[] = [];
  const b: RGBImage[] = [];
  const owner: number[] = [];
  examples.forEach((ex, i) => {
    const out = at32(images[i]);
    cropsOf(ex).forEach((crop, k) => {
      a.push(at32(crop));
      b.push(at32(cropImage(out, ex.meta.scene.objects[ex.meta.crops[k].object].box)));
      owner.push(i);
    });
  });
  const scores = a.length > 0 ? clip.clipI(a, b).scores : new Float32Array(0);
  const sum = new Float64Array(examples.length);
  const count = new Float64Array(examples.length);
  owner.forEach((i, j) => {
    sum[i] += scores[j];
    count[i]++;
  });
  return Array.from(sum, (s, i) => (count[i] > 0 ? s / count[i] : NaN));
}

/** Share of each prompt's crops found unchanged at their original size and place (NaN without crops). */
export function copyScores(images: readonly RGBImage[], examples: ReadonlyArray<Example<MumuMeta>>, threshold = COPY_DISTANCE): number[] {
  checkLengths('copyScores', images, examples.length);
  return examples.map((ex, i) => {
    const crops = cropsOf(ex);
    if (crops.length === 0) return NaN;
    const out = at32(images[i]);
    const copied = crops.filter((crop, k) => {
      const box = ex.meta.crops[k].box;
      const original = crop.height === box.h && crop.width === box.w ? crop : resizeArea(crop, box.h, box.w);
      return inkDistance(cropImage(out, box), original) <= threshold;
    }).length;
    return copied / crops.length;
  });
}

/** 1 when every object of the target's caption is found in its region, else 0 (Finding 2). */
export function harmonisedScores(checker: SceneChecker, images: readonly RGBImage[], metas: readonly MumuMeta[]): number[] {
  checkLengths('harmonisedScores', images, metas.length);
  return metas.map((m, i) => {
    const check = checker.check(images[i], m.scene);
    return check.positionsRight === check.objects ? 1 : 0;
  });
}
