/**
 * One API over every data set: an example is an id, interleaved parts (`{text}` / `{image}` with RGB
 * pixels) and metadata.
 *
 *   const ds = await openDataset('scenes', { split: 'train', seed: 1 });
 *   for (const batch of batches(ds.epoch(0), 32)) …            // shuffled, a new order per epoch
 *   const prompt = toPrompt(ds.get(0).parts, (img) => vq.encode(img));   // pixels → image codes
 *
 * Without a seed, examples come in stored order with their canonical caption; with one, the order is a
 * seeded shuffle per epoch and emoji captions are drawn from their template variants — both a pure
 * function of (seed, epoch, index). The cache is built on first use (see build.ts).
 */
import { ImageCodes, PromptPart } from '../tokenizer';
import { BuildOptions } from './build';
import { EmojiInfo, Split, SPLITS } from './emoji';
import { IMAGE_SIZE, LOW_RES_SIZE } from './image';
import type { RGBImage } from '../image/types';
import { downscale2x } from '../image/rgb';
import { DataPart, ExampleBuilder, ExampleList, ListDataset } from './example-list';
import { pick } from '../util/random';
import { renderCaption, SceneSpec } from './scenes';
import { StorySpec } from './stories';
import { DataStore, ensureData } from './store';

export type { DataPart, Example } from './example-list';

export const DATASET_NAMES = ['emoji', 'scenes', 'stories', 'brown', 'captions'] as const;
export type DatasetName = (typeof DATASET_NAMES)[number];

/** The `meta` of each data set's examples. */
export interface DatasetMeta {
  emoji: EmojiInfo;
  scenes: SceneSpec & { split: Split; index: number };
  stories: StorySpec & { split: Split; index: number };
  brown: { document: string; genre: string; paragraph?: number; sentence?: number };
  captions: { source: 'emoji' | 'scenes' | 'stories' };
}

export interface DatasetOptions {
  /** Default 'train'. */
  split?: Split;
  /** Shuffles the order per epoch and picks caption variants; leave out for stored order and canonical captions. */
  seed?: number;
  /** 32 (default) or 16: every image, crops included, halved by 2×2 averaging. */
  resolution?: 32 | 16;
  /** emoji, scenes: put the image before its caption (captioning rather than generation). */
  imageFirst?: boolean;
  /**
   * scenes: 'caption' (default) is [caption, scene]; 'mumu' interleaves each object's original emoji
   * image after its words, then the scene: ["a tiger face", <tiger>, " to the left of an apple", <apple>, <scene>].
   */
  format?: 'caption' | 'mumu';
  /** brown: one example per 'paragraph' (default), 'document' (paragraphs joined by blank lines) or 'sentence'. */
  unit?: 'paragraph' | 'document' | 'sentence';
  /** Where and what to build (cache folder, scene/story counts); default: the default cache. */
  build?: BuildOptions;
}

/** A data set: an example list named by its data set. */
export interface Dataset<M = unknown> extends ExampleList<M> {
  readonly name: DatasetName;
}

/** Groups items into arrays of `size` (the last one shorter unless dropLast). */
export function* batches<T>(items: Iterable<T>, size: number, { dropLast = false } = {}): Generator<T[]> {
  if (!Number.isInteger(size) || size < 1) throw new Error(`batches: size must be a positive integer, got ${size}`);
  let batch: T[] = [];
  for (const item of items) {
    batch.push(item);
    if (batch.length === size) {
      yield batch;
      batch = [];
    }
  }
  if (batch.length > 0 && !dropLast) yield batch;
}

/** Parts as a tokenizer prompt: text stays, each image becomes codes via `encode` (e.g. a VQ-VAE encoder). */
export function toPrompt(parts: readonly DataPart[], encode: (image: RGBImage) => ImageCodes): PromptPart[] {
  return parts.map((p) => ('text' in p ? { text: p.text } : { image: encode(p.image) }));
}

/** The images of an example's image parts, in order (text left out). */
export function imagesOf(parts: readonly DataPart[]): RGBImage[] {
  return parts.flatMap((p) => ('image' in p ? [p.image] : []));
}

/** The text of an example's text parts, joined by a space (images left out). */
export function textOf(parts: readonly DataPart[]): string {
  return parts.flatMap((p) => ('text' in p ? [p.text] : [])).join(' ');
}

function checkOptions(name: string, o: DatasetOptions): void {
  if (!(DATASET_NAMES as readonly string[]).includes(name)) {
    throw new Error(`openDataset: unknown data set '${name}'; expected one of ${DATASET_NAMES.join(', ')}`);
  }
  if (o.split !== undefined && !SPLITS.includes(o.split)) {
    throw new Error(`openDataset: split must be one of ${SPLITS.join(', ')}, got '${o.split}'`);
  }
  if (o.seed !== undefined && (!Number.isInteger(o.seed) || o.seed < 0)) {
    throw new Error(`openDataset: seed must be a non-negative integer, got ${o.seed}`);
  }
  if (o.resolution !== undefined && o.resolution !== IMAGE_SIZE && o.resolution !== LOW_RES_SIZE) {
    throw new Error(`openDataset: resolution must be ${IMAGE_SIZE} or ${LOW_RES_SIZE}, got ${o.resolution}`);
  }
  if (o.format !== undefined && (name !== 'scenes' || !['caption', 'mumu'].includes(o.format))) {
    throw new Error(`openDataset: format is for scenes, 'caption' or 'mumu'; got '${o.format}' for ${name}`);
  }
  if (o.unit !== undefined && (name !== 'brown' || !['paragraph', 'document', 'sentence'].includes(o.unit))) {
    throw new Error(`openDataset: unit is for brown, 'paragraph', 'document' or 'sentence'; got '${o.unit}' for ${name}`);
  }
}

/** Opens a data set (building the cache first if needed). See DatasetOptions. */
export async function openDataset<N extends DatasetName>(name: N, options: DatasetOptions = {}): Promise<Dataset<DatasetMeta[N]>> {
  checkOptions(name, options);
  const store = await ensureData(options.build);
  return datasetFromStore(store, name, options);
}

/** openDataset over an already-open store (synchronous). */
export function datasetFromStore<N extends DatasetName>(store: DataStore, name: N, options: DatasetOptions = {}): Dataset<DatasetMeta[N]> {
  checkOptions(name, options);
  return buildDataset(store, name, options) as Dataset<DatasetMeta[N]>;
}

function buildDataset(store: DataStore, name: DatasetName, options: DatasetOptions): Dataset<unknown> {
  const split = options.split ?? 'train';
  const seed = options.seed;
  const low = options.resolution === LOW_RES_SIZE;
  const img = (im: RGBImage): DataPart => ({ image: low ? downscale2x(im) : im });
  const pair = (text: string, image: RGBImage): DataPart[] => (options.imageFirst ? [img(image), { text }] : [{ text }, img(image)]);
  const make = <M>(size: number, build: ExampleBuilder<M>): Dataset<M> => new ListDataset(name, split, size, seed, build);

  switch (name) {
    case 'emoji': {
      const rows = store.emoji.filter((e) => e.split === split);
      return make<DatasetMeta['emoji']>(rows.length, (i, rand) => {
        const e = rows[i];
        const caption = rand === null ? e.captions[0] : pick(rand, e.captions);
        return { id: `emoji/${e.unified}`, parts: pair(caption, store.emojiImage(e.index)), meta: { ...e } };
      });
    }
    case 'scenes': {
      const specs = store.scenes(split);
      const phrasesOf = (objects: ReadonlyArray<{ emoji: number }>): string[] => objects.map((o) => store.emoji[o.emoji].phrase);
      return make<DatasetMeta['scenes']>(specs.length, (i) => {
        const s = specs[i];
        const scene = store.sceneImage(split, i);
        const meta = { split, index: i, ...s };
        if (options.format !== 'mumu') return { id: `scenes/${split}/${i}`, parts: pair(s.caption, scene), meta };
        const phrases = phrasesOf(s.objects);
        const parts: DataPart[] = [];
        let text = '';
        for (const piece of s.template) {
          if (typeof piece === 'string') {
            text += piece;
            continue;
          }
          parts.push({ text: text + phrases[piece] }, img(store.emojiImage(s.objects[piece].emoji)));
          text = '';
        }
        if (text !== '') parts.push({ text });
        parts.push(img(scene));
        return { id: `scenes/${split}/${i}`, parts, meta: { ...meta, caption: renderCaption(s.template, phrases) } };
      });
    }
    case 'stories': {
      const specs = store.stories(split);
      return make<DatasetMeta['stories']>(specs.length, (i) => ({
        id: `stories/${split}/${i}`,
        parts: specs[i].frames.flatMap((f, k) => [{ text: f.narration }, img(store.storyFrameImage(split, i, k))]),
        meta: { split, index: i, ...specs[i] },
      }));
    }
    case 'brown': {
      const docs = store.brown.filter((d) => d.split === split);
      const unit = options.unit ?? 'paragraph';
      const items: Array<{ text: string; meta: DatasetMeta['brown'] }> = [];
      for (const d of docs) {
        const base = { document: d.id, genre: d.genre };
        if (unit === 'document') {
          items.push({ text: d.paragraphs.map((p) => p.join(' ')).join('\n\n'), meta: base });
          continue;
        }
        d.paragraphs.forEach((p, pi) => {
          if (unit === 'paragraph') items.push({ text: p.join(' '), meta: { ...base, paragraph: pi } });
          else p.forEach((s, si) => items.push({ text: s, meta: { ...base, paragraph: pi, sentence: si } }));
        });
      }
      return make<DatasetMeta['brown']>(items.length, (i) => ({
        id: `brown/${[items[i].meta.document, items[i].meta.paragraph, items[i].meta.sentence].filter((x) => x !== undefined).join('/')}`,
        parts: [{ text: items[i].text }],
        meta: items[i].meta,
      }));
    }
    case 'captions': {
      const items = captionTexts(store, split);
      return make<DatasetMeta['captions']>(items.length, (i) => ({ id: `captions/${split}/${i}`, parts: [{ text: items[i].text }], meta: { source: items[i].source } }));
    }
  }
}

/** Every caption and narration of a split as text: emoji captions (all variants), scene captions, stories' narration. */
export function captionTexts(store: DataStore, split: Split): Array<{ text: string; source: 'emoji' | 'scenes' | 'stories' }> {
  const out: Array<{ text: string; source: 'emoji' | 'scenes' | 'stories' }> = [];
  for (const e of store.emoji) if (e.split === split) for (const c of e.captions) out.push({ text: c, source: 'emoji' });
  for (const s of store.scenes(split)) out.push({ text: s.caption, source: 'scenes' });
  for (const s of store.stories(split)) out.push({ text: s.frames.map((f) => f.narration).join(' '), source: 'stories' });
  return out;
}
