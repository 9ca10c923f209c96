/**
 * The cache: two builds give byte-identical files; a small build's scenes are a prefix of a larger
 * one's; a stale or damaged cache is rebuilt (and a current one is not); progress goes through onProgress.
 */
import fs from 'fs';
import path from 'path';
import { buildData, FORMAT_VERSION, Manifest, readManifest, resolveOptions, staleReason } from '../../kernel-lib/data/build';
import { ensureData } from '../../kernel-lib/data/store';
import { SMALL, tempDir } from './helpers';

const dirs: string[] = [];
const fresh = (): string => {
  const d = tempDir('build');
  dirs.push(d);
  return d;
};
afterAll(() => dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

let a: string;
let b: string;
let manifestA: Manifest;
const linesA: string[] = [];

beforeAll(async () => {
  a = fresh();
  b = fresh();
  manifestA = await buildData({ ...SMALL, cacheDir: a, onProgress: (l) => linesA.push(l) });
  await buildData({ ...SMALL, cacheDir: b, onProgress: () => {} });
});

test('two builds are byte-identical, file by file', () => {
  const files = fs.readdirSync(a).sort();
  expect(fs.readdirSync(b).sort()).toEqual(files);
  expect(files).toEqual(
    ['brown.json', 'emoji.bin', 'emoji.json', 'manifest.json']
      .concat(['test', 'train', 'val'].flatMap((s) => [`scenes-${s}.bin`, `scenes-${s}.json`, `stories-${s}.bin`, `stories-${s}.json`]))
      .sort(),
  );
  for (const f of files) {
    const same = fs.readFileSync(path.join(a, f)).equals(fs.readFileSync(path.join(b, f)));
    if (!same) throw new Error(`${f} differs between two builds`);
  }
});

test('the manifest records counts and sizes, and progress went through onProgress', () => {
  expect(manifestA.format).toBe(FORMAT_VERSION);
  expect(manifestA.counts.scenes).toEqual({ train: 300, val: 100, test: 100 });
  expect(manifestA.counts.stories).toEqual({ train: 100, val: 40, test: 40 });
  expect(manifestA.files['emoji.bin']).toBe(manifestA.counts.emoji.train * 3072 + manifestA.counts.emoji.val * 3072 + manifestA.counts.emoji.test * 3072);
  expect(manifestA.files['scenes-train.bin']).toBe(300 * 3072);
  expect(linesA[0]).toMatch(/^building data sets in .* \(no cache in .*\)$/);
  expect(linesA.some((l) => /^emoji: \d+ images \(train \d+, val \d+, test \d+\) in [\d.]+ s$/.test(l))).toBe(true);
  expect(linesA[linesA.length - 1]).toMatch(/^done: 16 files, [\d.]+ MB in [\d.]+ s$/);
});

test('scenes and stories do not depend on how many were built: a small build is a prefix', async () => {
  const c = fresh();
  const small = await ensureData({ scenes: { train: 20, val: 5, test: 5 }, stories: { train: 10, val: 4, test: 4 }, cacheDir: c, onProgress: () => {} });
  const big = await ensureData({ ...SMALL, cacheDir: a, onProgress: () => {} });
  expect(small.scenes('val')).toEqual(big.scenes('val').slice(0, 5));
  expect(small.stories('train')).toEqual(big.stories('train').slice(0, 10));
  expect(Buffer.from(small.sceneImage('test', 4).pixels).equals(Buffer.from(big.sceneImage('test', 4).pixels))).toBe(true);
});

test('a current cache is reused; changed options, a damaged file or an old format make it stale', async () => {
  // Works on b, the second build (the byte comparison above is done with it).
  const lines: string[] = [];
  const log = (l: string): void => {
    lines.push(l);
  };
  await buildData({ ...SMALL, cacheDir: b, onProgress: log });
  expect(lines).toEqual([]); // current: nothing to do
  const resolved = resolveOptions(SMALL);
  expect(staleReason(b, resolved)).toBeNull();
  expect(staleReason(b, resolveOptions({ ...SMALL, seed: 1 }))).toBe('inputs or options changed');
  expect(staleReason(b, resolveOptions({ ...SMALL, scenes: { train: 11 } }))).toBe('inputs or options changed');

  const m = readManifest(b) as Manifest;
  fs.writeFileSync(path.join(b, 'manifest.json'), JSON.stringify({ ...m, format: 0 }));
  expect(staleReason(b, resolved)).toBe(`cache format 0, this code writes ${FORMAT_VERSION}`);
  fs.writeFileSync(path.join(b, 'manifest.json'), JSON.stringify(m));
  expect(staleReason(b, resolved)).toBeNull();

  fs.truncateSync(path.join(b, 'scenes-val.bin'), 100);
  expect(staleReason(b, resolved)).toBe('scenes-val.bin is missing or has the wrong size');
  await buildData({ ...SMALL, cacheDir: b, onProgress: log });
  expect(lines[0]).toMatch(/\(scenes-val\.bin is missing or has the wrong size\)$/);
  expect(fs.readFileSync(path.join(b, 'scenes-val.bin')).equals(fs.readFileSync(path.join(a, 'scenes-val.bin')))).toBe(true);
  expect(staleReason(b, resolved)).toBeNull();
  expect(staleReason(fresh(), resolved)).toMatch(/^no cache in /);
});

test('bad options are refused with messages that name the field', async () => {
  await expect(buildData({ cacheDir: fresh(), scenes: { train: -1 } })).rejects.toThrow('data: scenes.train must be a non-negative integer, got -1');
  await expect(buildData({ cacheDir: fresh(), seed: 1.5 })).rejects.toThrow('data: seed must be a non-negative integer, got 1.5');
});
