/** The dataset API: parts and shapes, seeded order and caption variants, resolutions, formats, batching, errors. */
import fs from 'fs';
import { batches, datasetFromStore, DataPart, imagesOf, openDataset, textOf, toPrompt } from '../../kernel-lib/data/dataset';
import type { RGBImage } from '../../kernel-lib/image/types';
import { downscale2x } from '../../kernel-lib/image/rgb';
import { DataStore, ensureData } from '../../kernel-lib/data/store';
import { ByteLevelBPE, MultimodalTokenizer } from '../../kernel-lib/tokenizer';
import { quiet, SMALL, tempDir } from './helpers';

let dir: string;
let store: DataStore;
const build = () => ({ ...SMALL, cacheDir: dir, onProgress: quiet });

beforeAll(async () => {
  dir = tempDir('dataset');
  store = await ensureData(build());
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const isImage = (p: DataPart): p is { image: RGBImage } => 'image' in p;
const bytes = (img: RGBImage): Buffer => Buffer.from(img.pixels.buffer, img.pixels.byteOffset, img.pixels.byteLength);
const sameImage = (a: RGBImage, b: RGBImage): boolean => a.height === b.height && a.width === b.width && bytes(a).equals(bytes(b));
const shapeOf = (parts: DataPart[]): string[] => parts.map((p) => (isImage(p) ? `image ${p.image.height}x${p.image.width}x${p.image.pixels.length / (p.image.height * p.image.width)}` : 'text'));

test('emoji: [caption, 32×32 RGB image]; sizes match the manifest; stored order and canonical captions without a seed', async () => {
  const ds = await openDataset('emoji', { split: 'val', build: build() });
  expect(ds.size).toBe(store.manifest.counts.emoji.val);
  const ex = ds.get(0);
  expect(shapeOf(ex.parts)).toEqual(['text', 'image 32x32x3']);
  expect(ex.parts[0]).toEqual({ text: ex.meta.captions[0] });
  expect(ex.id).toBe(`emoji/${ex.meta.unified}`);
  expect([...ds].map((e) => e.id)).toEqual(store.emoji.filter((e) => e.split === 'val').map((e) => `emoji/${e.unified}`));
  const flipped = datasetFromStore(store, 'emoji', { split: 'val', imageFirst: true }).get(0);
  expect(shapeOf(flipped.parts)).toEqual(['image 32x32x3', 'text']);
});

test('a seed shuffles per epoch and draws caption variants, deterministically', () => {
  const a = datasetFromStore(store, 'emoji', { split: 'train', seed: 7 });
  const b = datasetFromStore(store, 'emoji', { split: 'train', seed: 7 });
  const c = datasetFromStore(store, 'emoji', { split: 'train', seed: 8 });
  const ids = (it: Iterable<{ id: string }>): string[] => [...it].map((e) => e.id);
  const e0 = ids(a.epoch(0));
  expect(ids(b.epoch(0))).toEqual(e0);
  expect(ids(a)).toEqual(e0);
  expect(ids(a.epoch(1))).not.toEqual(e0);
  expect(ids(c.epoch(0))).not.toEqual(e0);
  expect(e0.slice().sort()).toEqual(ids(datasetFromStore(store, 'emoji', { split: 'train' })).sort());
  const examples = [...a.epoch(0)];
  const canonical = examples.filter((e) => (e.parts[0] as { text: string }).text === e.meta.captions[0]).length;
  expect(canonical / examples.length).toBeGreaterThan(0.2);
  expect(canonical / examples.length).toBeLessThan(0.5);
  for (const e of examples) expect(e.meta.captions).toContain((e.parts[0] as { text: string }).text);
  expect(a.get(5, 3)).toEqual(b.get(5, 3));
});

test('resolution 16 halves every image by 2×2 averaging', () => {
  const full = datasetFromStore(store, 'scenes', { split: 'test', format: 'mumu' }).get(2);
  const low = datasetFromStore(store, 'scenes', { split: 'test', format: 'mumu', resolution: 16 }).get(2);
  expect(shapeOf(low.parts)).toEqual(shapeOf(full.parts).map((s) => s.replace('32x32', '16x16')));
  full.parts.forEach((p, i) => {
    if (isImage(p)) expect(sameImage((low.parts[i] as { image: RGBImage }).image, downscale2x(p.image))).toBe(true);
  });
});

test('scenes: caption format and MUMU format (each object phrase followed by its original emoji image)', () => {
  const plain = datasetFromStore(store, 'scenes', { split: 'train' });
  const mumu = datasetFromStore(store, 'scenes', { split: 'train', format: 'mumu' });
  expect(plain.size).toBe(300);
  for (let i = 0; i < 30; i++) {
    const p = plain.get(i);
    const m = mumu.get(i);
    expect(shapeOf(p.parts)).toEqual(['text', 'image 32x32x3']);
    expect((p.parts[0] as { text: string }).text).toBe(p.meta.caption);
    expect(textOf(m.parts).replace(/ +/g, ' ')).toBe(p.meta.caption.replace(/ +/g, ' '));
    expect(m.parts.map((q) => (isImage(q) ? 'image' : 'text')).join(',')).toMatch(/^(text,image,)+(text,)?image$/);
    // Crops are the objects' original emoji images, in the order the caption names them.
    const crops = m.parts.slice(0, -1).filter(isImage).map((q) => q.image);
    const all = m.parts.filter(isImage).map((q) => q.image);
    expect(imagesOf(m.parts).map((im, k) => im === all[k])).toEqual(all.map(() => true));
    expect(imagesOf(p.parts)).toHaveLength(1);
    const named = p.meta.template.filter((x): x is number => typeof x === 'number').map((k) => store.emojiImage(p.meta.objects[k].emoji));
    expect(crops.length).toBe(named.length);
    crops.forEach((c, k) => expect(sameImage(c, named[k])).toBe(true));
    expect(sameImage((m.parts[m.parts.length - 1] as { image: RGBImage }).image, store.sceneImage('train', i))).toBe(true);
  }
});

test('stories: narration and frame alternate', () => {
  const ds = datasetFromStore(store, 'stories', { split: 'val' });
  expect(ds.size).toBe(40);
  for (const ex of ds) {
    expect(shapeOf(ex.parts)).toEqual(ex.meta.frames.flatMap(() => ['text', 'image 32x32x3']));
    expect(ex.parts.filter((p): p is { text: string } => 'text' in p).map((p) => p.text)).toEqual(ex.meta.frames.map((f) => f.narration));
  }
});

test('brown: paragraphs, documents or sentences; counts agree with the manifest', () => {
  const docs = datasetFromStore(store, 'brown', { split: 'test', unit: 'document' });
  expect(docs.size).toBe(25);
  const sentences = datasetFromStore(store, 'brown', { split: 'test', unit: 'sentence' });
  expect(sentences.size).toBe(store.manifest.counts.brownSentences.test);
  const paragraphs = datasetFromStore(store, 'brown', { split: 'test' });
  const first = paragraphs.get(0);
  expect(first.id).toBe(`brown/${first.meta.document}/0`);
  expect(docs.get(0).parts[0]).toEqual({ text: expect.stringContaining((first.parts[0] as { text: string }).text) });
  expect(sentences.get(0).id).toBe(`brown/${first.meta.document}/0/0`);
});

test('captions: every train caption and narration as text', () => {
  const ds = datasetFromStore(store, 'captions', { split: 'train' });
  const sources = new Map<string, number>();
  for (const ex of ds) sources.set(ex.meta.source, (sources.get(ex.meta.source) ?? 0) + 1);
  expect(sources.get('scenes')).toBe(300);
  expect(sources.get('stories')).toBe(100);
  expect(sources.get('emoji')).toBe(store.manifest.counts.emoji.train * 3);
});

test('batches and toPrompt: batched examples become tokenizer prompts', () => {
  const ds = datasetFromStore(store, 'scenes', { split: 'val', seed: 1, resolution: 16 });
  const sizes = [...batches(ds, 32)].map((b) => b.length);
  expect(sizes).toEqual([32, 32, 32, 4]);
  expect([...batches(ds, 32, { dropLast: true })].length).toBe(3);
  expect(() => batches(ds, 0).next()).toThrow('batches: size must be a positive integer, got 0');

  // A stand-in encoder: 4×4 codes from mean brightness of 4×4 blocks of the 16×16 image.
  const encode = (img: RGBImage) => {
    const codes: number[] = [];
    for (let by = 0; by < 4; by++) {
      for (let bx = 0; bx < 4; bx++) {
        let s = 0;
        for (let y = 0; y < 4; y++) for (let x = 0; x < 4; x++) for (let c = 0; c < 3; c++) s += img.pixels[((by * 4 + y) * 16 + bx * 4 + x) * 3 + c];
        codes.push(Math.min(15, Math.floor(s / (48 * 16))));
      }
    }
    return { height: 4, width: 4, codes };
  };
  const bpe = ByteLevelBPE.train(['a tiger face to the left of an apple'], { vocabSize: 300 });
  const tok = MultimodalTokenizer.create(bpe, { numImageCodes: 16, grid: { height: 4, width: 4 } });
  const ex = ds.get(0);
  const enc = tok.encodePrompt(toPrompt(ex.parts, encode));
  expect(enc.modalities.filter((m) => m === 'image').length).toBe(16);
  expect(enc.ids.length).toBe(enc.modalities.length);
});

test('bad arguments are refused with messages that say what is allowed', async () => {
  await expect(openDataset('pictures' as 'emoji', { build: build() })).rejects.toThrow(
    "openDataset: unknown data set 'pictures'; expected one of emoji, scenes, stories, brown, captions",
  );
  expect(() => datasetFromStore(store, 'emoji', { split: 'dev' as 'val' })).toThrow("openDataset: split must be one of train, val, test, got 'dev'");
  expect(() => datasetFromStore(store, 'emoji', { resolution: 8 as 16 })).toThrow('openDataset: resolution must be 32 or 16, got 8');
  expect(() => datasetFromStore(store, 'emoji', { format: 'mumu' })).toThrow("openDataset: format is for scenes, 'caption' or 'mumu'; got 'mumu' for emoji");
  expect(() => datasetFromStore(store, 'scenes', { unit: 'sentence' })).toThrow(
    "openDataset: unit is for brown, 'paragraph', 'document' or 'sentence'; got 'sentence' for scenes",
  );
  expect(() => datasetFromStore(store, 'emoji', { split: 'val' }).get(10_000)).toThrow(/^emoji val: index 10000 is outside \[0, \d+\)$/);
});
