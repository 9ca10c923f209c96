/**
 * Read access to a built cache: parsed indexes and pixel tables, loaded on first use and kept. One
 * DataStore per cache folder and cache key (`ensureData` reuses it), so opening several data sets, or
 * the same one with another seed, reads each file once.
 */
import fs from 'fs';
import path from 'path';
import { BrownDocument } from './brown';
import { buildData, BuildOptions, Manifest, resolveOptions, staleReason } from './build';
import { EmojiInfo, Split } from './emoji';
import { IMAGE_BYTES, IMAGE_SIZE } from './image';
import type { RGBImage } from '../image/types';
import { defaultCacheDir } from './paths';
import { SceneSpec } from './scenes';
import { StorySpec } from './stories';

function imageAt(table: Uint8Array, i: number): RGBImage {
  if (!Number.isInteger(i) || i < 0 || (i + 1) * IMAGE_BYTES > table.byteLength) {
    throw new Error(`image ${i} is outside the table of ${table.byteLength / IMAGE_BYTES} images`);
  }
  return { height: IMAGE_SIZE, width: IMAGE_SIZE, pixels: table.subarray(i * IMAGE_BYTES, (i + 1) * IMAGE_BYTES) };
}

export class DataStore {
  private readonly memo = new Map<string, unknown>();

  constructor(
    readonly dir: string,
    readonly manifest: Manifest,
  ) {}

  private once<T>(key: string, load: () => T): T {
    if (!this.memo.has(key)) this.memo.set(key, load());
    return this.memo.get(key) as T;
  }

  private json<T>(file: string): T {
    return JSON.parse(fs.readFileSync(path.join(this.dir, file), 'utf8')) as T;
  }

  private bin(file: string): Uint8Array {
    const b = fs.readFileSync(path.join(this.dir, file));
    return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  }

  /** Every emoji image's info, in catalog order (index = row of the pixel table). */
  get emoji(): EmojiInfo[] {
    return this.once('emoji.json', () => this.json<{ entries: EmojiInfo[] }>('emoji.json').entries);
  }

  /** The 32×32 image of catalog entry i (a view into the table: copy before writing to it). */
  emojiImage(i: number): RGBImage {
    return imageAt(this.once('emoji.bin', () => this.bin('emoji.bin')), i);
  }

  scenes(split: Split): SceneSpec[] {
    return this.once(`scenes-${split}.json`, () => this.json<{ specs: SceneSpec[] }>(`scenes-${split}.json`).specs);
  }

  sceneImage(split: Split, i: number): RGBImage {
    return imageAt(this.once(`scenes-${split}.bin`, () => this.bin(`scenes-${split}.bin`)), i);
  }

  stories(split: Split): StorySpec[] {
    return this.once(`stories-${split}.json`, () => this.json<{ specs: StorySpec[] }>(`stories-${split}.json`).specs);
  }

  /** Image of frame `frame` of story `story`. */
  storyFrameImage(split: Split, story: number, frame: number): RGBImage {
    const offsets = this.once(`stories-${split}.offsets`, () => {
      const specs = this.stories(split);
      const o = new Int32Array(specs.length + 1);
      specs.forEach((s, i) => (o[i + 1] = o[i] + s.frames.length));
      return o;
    });
    const n = offsets[story + 1] - offsets[story];
    if (!(frame >= 0 && frame < n)) throw new Error(`story ${story} of ${split} has ${n} frames, not a frame ${frame}`);
    return imageAt(this.once(`stories-${split}.bin`, () => this.bin(`stories-${split}.bin`)), offsets[story] + frame);
  }

  get brown(): BrownDocument[] {
    return this.once('brown.json', () => this.json<{ documents: BrownDocument[] }>('brown.json').documents);
  }
}

const stores = new Map<string, DataStore>();

/**
 * The data cache for these options, building it first when it is missing or stale. Without options:
 * the default cache folder and the default counts (what `npm run data` builds).
 */
export async function ensureData(options: BuildOptions = {}): Promise<DataStore> {
  const dir = path.resolve(options.cacheDir ?? defaultCacheDir());
  const opts = resolveOptions(options);
  if (options.force || staleReason(dir, opts) !== null) await buildData({ ...options, cacheDir: dir });
  const manifest = JSON.parse(fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8')) as Manifest;
  const id = `${dir}|${manifest.key}`;
  let store = stores.get(id);
  if (store === undefined) stores.set(id, (store = new DataStore(dir, manifest)));
  return store;
}
