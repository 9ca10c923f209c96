import { chooseToken, topIndices, validateSampling } from '../../kernel-lib/decode/sampling';
import { ImageGrammar, DecodeVocab } from '../../kernel-lib/decode/grammar';
import { mulberry32 } from '../../kernel-lib/util/random';

const logits = () => Float32Array.from([1, 3, 3, 0, 2, -1]);

test('greedy picks the highest logit, ties to the lower id; logprob and top are the masked model distribution', () => {
  const c = chooseToken(logits(), validateSampling({ temperature: 0 }), () => 0.5);
  expect(c.tokenId).toBe(1);
  const z = [1, 3, 3, 0, 2, -1].reduce((a, x) => a + Math.exp(x), 0);
  expect(c.logprob).toBeCloseTo(3 - Math.log(z), 6);
  expect(c.top.map((t) => t.tokenId)).toEqual([1, 2, 4, 0, 3]);
  expect(c.top[0].prob).toBeCloseTo(Math.exp(3) / z, 6);
  expect(topIndices(Float32Array.from([5, -Infinity, 5, 7]), 3)).toEqual([3, 0, 2]);
});

function histogram(o: Parameters<typeof validateSampling>[0], n = 20000, allowed?: (i: number) => boolean): number[] {
  const rand = mulberry32(3);
  const h = new Array(6).fill(0);
  for (let i = 0; i < n; i++) h[chooseToken(logits(), validateSampling(o), rand, allowed).tokenId]++;
  return h.map((x) => x / n);
}

test('temperature 1 samples the softmax; top-k and top-p restrict the support', () => {
  const z = [1, 3, 3, 0, 2, -1].map(Math.exp);
  const sum = z.reduce((a, b) => a + b, 0);
  histogram({ temperature: 1 }).forEach((f, i) => expect(Math.abs(f - z[i] / sum)).toBeLessThan(0.015));
  const k2 = histogram({ temperature: 1, topK: 2 });
  expect(k2[1] + k2[2]).toBe(1);
  expect(Math.abs(k2[1] - 0.5)).toBeLessThan(0.02);
  // top-p 0.8: sorted probs ≈ .367 .367 .135 .05 .018 .007 → {1, 2, 4} reach 0.87
  const p = histogram({ temperature: 1, topP: 0.8 });
  expect(p[0] + p[3] + p[5]).toBe(0);
  expect(p[4]).toBeGreaterThan(0.1);
  // an allowed mask removes ids entirely
  const m = histogram({ temperature: 1 }, 5000, (i) => i >= 3);
  expect(m[0] + m[1] + m[2]).toBe(0);
  // high temperature flattens, low sharpens
  expect(histogram({ temperature: 5 })[5]).toBeGreaterThan(0.08);
  expect(histogram({ temperature: 0.1 })[4]).toBeLessThan(0.001);
});

test('nothing left to sample is an error, not a silent token', () => {
  expect(() => chooseToken(logits(), validateSampling({}), Math.random, () => false)).toThrow('No token can be sampled: every allowed logit is −∞ or NaN');
});

test('image grammar masks and forces as documented, and tracks grid positions across images', () => {
  const vocab: DecodeVocab = {
    vocabSize: 20, bos: 10, eos: 11, pad: 12,
    image: { boi: 13, eoi: 14, codeStart: 16, numCodes: 4, grid: { height: 2, width: 2 } },
    pieceOf: String, modalityOf: () => 'text',
  };
  const g = new ImageGrammar(vocab);
  const l = new Float32Array(20);
  g.mask(l);
  expect([16, 17, 18, 19, 14, 10, 12].every((i) => l[i] === -Infinity)).toBe(true);
  expect(l[13]).toBe(0);
  g.advance(13);
  expect(g.insideImage).toBe(true);
  const l2 = new Float32Array(20);
  g.mask(l2);
  expect(Array.from(l2).map((x, i) => (x === 0 ? i : -1)).filter((i) => i >= 0)).toEqual([16, 17, 18, 19]);
  expect([16, 17, 18, 19].map((id) => g.advance(id))).toEqual([
    { image: 0, row: 0, col: 0 }, { image: 0, row: 0, col: 1 }, { image: 0, row: 1, col: 0 }, { image: 0, row: 1, col: 1 },
  ]);
  expect(g.forced()).toBe(14);
  g.advance(14);
  expect(g.forced()).toBeNull();
  g.replay([13, 17]);
  expect(g.advance(18)).toEqual({ image: 1, row: 0, col: 1 });
  expect(() => new ImageGrammar(vocab, { height: 0, width: 2 })).toThrow('image grid must be positive integers, got 0×2');
});
