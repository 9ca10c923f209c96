/**
 * Builds every data set into a cache folder (default `<repo>/.cache/data`, gitignored) as raw pixel
 * tables plus JSON indexes, with one progress line per step:
 *
 *   manifest.json           format version, cache key (hash of inputs + options), counts, file sizes
 *   emoji.json, emoji.bin   catalog; N × 32·32·3 bytes, in catalog order
 *   scenes-<split>.json/.bin   scene specs; one 32×32 RGB image per scene
 *   stories-<split>.json/.bin  story specs; one image per frame, stories in order
 *   brown.json              documents (paragraphs of sentences), with genre and split
 *
 * The build is deterministic: the same inputs and options give byte-identical files. The manifest is
 * written last (and removed first), so an interrupted build is never mistaken for a finished one; a
 * cache whose key does not match the installed packages, the options or FORMAT_VERSION is rebuilt.
 */
import crypto from 'crypto';
import fs from 'fs';
import path from 'path';
import { loadBrown } from './brown';
import { cutEmojiSheet, emojiCatalog, EmojiInfo, SHEET_FILE, Split, SPLITS } from './emoji';
import { IMAGE_BYTES, IMAGE_SIZE } from './image';
import type { RGBImage } from '../image/types';
import { objectVocabulary, SCENE_SUBCATEGORIES, STORY_EXTRA_SUBCATEGORIES } from './objects';
import { BROWN_PACKAGE, defaultCacheDir, EMOJI_PACKAGE, EMOJILIB_PACKAGE, packageFile, packageVersion } from './paths';
import { renderScene, sceneSpec, SceneSpec } from './scenes';
import { storyContext, storySpec, StorySpec } from './stories';

/** Bump when the files' content or layout changes for the same inputs (captions, layouts, formats). */
export const FORMAT_VERSION = 1;

export type SplitCounts = Record<Split, number>;

export interface DataOptions {
  /** Seed of the scene and story generators (the emoji and Brown splits are fixed by hash). */
  seed: number;
  scenes: SplitCounts;
  stories: SplitCounts;
}

export const DEFAULT_DATA_OPTIONS: DataOptions = {
  seed: 0,
  scenes: { train: 10_000, val: 1_000, test: 1_000 },
  stories: { train: 2_000, val: 200, test: 200 },
};

export interface BuildOptions extends Partial<Omit<DataOptions, 'scenes' | 'stories'>> {
  cacheDir?: string;
  scenes?: Partial<SplitCounts>;
  stories?: Partial<SplitCounts>;
  /** Rebuild even when the cache is current. */
  force?: boolean;
  /** Receives one line per step (default: console.log with a "[data]" prefix). */
  onProgress?: (line: string) => void;
}

export interface Manifest {
  format: number;
  key: string;
  inputs: Record<string, string | number>;
  options: DataOptions;
  counts: {
    emoji: SplitCounts;
    scenes: SplitCounts;
    stories: SplitCounts;
    storyFrames: SplitCounts;
    brownDocuments: SplitCounts;
    brownSentences: SplitCounts;
  };
  /** File name → size in bytes. */
  files: Record<string, number>;
}

export function resolveOptions(o: BuildOptions = {}): DataOptions {
  const d = DEFAULT_DATA_OPTIONS;
  const opts: DataOptions = {
    seed: o.seed ?? d.seed,
    scenes: { ...d.scenes, ...o.scenes },
    stories: { ...d.stories, ...o.stories },
  };
  if (!Number.isInteger(opts.seed) || opts.seed < 0) throw new Error(`data: seed must be a non-negative integer, got ${opts.seed}`);
  for (const kind of ['scenes', 'stories'] as const) {
    for (const s of SPLITS) {
      const n = opts[kind][s];
      if (!Number.isInteger(n) || n < 0) throw new Error(`data: ${kind}.${s} must be a non-negative integer, got ${n}`);
    }
  }
  return opts;
}

/** What the cache depends on besides the options: package versions and the sizes of the files read. */
export function inputFingerprint(): Record<string, string | number> {
  const size = (pkg: string, file: string): number => fs.statSync(packageFile(pkg, file)).size;
  return {
    [EMOJI_PACKAGE]: packageVersion(EMOJI_PACKAGE),
    [EMOJILIB_PACKAGE]: packageVersion(EMOJILIB_PACKAGE),
    [BROWN_PACKAGE]: packageVersion(BROWN_PACKAGE),
    'emoji.json bytes': size(EMOJI_PACKAGE, 'emoji.json'),
    'sheet bytes': size(EMOJI_PACKAGE, SHEET_FILE),
    'emojilib bytes': size(EMOJILIB_PACKAGE, 'dist/emoji-en-US.json'),
    'brown cats bytes': size(BROWN_PACKAGE, 'cats.txt'),
  };
}

export function cacheKey(opts: DataOptions, inputs = inputFingerprint()): string {
  const text = JSON.stringify({ format: FORMAT_VERSION, inputs, options: opts });
  return crypto.createHash('sha256').update(text).digest('hex').slice(0, 16);
}

export function readManifest(dir: string): Manifest | null {
  try {
    return JSON.parse(fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8')) as Manifest;
  } catch {
    return null;
  }
}

/** Why the cache in `dir` cannot be used for these options, or null when it can. */
export function staleReason(dir: string, opts: DataOptions): string | null {
  const m = readManifest(dir);
  if (m === null) return `no cache in ${dir}`;
  if (m.format !== FORMAT_VERSION) return `cache format ${m.format}, this code writes ${FORMAT_VERSION}`;
  if (m.key !== cacheKey(opts)) return 'inputs or options changed';
  for (const [file, bytes] of Object.entries(m.files)) {
    let actual = -1;
    try {
      actual = fs.statSync(path.join(dir, file)).size;
    } catch {
      /* missing */
    }
    if (actual !== bytes) return `${file} is missing or has the wrong size`;
  }
  return null;
}

export const defaultProgress = (line: string): void => console.log(`[data] ${line}`);

/** Object vocabularies and story context, from the catalog (shared by build and tokenizer corpus). */
export function generators(catalog: readonly EmojiInfo[]): {
  sceneVocab: EmojiInfo[];
  story: ReturnType<typeof storyContext>;
} {
  const sceneVocab = objectVocabulary(catalog, SCENE_SUBCATEGORIES);
  const storyVocab = objectVocabulary(catalog, [...SCENE_SUBCATEGORIES, ...STORY_EXTRA_SUBCATEGORIES]);
  return { sceneVocab, story: storyContext(catalog, storyVocab) };
}

function countBy<T>(items: readonly T[], split: (t: T) => Split, weight: (t: T) => number = () => 1): SplitCounts {
  const c: SplitCounts = { train: 0, val: 0, test: 0 };
  for (const t of items) c[split(t)] += weight(t);
  return c;
}

function seconds(t0: number): string {
  return `${((performance.now() - t0) / 1000).toFixed(1)} s`;
}

/** Builds the cache when it is missing or stale (or when `force`); returns its manifest. */
export async function buildData(options: BuildOptions = {}): Promise<Manifest> {
  const opts = resolveOptions(options);
  const dir = options.cacheDir ?? defaultCacheDir();
  const log = options.onProgress ?? defaultProgress;
  const why = options.force ? 'forced' : staleReason(dir, opts);
  if (why === null) return readManifest(dir) as Manifest;

  const t0 = performance.now();
  log(`building data sets in ${dir} (${why})`);
  fs.mkdirSync(dir, { recursive: true });
  fs.rmSync(path.join(dir, 'manifest.json'), { force: true });
  const files: Record<string, number> = {};
  const write = (name: string, data: string | Uint8Array): void => {
    const tmp = path.join(dir, `.${name}.${process.pid}.tmp`);
    fs.writeFileSync(tmp, data);
    fs.renameSync(tmp, path.join(dir, name));
    files[name] = typeof data === 'string' ? Buffer.byteLength(data) : data.byteLength;
  };

  let t = performance.now();
  const catalog = emojiCatalog();
  const { pixels: emojiPixels, blank } = await cutEmojiSheet(catalog);
  if (blank.length > 0) log(`warning: ${blank.length} emoji are blank in the sheet: ${blank.slice(0, 5).join(', ')}…`);
  write('emoji.json', JSON.stringify({ entries: catalog }));
  write('emoji.bin', emojiPixels);
  const emojiCounts = countBy(catalog, (e) => e.split);
  log(`emoji: ${catalog.length} images (train ${emojiCounts.train}, val ${emojiCounts.val}, test ${emojiCounts.test}) in ${seconds(t)}`);
  const emojiImage = (i: number): RGBImage => ({
    height: IMAGE_SIZE,
    width: IMAGE_SIZE,
    pixels: emojiPixels.subarray(i * IMAGE_BYTES, (i + 1) * IMAGE_BYTES),
  });

  const { sceneVocab, story } = generators(catalog);
  for (const split of SPLITS) {
    t = performance.now();
    const n = opts.scenes[split];
    const specs: SceneSpec[] = [];
    const pixels = new Uint8Array(n * IMAGE_BYTES);
    for (let i = 0; i < n; i++) {
      const spec = sceneSpec(i, split, sceneVocab, opts.seed);
      specs.push(spec);
      pixels.set(renderScene(spec.objects, emojiImage).pixels, i * IMAGE_BYTES);
    }
    write(`scenes-${split}.json`, JSON.stringify({ specs }));
    write(`scenes-${split}.bin`, pixels);
    log(`scenes ${split}: ${n} scenes over ${sceneVocab.length} objects in ${seconds(t)}`);
  }

  const storyFrames: SplitCounts = { train: 0, val: 0, test: 0 };
  for (const split of SPLITS) {
    t = performance.now();
    const specs: StorySpec[] = [];
    for (let i = 0; i < opts.stories[split]; i++) specs.push(storySpec(i, split, story, opts.seed));
    const frames = specs.flatMap((s) => s.frames);
    const pixels = new Uint8Array(frames.length * IMAGE_BYTES);
    frames.forEach((f, k) => pixels.set(renderScene(f.objects, emojiImage).pixels, k * IMAGE_BYTES));
    storyFrames[split] = frames.length;
    write(`stories-${split}.json`, JSON.stringify({ specs }));
    write(`stories-${split}.bin`, pixels);
    log(`stories ${split}: ${specs.length} stories, ${frames.length} frames in ${seconds(t)}`);
  }

  t = performance.now();
  const documents = loadBrown();
  write('brown.json', JSON.stringify({ documents }));
  const brownSentences = countBy(documents, (d) => d.split, (d) => d.paragraphs.reduce((n, p) => n + p.length, 0));
  const brownDocuments = countBy(documents, (d) => d.split);
  log(`brown: ${documents.length} documents, ${brownSentences.train + brownSentences.val + brownSentences.test} sentences in ${seconds(t)}`);

  const manifest: Manifest = {
    format: FORMAT_VERSION,
    key: cacheKey(opts),
    inputs: inputFingerprint(),
    options: opts,
    counts: { emoji: emojiCounts, scenes: { ...opts.scenes }, stories: { ...opts.stories }, storyFrames, brownDocuments, brownSentences },
    files,
  };
  write('manifest.json', `${JSON.stringify(manifest, null, 1)}\n`);
  const mb = Object.values(files).reduce((a, b) => a + b, 0) / 1e6;
  log(`done: ${Object.keys(files).length} files, ${mb.toFixed(1)} MB in ${seconds(t0)}`);
  return manifest;
}
