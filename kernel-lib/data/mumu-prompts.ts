/**
 * MUMU's multimodal prompts (§4, Fig. 3): a scene's caption with crops of its objects inserted *before*
 * the words that name them, "a <crop> cat to the left of a <crop> tree", the crops cut from the scene
 * itself at the boxes the generator placed (so the box is an exact detector). As parts:
 *
 *   [{text: "a"}, {image: crop of the cat}, {text: " cat to the left of a"}, {image: crop}, {text: " tree"}]
 *
 * The text parts joined without separators give the prompt's caption (`meta.caption`). Rules:
 *   - at most `maxCrops` crops (default 3, MUMU's limit): the first objects in caption order get one;
 *   - generic words: a prompt is *generic* when the first draw of the stream `mumu-generic/<id>` (seeded)
 *     is below `genericShare` (default 0.5); in a generic prompt every object with a crop is named by its
 *     category instead ("a <crop> animal", categories.ts), so identity must come from the crop;
 *   - augmentation: each crop (key `<id>/<k>`) is augmented when augment.ts's decision says so (default
 *     20 %, flip / colour jitter / rescale);
 *   - `cropSize` resizes every crop (area) to cropSize × cropSize after augmentation, for an image
 *     tokenizer with a fixed input size (MUMU resizes crops to the target resolution); default: the box's size.
 * The target is the scene (`meta.target`). Other-source crops for the harmonisation tests (Finding 2) are in
 * mumu-sources.ts.
 */
import { Augmentation, AugmentOptions, maybeAugment } from './augment';
import { categoryOf, Category } from './categories';
import { EmojiInfo, Split, SPLITS } from './emoji';
import { DataPart, Example, ExampleList, ListDataset } from './example-list';
import type { RGBImage } from '../image/types';
import { cropImage, resizeArea } from '../image/rgb';
import { Box } from './layout';
import { indefiniteArticle } from './names';
import { rngFor } from '../util/random';
import { SceneSpec } from './scenes';
import { DataStore } from './store';

export type CropSource = 'scene' | 'emoji' | 'shifted-emoji' | 'two-scenes';

export interface PromptCrop {
  /** Which object of `meta.scene` the crop shows. */
  object: number;
  /** Index of its image part in `parts`. */
  part: number;
  /** The box it was cut from (in the scene it came from; the whole image for emoji sources). */
  box: Box;
  /** The word(s) after it: the object's name, or its category in a generic prompt. */
  word: string;
  augmentation: Augmentation | null;
}

export interface MumuMeta {
  split: Split;
  /** The scene (index into the split) the prompt describes; for 'two-scenes' the scenes the crops came from. */
  index: number;
  sources: number[];
  source: CropSource;
  generic: boolean;
  /** The prompt's words (text parts joined). */
  caption: string;
  crops: PromptCrop[];
  /** What the target shows: objects, boxes, caption claims (a scene checker claim). */
  scene: SceneSpec;
  /** The image to generate. */
  target: RGBImage;
}

export interface MumuOptions {
  split?: Split;
  /** Seeds every choice (default 0) and, when given, shuffles the order per epoch. */
  seed?: number;
  /** 0–3 (default 3). */
  maxCrops?: number;
  /** Share of generic prompts (default 0.5). */
  genericShare?: number;
  /** Crop augmentation (default rate 0.2); false for none. */
  augment?: AugmentOptions | false;
  /** Resize crops to this side (default: keep the box's size). */
  cropSize?: number;
}

export const MAX_CROPS = 3;

export function checkMumuOptions(o: MumuOptions, what: string): void {
  if (o.split !== undefined && !SPLITS.includes(o.split)) throw new Error(`${what}: split must be one of ${SPLITS.join(', ')}, got '${o.split}'`);
  if (o.maxCrops !== undefined && !(Number.isInteger(o.maxCrops) && o.maxCrops >= 0 && o.maxCrops <= MAX_CROPS)) {
    throw new Error(`${what}: maxCrops must be an integer in [0, ${MAX_CROPS}], got ${o.maxCrops}`);
  }
  if (o.genericShare !== undefined && !(o.genericShare >= 0 && o.genericShare <= 1)) throw new Error(`${what}: genericShare must be in [0, 1], got ${o.genericShare}`);
  if (o.cropSize !== undefined && !(Number.isInteger(o.cropSize) && o.cropSize >= 1)) throw new Error(`${what}: cropSize must be a positive integer, got ${o.cropSize}`);
}

/** "a tiger face" → ["a", "tiger face"]; "thumbs up" → ["", "thumbs up"] (the crop goes between). */
function splitPhrase(e: EmojiInfo): [string, string] {
  const article = e.phrase.slice(0, e.phrase.length - e.name.length).trim();
  return [article, e.name];
}

/** One object's crop before it is placed: its pixels and where they came from. */
export interface CropInput {
  image: RGBImage;
  box: Box;
}

/**
 * The prompt for `spec` with `crops[i]` the picture of object i (only the first maxCrops objects in caption
 * order are used). `id` names the prompt's random streams.
 */
export function buildMumuPrompt(
  id: string,
  spec: SceneSpec,
  crops: readonly CropInput[],
  byIndex: (emoji: number) => EmojiInfo,
  o: MumuOptions,
): { parts: DataPart[]; caption: string; generic: boolean; crops: PromptCrop[] } {
  const seed = o.seed ?? 0;
  const generic = rngFor(`mumu-generic/${id}`, seed)() < (o.genericShare ?? 0.5);
  const maxCrops = o.maxCrops ?? MAX_CROPS;
  const parts: DataPart[] = [];
  const placed: PromptCrop[] = [];
  let text = '';
  for (const piece of spec.template) {
    if (typeof piece === 'string') {
      text += piece;
      continue;
    }
    const e = byIndex(spec.objects[piece].emoji);
    if (placed.length >= maxCrops) {
      text += e.phrase;
      continue;
    }
    const cat: Category | null = generic ? categoryOf(e) : null;
    const [article, word] = cat ? [indefiniteArticle(cat.word), cat.word] : splitPhrase(e);
    text += article;
    if (text !== '') parts.push({ text });
    const k = placed.length;
    const raw = o.augment === false ? { image: crops[piece].image, augmentation: null } : maybeAugment(crops[piece].image, `${id}/${k}`, seed, o.augment);
    const image = o.cropSize === undefined ? raw.image : resizeArea(raw.image, o.cropSize, o.cropSize);
    placed.push({ object: piece, part: parts.length, box: { ...crops[piece].box }, word, augmentation: raw.augmentation });
    parts.push({ image });
    text = article === '' ? word : ` ${word}`;
  }
  if (text !== '') parts.push({ text });
  const caption = parts.map((p) => ('text' in p ? p.text : '')).join('');
  return { parts, caption, generic, crops: placed };
}

/** MUMU prompts of a split's scenes, crops cut from the scene (see the file comment). */
export function mumuPrompts(store: DataStore, options: MumuOptions = {}): ExampleList<MumuMeta> {
  checkMumuOptions(options, 'mumuPrompts');
  const split = options.split ?? 'train';
  const specs = store.scenes(split);
  const byIndex = (i: number): EmojiInfo => store.emoji[i];
  return new ListDataset('mumu', split, specs.length, options.seed, (i): Example<MumuMeta> => {
    const spec = specs[i];
    const scene = store.sceneImage(split, i);
    const id = `mumu/${split}/${i}`;
    const crops = spec.objects.map((ob) => ({ image: cropImage(scene, ob.box), box: ob.box }));
    const p = buildMumuPrompt(id, spec, crops, byIndex, options);
    return { id, parts: p.parts, meta: { split, index: i, sources: [i], source: 'scene', generic: p.generic, caption: p.caption, crops: p.crops, scene: spec, target: scene } };
  });
}
