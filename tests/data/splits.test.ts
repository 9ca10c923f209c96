/**
 * Split hygiene. Emoji: no base emoji in two splits (skin tones stay with their base). Scenes and
 * stories: objects come only from train emoji; no pair of objects held out for val/test is ever shown
 * together in train, and every val/test example shows at least one pair of its own split. Brown: no
 * document in two splits, every genre in every split.
 */
import fs from 'fs';
import { SPLITS, Split } from '../../kernel-lib/data/emoji';
import { pairSplit } from '../../kernel-lib/data/objects';
import { DataStore, ensureData } from '../../kernel-lib/data/store';
import { quiet, SMALL, tempDir } from './helpers';

let dir: string;
let store: DataStore;

beforeAll(async () => {
  dir = tempDir('splits');
  store = await ensureData({ ...SMALL, cacheDir: dir, onProgress: quiet });
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

test('emoji: every base emoji (with all its skin tones) is in exactly one split; about 80/10/10', () => {
  const splitOfBase = new Map<string, Set<Split>>();
  for (const e of store.emoji) {
    if (!splitOfBase.has(e.base)) splitOfBase.set(e.base, new Set());
    (splitOfBase.get(e.base) as Set<Split>).add(e.split);
  }
  const mixed = [...splitOfBase].filter(([, s]) => s.size > 1).map(([b]) => b);
  expect(mixed).toEqual([]);
  const bases = { train: 0, val: 0, test: 0 };
  for (const s of splitOfBase.values()) bases[[...s][0]]++;
  const total = splitOfBase.size;
  expect(total).toBeGreaterThan(1800);
  expect(bases.val / total).toBeGreaterThan(0.07);
  expect(bases.val / total).toBeLessThan(0.13);
  expect(bases.test / total).toBeGreaterThan(0.07);
  expect(bases.test / total).toBeLessThan(0.13);
  expect(store.emoji.length).toBeGreaterThan(3700);
  // Skin-tone variants exist and sit with their base.
  const thumbs = store.emoji.filter((e) => e.base === '1F44D');
  expect(thumbs.map((e) => e.captions[0])).toContain('thumbs up, dark skin tone');
  expect(new Set(thumbs.map((e) => e.split)).size).toBe(1);
});

/** The split a set of objects shown together may belong to, by the pair rule ('none' if no split allows it). */
function pairVerdict(bases: readonly string[]): { splits: Set<Split> } {
  const splits = new Set<Split>();
  for (let i = 0; i < bases.length; i++) for (let j = i + 1; j < bases.length; j++) splits.add(pairSplit(bases[i], bases[j]));
  return { splits };
}

function checkPairs(split: Split, shownTogether: string[][], what: string): void {
  let heldOut = 0;
  const seen = new Set<Split>();
  for (const group of shownTogether) for (const s of pairVerdict(group).splits) seen.add(s);
  for (const s of seen) if (s !== 'train' && s !== split) throw new Error(`${what} ${split} shows a ${s} pair`);
  if (split !== 'train') {
    heldOut = shownTogether.filter((g) => pairVerdict(g).splits.has(split)).length;
    if (heldOut === 0) throw new Error(`${what} ${split} shows no ${split} pair`);
  }
}

test('scenes: objects are train emoji; held-out pairs never appear in train; val/test scenes each show one', () => {
  const trainBases = new Set(store.emoji.filter((e) => e.split === 'train').map((e) => e.base));
  for (const split of SPLITS) {
    store.scenes(split).forEach((s, i) => {
      for (const o of s.objects) expect(trainBases.has(o.base)).toBe(true);
      checkPairs(split, [s.objects.map((o) => o.base)], `scene ${i} of`);
    });
  }
  // The rule is not vacuous: held-out pairs among the train objects exist in numbers.
  const objects = [...new Set(store.scenes('train').flatMap((s) => s.objects.map((o) => o.base)))].slice(0, 60);
  const verdicts = { train: 0, val: 0, test: 0 };
  for (let i = 0; i < objects.length; i++) for (let j = i + 1; j < objects.length; j++) verdicts[pairSplit(objects[i], objects[j])]++;
  expect(verdicts.val).toBeGreaterThan(100);
  expect(verdicts.test).toBeGreaterThan(100);
});

test('stories: objects are train emoji; objects in a frame obey the pair rule; val/test stories show a held-out pair', () => {
  const trainBases = new Set(store.emoji.filter((e) => e.split === 'train').map((e) => e.base));
  for (const split of SPLITS) {
    store.stories(split).forEach((story, i) => {
      for (const f of story.frames) for (const o of f.objects) expect(trainBases.has(o.base)).toBe(true);
      checkPairs(split, story.frames.map((f) => f.objects.map((o) => o.base)), `story ${i} of`);
    });
  }
});

test('brown: documents are in one split each, 450/25/25, and every genre is in every split', () => {
  const docs = store.brown;
  expect(new Set(docs.map((d) => d.id)).size).toBe(500);
  const count = { train: 0, val: 0, test: 0 };
  for (const d of docs) count[d.split]++;
  expect(count).toEqual({ train: 450, val: 25, test: 25 });
  const genres = new Set(docs.map((d) => d.genre));
  expect(genres.size).toBe(15);
  for (const split of SPLITS) expect(new Set(docs.filter((d) => d.split === split).map((d) => d.genre))).toEqual(genres);
});
