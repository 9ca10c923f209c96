/**
 * Liquid's training batches and held-out set on a small data build with the tiny tokenizer: every batch
 * holds exactly the arm's rows of each pool, text rows are windows of the Brown stream with every target
 * counted, caption → image rows count their image codes only (a dropped caption is one <unconditional>),
 * image → text rows count from the caption or answer through <eos>, padding counts nothing; batches are a
 * pure function of (seed, step); each image is coded once; too-long rows are refused by name.
 */
import fs from 'fs';
import { liquid } from '../../kernel-lib';
import { liquidPools } from '../../kernel-lib/data/liquid-pools';
import { DataStore, ensureData } from '../../kernel-lib/data/store';
import { tokenStream } from '../../kernel-lib/recipes/lm-data';
import { mulberry32 } from '../../kernel-lib/util/random';
import type { MultimodalTokenizer } from '../../kernel-lib/tokenizer';
import { tinyTokenizer } from '../helpers/fixtures';
import { quiet, SMALL, tempDir } from '../data/helpers';
import { fakeCodec, fakeVq, TINY_HELD_OUT } from './liquid-helpers';

let dir: string;
let store: DataStore;
let tok: MultimodalTokenizer;
let stream: Int32Array;
beforeAll(async () => {
  dir = tempDir('liquid-batches');
  store = await ensureData({ ...SMALL, cacheDir: dir, onProgress: quiet });
  tok = tinyTokenizer(false).extendWithImages({ numImageCodes: 32, grid: { height: 4, width: 4 }, numVokens: 0 }).withUnconditional();
  // documents of seeded random text ids: no window of the stream repeats, so a row says where it came from
  const rand = mulberry32(7);
  stream = tokenStream(Array.from({ length: 12 }, () => Array.from({ length: 100 }, () => Math.floor(rand() * 250))), tok.bos, tok.eos);
}, 120_000);
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const SEQ = 160;

test('every batch holds the arm’s rows of each pool; text rows are stream windows; masks as the issue says', () => {
  const pools = liquidPools(store, { split: 'train' });
  const codec = fakeCodec();
  const ratios = { text: 1, t2i: 1, i2t: 0.5, i2a: 0.5 };
  const batches = liquid.liquidBatches(tok, pools, stream, new liquid.CodeCache(codec.encode), { ratios, batchSize: 12, seqLen: SEQ, seed: 3, dropoutRate: 0.5 });
  let dropped = 0;
  for (let step = 0; step < 6; step++) {
    const { batch, stats } = batches(step);
    expect(stats.rows).toEqual({ text: 4, t2i: 4, i2t: 2, i2a: 2 });
    expect(batch.ids).toHaveLength(12);
    const L = batch.ids[0].length;
    expect(batch.ids.every((r) => r.length === L)).toBe(true);
    expect(batch.weights!.every((w) => w.length === L - 1)).toBe(true);
    expect(L).toBe(SEQ + 1); // text rows are exactly seqLen + 1 ids
    batch.ids.forEach((row, b) => {
      const w = batch.weights![b];
      const end = row.lastIndexOf(tok.pad) >= 0 && b >= 4 ? row.indexOf(tok.pad) : L; // image rows are padded
      for (let j = end - 1; j < L - 1; j++) expect(w[j]).toBe(0); // padding targets count nothing
      if (b < 4) {
        // a window of the stream: every target counts
        const at = Array.from({ length: stream.length - L + 1 }, (_, s) => s).find((s) => row.every((id, j) => stream[s + j] === id));
        expect(at).toBeDefined();
        expect(at! % L).toBe(0);
        expect(w.every((x) => x === 1)).toBe(true);
      } else if (b < 8) {
        // t2i: <bos> caption-or-<unconditional> <boi> 16 codes <eoi>; only the codes count
        const boi = row.indexOf(tok.boi);
        expect(row[end - 1]).toBe(tok.eoi);
        expect(end - 1 - boi).toBe(17);
        if (row[1] === tok.unconditional) {
          expect(boi).toBe(2);
          dropped++;
        }
        w.forEach((x, j) => expect(x).toBe(j + 1 < end && tok.isImageCode(row[j + 1]) ? 1 : 0));
        expect(w.reduce((a, x) => a + x, 0)).toBe(16);
      } else {
        // i2t / i2a: <bos> <boi> codes <eoi> text … <eos>; the loss from the caption or answer through <eos>
        expect(row[1]).toBe(tok.boi);
        expect(row[end - 1]).toBe(tok.eos);
        const first = w.indexOf(1);
        expect(first).toBeGreaterThan(18);
        w.forEach((x, j) => expect(x).toBe(j >= first && j + 1 < end ? 1 : 0));
      }
    });
    expect(stats.lossTokens.text).toBe(4 * SEQ);
    expect(stats.lossTokens.t2i).toBe(4 * 16);
  }
  expect(dropped).toBeGreaterThan(0); // at a 50 % rate over 24 t2i rows
  expect(dropped).toBeLessThan(24);
  // a pure function of (seed, step), and each image coded once however often it is drawn
  const again = liquid.liquidBatches(tok, pools, stream, new liquid.CodeCache(codec.encode), { ratios, batchSize: 12, seqLen: SEQ, seed: 3, dropoutRate: 0.5 });
  expect(again(4).batch).toEqual(batches(4).batch);
  expect(batches(5).batch).not.toEqual(batches(4).batch);
  const cached = liquid.liquidBatches(tok, pools, stream, new liquid.CodeCache(codec.encode), { ratios, batchSize: 12, seqLen: SEQ, seed: 3 });
  const before = codec.images;
  cached(0);
  const first = codec.images - before;
  cached(0);
  expect(codec.images - before).toBe(first); // the same step again: nothing new to code
  expect(first).toBe(8);
});

test('the text pool: non-overlapping windows; a row longer than seqLen + 1 is refused, naming it', () => {
  const w = liquid.textWindows(stream, 50);
  expect(w.size).toBe(Math.floor(stream.length / 50));
  expect(w.get(3).meta).toMatchObject({ task: 'text', start: 150 });
  expect(() => liquid.textWindows(stream.subarray(0, 10), 50)).toThrow('liquid: the Brown train stream has 10 tokens, fewer than one row of 50');
  const pools = liquidPools(store, { split: 'train' });
  const b = liquid.liquidBatches(tok, pools, stream, new liquid.CodeCache((imgs) => imgs.map(fakeVq)), { ratios: { text: 0, t2i: 1, i2t: 0, i2a: 0 }, batchSize: 2, seqLen: 8, seed: 0 });
  expect(() => b(0)).toThrow(/^liquid: liquid\/t2i\/\S+ is a row of \d+ tokens, longer than seqLen \+ 1 = 9; raise seqLen$/);
});

test('the held-out set: test-split rows, deranged captions for the conditioning gap, questions, scenes to draw', () => {
  const held = liquid.heldOutSet(store, tok, (imgs) => imgs.map(fakeVq), stream, { sizes: TINY_HELD_OUT });
  expect(held.split).toBe('test');
  expect(held.brown).toHaveLength(4);
  expect(held.brown.every((w) => w.length === 32)).toBe(true);
  expect(held.t2i.ids.every((id) => id.startsWith('liquid/t2i/'))).toBe(true);
  expect(held.t2i.own).toHaveLength(4);
  // the shuffled row of item i has item (i + 2) mod 4's caption and item i's codes
  held.t2i.shuffled.forEach((r, i) => {
    const o = held.t2i.own[i].ids;
    const other = held.t2i.own[(i + 2) % 4].ids;
    expect(r.ids.slice(r.ids.indexOf(tok.boi))).toEqual(o.slice(o.indexOf(tok.boi)));
    expect(r.ids.slice(0, r.ids.indexOf(tok.boi))).toEqual(other.slice(0, other.indexOf(tok.boi)));
  });
  expect(held.questions.items).toHaveLength(4);
  expect(held.drawn).toHaveLength(2);
  held.drawn.forEach((d) => {
    expect(d.scene.caption).toBe(d.caption);
    expect(d.scene.objects.length).toBeGreaterThanOrEqual(2);
  });
  expect(held.routing).toHaveLength(4);
  expect(liquid.sceneOf(store, 'emoji/test/3')).toBeNull();
  expect(() => liquid.sceneOf(store, 'scenes/test/99999')).toThrow('liquid: scenes/test/99999 is not a scene of the data store');
  expect(() => liquid.heldOutSet(store, tok, (imgs) => imgs.map(fakeVq), stream, { split: 'train' })).toThrow("liquid.heldOutSet: split must be 'val' or 'test' (held out), got 'train'");
});

test('the first items of the held-out set are the whole set’s, the deranged captions included', () => {
  const encode = (imgs: Parameters<liquid.ImageEncoder>[0]) => imgs.map(fakeVq);
  const held = liquid.heldOutSet(store, tok, encode, stream, { sizes: TINY_HELD_OUT });
  const first = { brownWindows: 2, t2iItems: 1, i2tItems: 3, questions: 2, drawn: 1 };
  const head = liquid.heldOutFirst(store, tok, encode, stream, first, { sizes: TINY_HELD_OUT });
  expect(head.split).toBe('test');
  expect(head.brown).toEqual(held.brown.slice(0, 2));
  // item 0's shuffled row is shown item 2's caption, as in the set of 4 (a set of 1 could not derange it)
  expect(head.t2i).toEqual({ ids: held.t2i.ids.slice(0, 1), own: held.t2i.own.slice(0, 1), shuffled: held.t2i.shuffled.slice(0, 1) });
  expect(head.i2t).toEqual({ ids: held.i2t.ids.slice(0, 3), rows: held.i2t.rows.slice(0, 3) });
  expect(head.questions).toEqual({ ids: held.questions.ids.slice(0, 2), items: held.questions.items.slice(0, 2) });
  expect(head.drawn).toEqual(held.drawn.slice(0, 1));
  expect(head.routing).toEqual([]);
  expect(() => liquid.heldOutFirst(store, tok, encode, stream, { ...first, i2tItems: 5 }, { sizes: TINY_HELD_OUT })).toThrow('liquid.heldOutFirst: first i2tItems must be an integer in [0, 4] (the set\'s), got 5');
  expect(() => liquid.heldOutFirst(store, tok, encode, stream, { ...first, drawn: 0.5 }, { sizes: TINY_HELD_OUT })).toThrow('liquid.heldOutFirst: first drawn must be an integer in [0, 2] (the set\'s), got 0.5');
});
