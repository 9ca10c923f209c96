/**
 * MiniGPT-5's training items as token rows. An item is a prompt (text and context images as VQ codes),
 * then its target: text (a caption in stage 1, a narration in stage 2) and/or an image, which the LM marks
 * with the vokens at the image's place (§3.2, "we append the vokens to the positions of ground truth
 * images") and the decoder draws from their hidden states:
 *
 *   ids       <bos> prompt … | target text [IMG1] … [IMGn] <eos>
 *   weights   1 on every target (target text, vokens, <eos>; L_text, Eq. 1), 0 on the prompt and the padding
 *   vokenAt   index in ids of [IMG1]: the n positions whose INPUT is a voken carry h_voken (final norm)
 *
 * Stage 1 (caption → scene pairs) has no prompt: `<bos> caption [IMG1] … [IMGn] <eos>`, every token a
 * target, as the paper trains vokens on captions. Without vokens (Table 2's text-only baseline) the image
 * is left out of the row.
 */
import type { ImageCodes, MultimodalTokenizer } from '../../tokenizer';
import { joinTextParts, PromptPart } from '../../tokenizer/prompt';
import type { RGBImage } from '../../image/types';
import type { Example } from '../../data/example-list';
import type { VokenStoryMeta } from '../../data/voken-stories';
import type { DataStore } from '../../data/store';
import type { Split } from '../../data/emoji';
import { vokenIds } from './vokens';

/** A prompt part with its image as codes (what the LM reads). */
export type CodedPart = PromptPart;

/** One item: its prompt (images as codes), its target text and the image drawn through the vokens. */
export interface VokenItem {
  id: string;
  prompt: CodedPart[];
  /** Text the model writes before the image (or alone), or null. */
  targetText: string | null;
  /** The image generated through the vokens (RGB), or null for a text-only target. */
  image: RGBImage | null;
  /** The image's caption: L_CAP's target in stage 1 (null in stage 2: description-free). */
  caption: string | null;
}

export interface VokenRow {
  ids: number[];
  /** Index of the first target id. */
  targetAt: number;
  /** Index of [IMG1] (null: no image in the row). */
  vokenAt: number | null;
}

/** The row of an item (see the file comment); `vokens: false` leaves the image out (text-only baseline). */
export function vokenRow(tok: MultimodalTokenizer, item: VokenItem, o: { vokens?: boolean } = {}): VokenRow {
  const withImage = item.image !== null && (o.vokens ?? true);
  if (item.targetText === null && !withImage) throw new Error(`minigpt5: item ${item.id} has no target`);
  const prompt = item.prompt.length > 0 ? tok.encodePrompt(joinTextParts(item.prompt)).ids : [tok.bos];
  const text = item.targetText === null ? [] : tok.encodePrompt(item.targetText, { addBos: false }).ids;
  const ids = [...prompt, ...text];
  const vokenAt = withImage ? ids.length : null;
  if (withImage) ids.push(...vokenIds(tok));
  ids.push(tok.eos);
  return { ids, targetAt: prompt.length, vokenAt };
}

/** Rows padded to one length with <pad>; per-target weights [B·T]; the flat input positions of each image row's vokens. */
export interface PaddedRows {
  rows: number[][];
  B: number;
  T: number;
  weights: Float32Array;
  /** Batch rows with an image, in order. */
  imageRows: number[];
  /** For each image row, its n voken input positions b·T + t (flattened, row after row). */
  vokenPositions: number[];
}

export function padRows(tok: MultimodalTokenizer, rows: readonly VokenRow[]): PaddedRows {
  if (rows.length === 0) throw new Error('minigpt5: a batch needs at least one row');
  const n = tok.numVokens;
  const L = Math.max(...rows.map((r) => r.ids.length));
  const T = L - 1;
  const weights = new Float32Array(rows.length * T);
  const imageRows: number[] = [];
  const vokenPositions: number[] = [];
  const padded = rows.map((r, b) => {
    for (let j = 0; j < T; j++) if (j + 1 >= r.targetAt && j + 1 < r.ids.length) weights[b * T + j] = 1;
    if (r.vokenAt !== null) {
      imageRows.push(b);
      for (let k = 0; k < n; k++) vokenPositions.push(b * T + r.vokenAt + k);
    }
    return [...r.ids, ...new Array<number>(L - r.ids.length).fill(tok.pad)];
  });
  return { rows: padded, B: rows.length, T, weights, imageRows, vokenPositions };
}

/** Images → codes (the VQ-VAE's encodeImages, or a stand-in in tests). */
export type ImageEncoder = (images: readonly RGBImage[]) => ImageCodes[];

/** Where items come from: `size` items, item i built on demand (coded with `encode` when it has context images). */
export interface VokenSource {
  readonly size: number;
  items(indices: readonly number[]): VokenItem[];
}

/** Stage 1's pairs: scene i's caption → its image (the CC3M stand-in). */
export function sceneCaptions(store: Pick<DataStore, 'scenes' | 'sceneImage'>, split: Split): VokenSource {
  const specs = store.scenes(split);
  return {
    size: specs.length,
    items: (indices) => indices.map((i) => ({ id: `scenes/${split}/${i}`, prompt: [], targetText: specs[i].caption, image: store.sceneImage(split, i), caption: specs[i].caption })),
  };
}

/**
 * Stage 2's story items (data/voken-stories.ts) with their context images coded; coded items are kept, so a
 * run codes each item once, the first time it is drawn.
 */
export function storyItems(list: { size: number; get(i: number): Example<VokenStoryMeta> }, encode: ImageEncoder): VokenSource {
  const cache = new Map<number, VokenItem>();
  return {
    size: list.size,
    items(indices) {
      const todo = [...new Set(indices.filter((i) => !cache.has(i)))];
      const examples = todo.map((i) => list.get(i));
      const images: RGBImage[] = [];
      for (const ex of examples) ex.parts.forEach((p, k) => 'image' in p && k !== ex.meta.targetImage && images.push(p.image));
      const codes = images.length > 0 ? encode(images) : [];
      if (codes.length !== images.length) throw new Error(`minigpt5: the image encoder returned ${codes.length} code grids for ${images.length} images`);
      let c = 0;
      examples.forEach((ex, j) => {
        const m = ex.meta;
        const prompt: CodedPart[] = ex.parts.slice(0, m.targetFrom).map((p) => ('image' in p ? { image: codes[c++] } : { text: p.text }));
        const target = ex.parts.slice(m.targetFrom);
        const text = target.find((p): p is { text: string } => 'text' in p);
        const image = m.targetImage >= 0 ? (ex.parts[m.targetImage] as { image: RGBImage }).image : null;
        cache.set(todo[j], { id: ex.id, prompt, targetText: text?.text ?? null, image, caption: null });
      });
      return indices.map((i) => cache.get(i) as VokenItem);
    },
  };
}
