/**
 * MoSS instruction items as token rows (papers/moss-…/items.ts): the row layout and target start, the
 * loss weights of a padded batch, coding each item once, and the training batches: a pure function of
 * (seed, step), every item once per epoch, windows cut by length.
 */
import { moss } from '../../kernel-lib';
import { tinyTokenizer } from '../helpers/fixtures';
import { countingEncoder, tinyCodes, tinyExample, tinySource } from './moss-helpers';

const tok = tinyTokenizer();
const codeIds = (im: Parameters<typeof tinyCodes>[0]) => tinyCodes(im).codes.map((c) => tok.imageCodeId(c));

test('itemRow: <bos> prompt target <eos>, adjacent texts joined by a space, targetAt at the first target token', () => {
  const ex = tinyExample(0); // story: lead, narration, image | narration, image
  const [item] = new moss.CodedItems(tinySource(3), countingEncoder().encode).items([0]);
  const img = (k: number) => {
    const p = ex.parts[k];
    if (!('image' in p)) throw new Error('expected an image');
    return [tok.boi, ...codeIds(p.image), tok.eoi];
  };
  const text = (k: number) => (ex.parts[k] as { text: string }).text;
  const prompt = [tok.bos, ...tok.bpe.encode(`${text(0)} ${text(1)}`), ...img(2)];
  const target = [...tok.bpe.encode(text(3)), ...img(4), tok.eos];
  const row = moss.itemRow(tok, item);
  expect(row.ids).toEqual([...prompt, ...target]);
  expect(row.targetAt).toBe(prompt.length);
  expect(item.kind).toBe('story');
  expect(() => moss.itemRow(tok, { ...item, target: [] })).toThrow('moss: item tiny/story/0 has no target');
});

test('paddedBatch: rows padded with <pad>; weight 1 exactly where the next token is a target token or <eos>', () => {
  const rows = [{ ids: [tok.bos, 5, 6, 7, tok.eos], targetAt: 3 }, { ids: [tok.bos, 5, 6, tok.eos], targetAt: 2 }];
  const b = moss.paddedBatch(tok, rows);
  expect(b.ids).toEqual([[tok.bos, 5, 6, 7, tok.eos], [tok.bos, 5, 6, tok.eos, tok.pad]]);
  // position j predicts ids[j + 1]: row 0 targets 7 and <eos> (j = 2, 3); row 1 targets 6 and <eos> (j = 1, 2), not the pad
  expect(b.weights).toEqual([[0, 0, 1, 1], [0, 1, 1, 0]]);
  expect(() => moss.paddedBatch(tok, [])).toThrow('moss: a batch needs at least one item');
});

test('CodedItems codes each item once, in one encoder call per request', () => {
  const enc = countingEncoder();
  const items = new moss.CodedItems(tinySource(9), enc.encode);
  const a = items.items([0, 1, 0]);
  expect(a[0]).toBe(a[2]);
  expect(enc.calls).toBe(1);
  expect(enc.images).toBe(2 + 2); // story 0: 2 images, edit 1: 2 images (item 0 asked twice, coded once)
  items.items([1, 2]);
  expect(enc.calls).toBe(2);
  expect(enc.images).toBe(4 + 1); // only continue 2 (1 image) was new
  items.items([2, 0]);
  expect(enc.calls).toBe(2); // nothing new: no call
  const edit = a[1];
  expect(edit.kind).toBe('edit');
  expect(edit.prompt.length).toBe(2);
  expect(edit.target).toEqual([{ image: tinyCodes((tinyExample(1).parts[2] as { image: Parameters<typeof tinyCodes>[0] }).image) }]);
  expect(() => new moss.CodedItems(tinySource(3), () => []).items([0])).toThrow('moss: the image encoder returned 0 code grids for 2 images');
});

/** A row without its trailing <pad>s, as a string (items are told apart by their random codes). */
const unpad = (r: number[]) => {
  let n = r.length;
  while (n > 0 && r[n - 1] === tok.pad) n--;
  return r.slice(0, n).join(',');
};

test('instructionBatches: a pure function of (seed, step), every item once per epoch, windows cut by length', () => {
  const n = 32;
  const items = new moss.CodedItems(tinySource(n), countingEncoder().encode);
  const all = Array.from({ length: n }, (_, i) => moss.itemRow(tok, items.items([i])[0]).ids.join(','));
  const bs = 4;
  const W = moss.LENGTH_WINDOW;
  const a = moss.instructionBatches(tok, items, { batchSize: bs, seed: 5 });
  const epoch = Array.from({ length: n / bs }, (_, s) => a(s));
  // every item exactly once in the epoch's 8 steps
  expect(epoch.flatMap((b) => b.ids.map(unpad)).sort()).toEqual([...all].sort());
  // out of order and from a fresh sampler (a resumed run): the same batches
  const b = moss.instructionBatches(tok, items, { batchSize: bs, seed: 5 });
  for (const s of [6, 1, 7, 0, 3]) expect(b(s)).toEqual(epoch[s]);
  // within a window, batches do not interleave in length: one's longest row is at most the next's shortest
  for (let w = 0; w < n / bs / W; w++) {
    const lens = epoch.slice(w * W, (w + 1) * W).map((bt) => bt.ids.map((r) => unpad(r).split(',').length).sort((x, y) => x - y));
    lens.sort((x, y) => x[0] - y[0]);
    for (let k = 1; k < lens.length; k++) expect(lens[k - 1][bs - 1]).toBeLessThanOrEqual(lens[k][0]);
  }
  // another seed: another order
  const c = moss.instructionBatches(tok, items, { batchSize: bs, seed: 6 });
  expect(Array.from({ length: n / bs }, (_, s) => c(s).ids.map(unpad).join('|'))).not.toEqual(epoch.map((bt) => bt.ids.map(unpad).join('|')));
  expect(() => moss.instructionBatches(tok, items, { batchSize: 0, seed: 0 })).toThrow('moss: batchSize must be a positive integer, got 0');
  expect(() => moss.instructionBatches(tok, items, { batchSize: 2, seed: 0, window: 0 })).toThrow('moss: window must be a positive integer, got 0');
});
