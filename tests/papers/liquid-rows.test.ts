/**
 * Liquid rows and understanding on a small data build: caption dropout hits ~10 % of t2i rows (seeded,
 * per visit, never other pools) and puts exactly one <unconditional> where the caption was; understanding
 * items come from held-out i2a rows with the question, candidates and answer of the row; the accuracy is
 * the generic ranking's.
 */
import fs from 'fs';
import { liquidPools } from '../../kernel-lib/data/liquid-pools';
import { DataStore, ensureData } from '../../kernel-lib/data/store';
import { rankAnswers, rankingAccuracy } from '../../kernel-lib/analysis/answer-ranking';
import { CAPTION_DROPOUT_RATE, dropsCaption, liquidRowIds } from '../../kernel-lib/papers/liquid-unified-vq-language-model/rows';
import { understandingAccuracy, understandingItems } from '../../kernel-lib/papers/liquid-unified-vq-language-model/understanding';
import { Session } from '../../kernel-lib/session';
import { useBackend } from '../helpers/backend';
import { tinySession } from '../helpers/fixtures';
import { quiet, SMALL, tempDir } from '../data/helpers';
import { fakeVq } from './liquid-helpers';

let dir: string;
let store: DataStore;
let s: Session;
beforeAll(async () => {
  await useBackend();
  dir = tempDir('liquid-rows');
  store = await ensureData({ ...SMALL, cacheDir: dir, onProgress: quiet });
  const base = await tinySession({ seed: 2 });
  s = base.withUnconditional();
  base.dispose();
}, 120_000);
afterAll(() => {
  s?.dispose();
  fs.rmSync(dir, { recursive: true, force: true });
});

test('caption dropout: ~10 % of t2i rows, seeded, fresh per visit, never another pool', () => {
  const pools = liquidPools(store, { split: 'train' });
  const t2i = Array.from({ length: pools.t2i.size }, (_, i) => pools.t2i.get(i));
  expect(t2i.length).toBeGreaterThan(200);
  // Rate over many (row, visit) draws: within 4 binomial s.e. of 0.1.
  let hits = 0;
  const visits = 20;
  for (let v = 0; v < visits; v++) for (const ex of t2i) if (dropsCaption(ex, { visit: v })) hits++;
  const n = visits * t2i.length;
  expect(Math.abs(hits / n - CAPTION_DROPOUT_RATE)).toBeLessThan(4 * Math.sqrt(0.09 / n));
  const set = (o: { seed?: number; visit?: number }) => t2i.filter((ex) => dropsCaption(ex, o)).map((ex) => ex.id);
  expect(set({ seed: 3, visit: 1 })).toEqual(set({ seed: 3, visit: 1 }));
  expect(set({ seed: 3, visit: 1 })).not.toEqual(set({ seed: 3, visit: 2 }));
  expect(set({ seed: 4, visit: 1 })).not.toEqual(set({ seed: 3, visit: 1 }));
  expect(t2i.filter((ex) => dropsCaption(ex, { rate: 1 }))).toHaveLength(t2i.length);
  expect(t2i.filter((ex) => dropsCaption(ex, { rate: 0 }))).toHaveLength(0);
  for (const task of ['text', 'i2t', 'i2a'] as const) {
    for (let i = 0; i < Math.min(50, pools[task].size); i++) expect(dropsCaption(pools[task].get(i), { rate: 1 })).toBe(false);
  }
  expect(() => dropsCaption(t2i[0], { rate: 1.5 })).toThrow('caption dropout: rate must be in [0, 1], got 1.5');
});

test('a dropped row is <bos> <unconditional> <boi> codes <eoi>, its loss from <boi>; a kept row keeps its caption', () => {
  const t = s.tokenizer;
  const ex = liquidPools(store, { split: 'train' }).t2i.get(0);
  const image = 'image' in ex.parts[1] ? ex.parts[1].image : null;
  const codes = fakeVq(image!).codes.map((c) => t.imageCodeId(c));
  const dropped = liquidRowIds(t, ex, fakeVq, { rate: 1 });
  expect(dropped).toEqual({ ids: [t.bos, t.unconditional, t.boi, ...codes, t.eoi], lossStart: 2, unconditional: true });
  const kept = liquidRowIds(t, ex, fakeVq, { rate: 0 });
  const caption = 'text' in ex.parts[0] ? ex.parts[0].text : '';
  const captionIds = t.encodePrompt(caption, { addBos: false }).ids;
  expect(kept).toEqual({ ids: [t.bos, ...captionIds, t.boi, ...codes, t.eoi], lossStart: 1 + captionIds.length, unconditional: false });
  expect(liquidRowIds(t, ex, fakeVq)).toEqual(kept); // no dropout given: evaluation rows
});

test('understanding items: held-out i2a rows, their question, candidates and answer; accuracy is the ranking’s', () => {
  const t = s.tokenizer;
  const pool = liquidPools(store, { split: 'test' }).i2a;
  const items = understandingItems(t, pool, fakeVq, 12);
  expect(items).toHaveLength(12);
  items.forEach((item, i) => {
    const ex = pool.get(i);
    expect(ex.id.startsWith('liquid/i2a/')).toBe(true);
    const q = ex.meta.question!;
    expect(item.group).toBe(q.kind);
    expect(item.answer).toBe(q.answer);
    expect(item.candidates.map((c) => t.decodeIds(c))).toEqual(q.candidates.map((c) => [{ text: ` ${c}` }]));
    const decoded = t.decodeIds(item.context);
    expect(decoded[decoded.length - 1]).toEqual({ text: ` ${q.question}` });
    // the context + the right answer is exactly the evaluation row's ids
    expect([...item.context, ...item.candidates[item.answer]]).toEqual(liquidRowIds(t, ex, fakeVq).ids);
  });
  const report = understandingAccuracy(s, items);
  expect(report).toEqual(rankingAccuracy(rankAnswers(s, items)));
  expect(Object.keys(report.byGroup).every((g) => ['relation', 'count', 'exists'].includes(g))).toBe(true);
  expect(() => understandingItems(t, liquidPools(store, { split: 'test' }).t2i, fakeVq, 1)).toThrow("is not an image → answer row (task 't2i'); pass the i2a pool");
});
