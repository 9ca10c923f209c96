/**
 * Teacher-forced token scores (analysis/token-scores.ts): each row's NLL per position equals a float64
 * reference from a forward of that row alone (so batching and end padding change nothing), token accuracy
 * is the argmax check, the renormalised NLL over a vocabulary limit equals its own reference, bad input is
 * refused by name, and no tensor is left behind. The head runs on the scored positions only: every number
 * equals the old path's (the head over every padded position, bench/head-legacy.ts) bit for bit, and with
 * `from` those of the positions scored, the earlier ones NaN / 0.
 */
import * as tf from '@tensorflow/tfjs';
import { tokenScores } from '../../kernel-lib/analysis/token-scores';
import { Session } from '../../kernel-lib/session';
import { useBackend } from '../helpers/backend';
import { tinySession } from '../helpers/fixtures';
import { sameBits } from '../helpers/grads';
import { legacyTokenScores } from '../../bench/head-legacy';

let s: Session;
beforeAll(async () => {
  await useBackend();
  s = await tinySession({ seed: 6 });
});
afterAll(() => s.dispose());

/** Per position of one unpadded row: float64 NLL over ids [0, limit) and whether the full argmax is the target. */
function reference(ids: number[], limit: number): { nll: number[]; correct: number[] } {
  const { logits } = s.model.forward([ids.slice(0, -1)], { capture: 'none', positions: s.positions(ids.slice(0, -1)) });
  const V = s.config.vocabSize;
  const nll: number[] = [];
  const correct: number[] = [];
  for (let t = 0; t + 1 < ids.length; t++) {
    const row = Array.from(logits.subarray(t * V, (t + 1) * V));
    const part = row.slice(0, limit);
    const m = Math.max(...part);
    nll.push(m + Math.log(part.reduce((z, x) => z + Math.exp(x - m), 0)) - row[ids[t + 1]]);
    correct.push(row.indexOf(Math.max(...row)) === ids[t + 1] ? 1 : 0);
  }
  return { nll, correct };
}

test('NLL and accuracy per position match a float64 reference of each row alone; the limited NLL renormalises', () => {
  const t = s.tokenizer;
  const image = { height: 4, width: 4, codes: [3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8, 9, 7, 9, 3] };
  const rows = [
    t.encodePrompt('an emoji of a tiger').ids,
    t.encodePrompt([{ text: 'a red heart' }, { image }]).ids,
    t.encodePrompt('the flag of Brazil to the left of an apple, thumbs up').ids,
    [t.bos, t.eos],
    t.encodePrompt([{ image }, { text: ' a tiger' }]).ids,
  ];
  tokenScores(s, rows, { batchSize: 3 }); // the model keeps RoPE tables for the longest row it has seen
  const n0 = tf.memory().numTensors;
  const got = tokenScores(s, rows, { batchSize: 3, vocabLimit: s.config.vocabSize });
  expect(tf.memory().numTensors).toBe(n0);
  rows.forEach((ids, i) => {
    const want = reference(ids, s.config.vocabSize);
    expect(got[i].nll).toHaveLength(ids.length - 1);
    got[i].nll.forEach((x, j) => expect(x).toBeCloseTo(want.nll[j], 4));
    expect(Array.from(got[i].correct)).toEqual(want.correct);
    got[i].limitedNll!.forEach((x, j) => expect(x).toBeCloseTo(want.nll[j], 4));
  });
  // a limit below the image ids: text rows only, each position renormalised over [0, limit)
  const limit = t.boi;
  const textRows = [rows[0], rows[2]];
  const limited = tokenScores(s, textRows, { vocabLimit: limit });
  textRows.forEach((ids, i) => limited[i].limitedNll!.forEach((x, j) => expect(x).toBeCloseTo(reference(ids, limit).nll[j], 4)));
  expect(limited[0].limitedNll!.every((x, j) => x <= limited[0].nll[j] + 1e-6)).toBe(true); // less mass to share: never a higher NLL
  expect(tokenScores(s, textRows)[0].limitedNll).toBeUndefined();
});

test('bad input is refused by name', () => {
  const ids = s.tokenizer.encodePrompt('a tiger').ids;
  expect(() => tokenScores(s, [ids], { batchSize: 0 })).toThrow('tokenScores: batchSize must be a positive integer, got 0');
  expect(() => tokenScores(s, [[1]], { what: 'x' })).toThrow('x: row 0 has 1 tokens; scoring needs at least 2');
  expect(() => tokenScores(s, [ids], { vocabLimit: 1 })).toThrow(`tokenScores: vocabLimit must be an integer in [2, ${s.config.vocabSize}], got 1`);
  const image = s.tokenizer.encodePrompt([{ text: 'a' }, { image: { height: 4, width: 4, codes: new Array(16).fill(0) } }]).ids;
  expect(() => tokenScores(s, [image], { vocabLimit: s.tokenizer.boi })).toThrow(`tokenScores: row 0 has target ${s.tokenizer.boi} at ${image.indexOf(s.tokenizer.boi)}, outside the vocabulary limit [0, ${s.tokenizer.boi})`);
  expect(() => tokenScores(s, [new Array(s.config.maxPositions + 2).fill(1)])).toThrow(`tokenScores: a row of ${s.config.maxPositions + 2} tokens is longer than the model's context (${s.config.maxPositions})`);
});

describe('the head on the scored positions only', () => {
  const rowsOf = () => {
    const t = s.tokenizer;
    const image = { height: 4, width: 4, codes: [3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8, 9, 7, 9, 3] };
    return [
      t.encodePrompt([{ text: 'a red heart' }, { image }]).ids,
      t.encodePrompt('an emoji of a tiger').ids,
      t.encodePrompt([{ image }, { text: ' a tiger to the left of an apple' }]).ids,
      [t.bos, t.eos],
      t.encodePrompt('the flag of Brazil to the left of an apple, thumbs up').ids,
    ];
  };

  test.each([1, 2, 5])('batches of %i: every number equals the head over every padded position, bit for bit', (batchSize) => {
    const rows = rowsOf();
    const limit = s.tokenizer.vocabSize - 3;
    const got = tokenScores(s, rows, { batchSize, vocabLimit: limit });
    const want = legacyTokenScores(s, rows, { batchSize, vocabLimit: limit });
    got.forEach((g, i) => {
      expect(sameBits(g.nll, want[i].nll)).toBe(true);
      expect(sameBits(g.limitedNll!, want[i].limitedNll!)).toBe(true);
      expect(g.correct).toEqual(want[i].correct);
    });
  });

  test('from: the positions from it on as without it; those before unscored (NaN, 0); checked by name; no leaks', () => {
    const rows = rowsOf();
    const from = [rows[0].length - 18, 3, 0, 1, rows[4].length - 1];
    tokenScores(s, rows, { batchSize: 2, from });
    const n0 = tf.memory().numTensors;
    const got = tokenScores(s, rows, { batchSize: 2, from, vocabLimit: s.tokenizer.vocabSize });
    expect(tf.memory().numTensors).toBe(n0);
    const all = legacyTokenScores(s, rows, { batchSize: 2, vocabLimit: s.tokenizer.vocabSize });
    got.forEach((g, i) => {
      const f = from[i];
      expect(g.nll).toHaveLength(rows[i].length - 1);
      expect(sameBits(g.nll.subarray(f), all[i].nll.subarray(f))).toBe(true);
      expect(sameBits(g.limitedNll!.subarray(f), all[i].limitedNll!.subarray(f))).toBe(true);
      expect(Array.from(g.correct.subarray(f))).toEqual(Array.from(all[i].correct.subarray(f)));
      expect(Array.from(g.nll.subarray(0, f)).every(Number.isNaN)).toBe(true);
      expect(Array.from(g.limitedNll!.subarray(0, f)).every(Number.isNaN)).toBe(true);
      expect(Array.from(g.correct.subarray(0, f)).every((c) => c === 0)).toBe(true);
    });
    // a batch with nothing scored runs no forward and still returns its rows
    const none = tokenScores(s, [rows[3]], { from: [1] });
    expect(Array.from(none[0].nll).every(Number.isNaN)).toBe(true);
    expect(tf.memory().numTensors).toBe(n0);
    expect(() => tokenScores(s, rows, { from: [0] })).toThrow('tokenScores: from must give one position per row (5), got 1');
    expect(() => tokenScores(s, [rows[1]], { from: [rows[1].length] })).toThrow(`tokenScores: from[0] must be an integer in [0, ${rows[1].length - 1}] (row 0 has ${rows[1].length} tokens), got ${rows[1].length}`);
    expect(() => tokenScores(s, [rows[1]], { from: [-1], what: 'moss.scoreItems' })).toThrow('moss.scoreItems: from[0] must be an integer in [0,');
    expect(() => tokenScores(s, [rows[1]], { from: 2 as never })).toThrow('tokenScores: from must give one position per row (1), got 2');
  });
});
