/**
 * Liquid's data: batch counts by the stated rounding rule, every batch holding exactly them, pools
 * disjoint down to the images they use, the image → text row text, and understanding questions whose
 * marked answer is right when worked out here from the scene's boxes and emoji.
 */
import fs from 'fs';
import { categoryOf } from '../../kernel-lib/data/categories';
import { Split, SPLITS } from '../../kernel-lib/data/emoji';
import { ListDataset } from '../../kernel-lib/data/example-list';
import { CAPTION_PROMPT, liquidMixture, liquidPools, LIQUID_TASKS } from '../../kernel-lib/data/liquid-pools';
import { batchCounts, Mixture } from '../../kernel-lib/data/mixture';
import { objectVocabulary, pairSplit, SCENE_SUBCATEGORIES } from '../../kernel-lib/data/objects';
import { rngFor } from '../../kernel-lib/util/random';
import { SceneQuestion, sceneQuestion } from '../../kernel-lib/data/scene-questions';
import { DataStore, ensureData } from '../../kernel-lib/data/store';
import { quiet, relationHolds, SMALL, tempDir, TestBox } from './helpers';

let dir: string;
let store: DataStore;

beforeAll(async () => {
  dir = tempDir('liquid');
  store = await ensureData({ ...SMALL, cacheDir: dir, onProgress: quiet });
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

test('batch counts: exact ratios, the largest-remainder rule, and errors', () => {
  expect(batchCounts([1, 1, 1], 6)).toEqual([2, 2, 2]);
  expect(batchCounts([1, 2, 1, 0], 8)).toEqual([2, 4, 2, 0]);
  expect(() => batchCounts([1, 1, 1], 4)).toThrow(
    "batchCounts: a batch of 4 cannot hold the ratio 1:1:1 exactly (pool 0 would get 1.333); use a batch size that divides it or rounding: 'largest-remainder'",
  );
  expect(batchCounts([1, 1, 1], 4, 'largest-remainder')).toEqual([2, 1, 1]);
  expect(batchCounts([3, 2, 2], 10, 'largest-remainder')).toEqual([4, 3, 3]);
  const rand = rngFor('counts', 0);
  for (let t = 0; t < 200; t++) {
    const ratios = Array.from({ length: 1 + Math.floor(rand() * 5) }, () => Math.floor(rand() * 5));
    // some(), not every(r => r === 0): TypeScript ≥ 5.5 reads that arrow as the predicate `r is 0` and narrows ratios to 0[]
    if (!ratios.some((r) => r !== 0)) ratios[0] = 1;
    const B = 1 + Math.floor(rand() * 40);
    const c = batchCounts(ratios, B, 'largest-remainder');
    const total = ratios.reduce((a, b) => a + b, 0);
    expect(c.reduce((a, b) => a + b, 0)).toBe(B);
    c.forEach((n, i) => expect(Math.abs(n - (B * ratios[i]) / total)).toBeLessThan(1));
  }
  expect(() => batchCounts([0, 0], 4)).toThrow('batchCounts: the ratios sum to 0');
  expect(() => batchCounts([1, -1], 4)).toThrow('batchCounts: ratio 1 must be a finite number ≥ 0, got -1');
  expect(() => batchCounts([1], 0)).toThrow('batchCounts: batchSize must be a positive integer, got 0');
});

test('every batch holds exactly the counts, pools are walked a full pass before repeating, batches are a pure function of (seed, step)', () => {
  const mix = liquidMixture(store, { text: 1, t2i: 1, i2t: 1, i2a: 1 }, { split: 'val', batchSize: 8, seed: 4 });
  expect(mix.counts).toEqual([2, 2, 2, 2]);
  const again = liquidMixture(store, { text: 1, t2i: 1, i2t: 1, i2a: 1 }, { split: 'val', batchSize: 8, seed: 4 });
  const seen = new Map<string, Set<string>>(LIQUID_TASKS.map((t) => [t, new Set()]));
  const i2aSize = mix.pools[3].examples.size;
  const steps = Math.floor(i2aSize / 2);
  for (let s = 0; s < steps; s++) {
    const b = mix.batch(s);
    expect(b.map((x) => x.pool)).toEqual(['text', 'text', 't2i', 't2i', 'i2t', 'i2t', 'i2a', 'i2a']);
    expect(b.map((x) => x.example.id)).toEqual(again.batch(s).map((x) => x.example.id));
    for (const x of b) {
      expect(x.example.meta.task).toBe(x.pool);
      const set = seen.get(x.pool) as Set<string>;
      expect(set.has(x.example.id)).toBe(false); // no repeat within the first pass
      set.add(x.example.id);
    }
  }
  expect((seen.get('i2a') as Set<string>).size).toBe(2 * steps);
  const other = liquidMixture(store, { text: 1, t2i: 1, i2t: 1, i2a: 1 }, { split: 'val', batchSize: 8, seed: 5 });
  expect(other.batch(0).map((x) => x.example.id)).not.toEqual(mix.batch(0).map((x) => x.example.id));
  const lr = liquidMixture(store, { text: 2, t2i: 1, i2t: 1 }, { split: 'val', batchSize: 6, seed: 0, rounding: 'largest-remainder' });
  for (let s = 0; s < 20; s++) expect(lr.batch(s).map((x) => x.pool)).toEqual(['text', 'text', 'text', 't2i', 't2i', 'i2t']); // 3, 1.5, 1.5: the tie goes to t2i, listed first
  expect(() => liquidMixture(store, { txt: 1 } as never, { batchSize: 4 })).toThrow("liquidMixture: unknown pool 'txt'; expected text, t2i, i2t, i2a");
});

test('pools are disjoint down to the image: no source example in two pools, and the mixture refuses overlapping pools', () => {
  for (const split of SPLITS) {
    const pools = liquidPools(store, { split });
    const owner = new Map<string, string>();
    for (const t of LIQUID_TASKS) {
      for (const ex of pools[t]) {
        const prev = owner.get(ex.meta.source);
        if (prev !== undefined) throw new Error(`${ex.meta.source} is in ${prev} and ${t}`);
        owner.set(ex.meta.source, t);
      }
    }
    const images = [...owner.keys()].filter((k) => !k.startsWith('brown/'));
    expect(images.length).toBe(store.emoji.filter((e) => e.split === split).length + store.scenes(split).length);
    expect(pools.i2a.size).toBeGreaterThan(15);
  }
  const pools = liquidPools(store, { split: 'test' });
  const dup = new ListDataset('dup', 'test', 1, undefined, () => pools.t2i.get(0));
  expect(() => new Mixture([{ name: 'a', ratio: 1, examples: pools.t2i }, { name: 'b', ratio: 1, examples: dup }], { batchSize: 2, seed: 0 })).toThrow(
    `Mixture: example '${pools.t2i.get(0).id}' is in pool 'a' and in pool 'b'; pools must be disjoint`,
  );
});

test("rows: text as is, caption → image, Liquid's image → text text, image → answer; loss from the right part", () => {
  const pools = liquidPools(store, { split: 'val' });
  for (const ex of pools.i2t) {
    const [img, prompt, caption] = ex.parts;
    expect('image' in img).toBe(true);
    expect(prompt).toEqual({ text: ' The caption of this image is:' });
    expect(CAPTION_PROMPT).toBe(' The caption of this image is:');
    const src = ex.meta.source.startsWith('emoji/') ? store.emoji.find((e) => `emoji/${e.unified}` === ex.meta.source)?.captions[0] : store.scenes('val')[Number(ex.meta.source.split('/')[2])].caption;
    expect(caption).toEqual({ text: ` ${src}` });
    expect(ex.meta.lossFrom).toBe(2);
  }
  for (const ex of pools.t2i) {
    expect(ex.parts.map((p) => ('text' in p ? 'text' : 'image'))).toEqual(['text', 'image']);
    expect(ex.meta.lossFrom).toBe(1);
  }
  for (const ex of pools.i2a) {
    const q = ex.meta.question as SceneQuestion;
    expect(ex.parts.slice(1)).toEqual([{ text: ` ${q.question}` }, { text: ` ${q.candidates[q.answer]}` }]);
  }
  expect(pools.text.get(0).parts.length).toBe(1);
});

/** The answer worked out here from boxes and emoji names (not from the question generator). */
function solve(q: SceneQuestion, objects: ReadonlyArray<{ emoji: number; box: TestBox }>): string {
  const names = objects.map((o) => store.emoji[o.emoji].name);
  let m = /^What is (to the left of|to the right of|above|below) the (.+)\?$/.exec(q.question);
  if (m) {
    const s = names.indexOf(m[2]);
    expect(s).toBeGreaterThanOrEqual(0);
    const hits = objects.filter((o, i) => i !== s && relationHolds(m![1], o.box, objects[s].box));
    expect(hits.length).toBe(1);
    return store.emoji[hits[0].emoji].phrase;
  }
  m = /^How many (.+) are there\?$/.exec(q.question);
  if (m) return ['none', 'one', 'two', 'three'][objects.filter((o) => categoryOf(store.emoji[o.emoji]).plural === m![1]).length];
  m = /^(?:Is there (?:a|an) |Are there )(.+)\?$/.exec(q.question);
  if (m) return names.includes(m[1]) ? 'yes' : 'no';
  throw new Error(`question does not parse: ${q.question}`);
}

test('questions: the marked answer is right on the ground-truth scenes, among distinct candidates; every kind asked', () => {
  const vocab = objectVocabulary(store.emoji, SCENE_SUBCATEGORIES);
  const kinds = { relation: 0, count: 0, exists: 0 };
  const answers = { yes: 0, no: 0 };
  for (const split of SPLITS) {
    store.scenes(split).forEach((spec, i) => {
      for (const seed of [0, 1, 2]) {
        const q = sceneQuestion(spec, (k) => store.emoji[k], vocab, rngFor(`q/${i}`, seed));
        kinds[q.kind]++;
        expect(new Set(q.candidates).size).toBe(q.candidates.length);
        expect(q.candidates[q.answer]).toBe(solve(q, spec.objects));
        if (q.kind === 'exists') answers[q.candidates[q.answer] as 'yes' | 'no']++;
        if (q.kind === 'relation') {
          expect(q.candidates.length).toBe(4);
          for (const c of q.candidates) expect(vocab.some((e) => e.phrase === c)).toBe(true);
        }
      }
    });
  }
  for (const n of Object.values(kinds)) expect(n).toBeGreaterThan(300);
  expect(answers.yes).toBeGreaterThan(100);
  expect(answers.no).toBeGreaterThan(100);
  expect(() => sceneQuestion(store.scenes('val')[0], (k) => store.emoji[k], vocab, rngFor('x'), ['colour' as never])).toThrow(
    "sceneQuestion: unknown kind 'colour'; expected relation, count, exists",
  );
});

test('splits held out: a pool shows only its split\'s images; train rows only train pairs; questions name train-vocabulary objects', () => {
  const vocab = new Set(objectVocabulary(store.emoji, SCENE_SUBCATEGORIES).map((e) => e.phrase));
  for (const split of SPLITS) {
    const pools = liquidPools(store, { split });
    for (const t of ['t2i', 'i2t', 'i2a'] as const) {
      for (const ex of pools[t]) {
        const src = ex.meta.source;
        if (src.startsWith('emoji/')) expect(store.emoji.find((e) => `emoji/${e.unified}` === src)?.split).toBe(split);
        else {
          expect(src.startsWith(`scenes/${split}/`)).toBe(true);
          const spec = store.scenes(split as Split)[Number(src.split('/')[2])];
          const bases = spec.objects.map((o) => o.base);
          for (let i = 0; i < bases.length; i++) for (let j = i + 1; j < bases.length; j++) expect(['train', split]).toContain(pairSplit(bases[i], bases[j]));
          const q = ex.meta.question;
          if (q && q.kind === 'relation') for (const c of q.candidates) expect(vocab.has(c)).toBe(true);
        }
      }
    }
  }
});
