/**
 * Answer ranking by likelihood: scores equal a float64 reference computed from one unpadded forward per
 * candidate (so the end padding of the batched rows changes nothing), 'mean' divides by the token count,
 * the chosen answer is the hand-found best, and accuracy with s.e. per group on hand-made outcomes.
 */
import * as tf from '@tensorflow/tfjs';
import { candidateScores, rankAnswers, rankingAccuracy, RankedItem, RankingItem } from '../../kernel-lib/analysis/answer-ranking';
import { Session } from '../../kernel-lib/session';
import { useBackend } from '../helpers/backend';
import { tinySession } from '../helpers/fixtures';

let s: Session;
beforeAll(async () => {
  await useBackend();
  s = await tinySession({ seed: 4 });
});
afterAll(() => s.dispose());

/** Σ log p(c_j | context, c_<j) in float64 from a forward of context + c alone. */
function reference(context: number[], c: number[]): number {
  const ids = [...context, ...c];
  const { logits } = s.model.forward([ids], { capture: 'none' });
  const V = s.config.vocabSize;
  let sum = 0;
  for (let j = 0; j < c.length; j++) {
    const row = Array.from(logits.subarray((context.length - 1 + j) * V, (context.length + j) * V));
    const m = Math.max(...row);
    sum += row[c[j]] - m - Math.log(row.reduce((z, x) => z + Math.exp(x - m), 0));
  }
  return sum;
}

const text = (t: string): number[] => s.encode(t, { addBos: false }).ids;

test('scores match the float64 reference, sum and mean, and the best candidate is chosen', () => {
  const image = { height: 4, width: 4, codes: [3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8, 9, 7, 9, 3] };
  const context = s.encode([{ image }, { text: ' What is to the left of the apple?' }]).ids;
  const candidates = [' a tiger', ' a red heart', ' the flag of Brazil', ' yes'].map(text);
  expect(new Set(candidates.map((c) => c.length)).size).toBeGreaterThan(1); // lengths differ: padding is exercised
  const want = candidates.map((c) => reference(context, c));
  const best = want.indexOf(Math.max(...want));
  const worst = want.indexOf(Math.min(...want));
  const item: RankingItem = { context, candidates, answer: best, group: 'relation' };
  const before = tf.memory().numTensors;
  const got = candidateScores(s, item);
  expect(tf.memory().numTensors).toBe(before);
  got.forEach((g, i) => expect(Math.abs(g - want[i])).toBeLessThan(1e-4));
  candidateScores(s, item, 'mean').forEach((g, i) => expect(Math.abs(g - want[i] / candidates[i].length)).toBeLessThan(1e-4));
  const [right, wrong] = rankAnswers(s, [item, { ...item, answer: worst, group: 'count' }]);
  expect([right.chosen, right.correct, wrong.chosen, wrong.correct]).toEqual([best, true, best, false]);
  const report = rankingAccuracy([right, wrong]);
  expect(report.accuracy).toBe(0.5);
  expect(report.byGroup.relation).toEqual({ n: 1, accuracy: 1, standardError: NaN });
});

test('accuracy and its standard error, overall and per group, on hand-made outcomes', () => {
  const r = (group: string, correct: boolean): RankedItem => ({ scores: [0, 0], chosen: correct ? 0 : 1, correct, group });
  const ranked = [r('count', true), r('count', true), r('count', false), r('count', false), r('exists', true), r('exists', true)];
  const rep = rankingAccuracy(ranked);
  expect(rep.n).toBe(6);
  expect(rep.accuracy).toBeCloseTo(4 / 6, 12);
  // sample s.d. of 1,1,0,0,1,1: sqrt((4·(1/3)² + 2·(2/3)²)/5) = sqrt(4/15); s.e. = that / √6
  expect(rep.standardError).toBeCloseTo(Math.sqrt(4 / 15 / 6), 12);
  expect(rep.byGroup.count).toEqual({ n: 4, accuracy: 0.5, standardError: expect.closeTo(Math.sqrt(1 / 3 / 4), 12) });
  expect(rep.byGroup.exists).toEqual({ n: 2, accuracy: 1, standardError: 0 });
  expect(Object.keys(rep.byGroup)).toEqual(['count', 'exists']);
  expect(() => rankingAccuracy([])).toThrow('rankingAccuracy: no items');
});

test('bad items are refused, naming what is wrong', () => {
  const ok: RankingItem = { context: [s.tokenizer.bos], candidates: [[5], [6]], answer: 0 };
  expect(() => candidateScores(s, { ...ok, candidates: [[5]] })).toThrow('answer ranking: needs at least 2 candidates, got 1');
  expect(() => candidateScores(s, { ...ok, candidates: [[5], []] })).toThrow('answer ranking: candidate 1 has no tokens');
  expect(() => candidateScores(s, { ...ok, answer: 2 })).toThrow('answer ranking: answer 2 is not a candidate index in [0, 2)');
  expect(() => candidateScores(s, { ...ok, context: [-1] })).toThrow(`answer ranking: token id -1 is outside the vocabulary [0, ${s.config.vocabSize})`);
  expect(() => rankAnswers(s, [ok], 'max' as never)).toThrow("answer ranking: length must be 'sum' or 'mean', got \"max\"");
});
