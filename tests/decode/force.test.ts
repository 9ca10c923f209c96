/**
 * Forced runs while decoding (decode/generate.ts: forceAfter, forceFirst, neverSample; MiniGPT-5 forces
 * [IMG2] … [IMGn] after a sampled [IMG1]): what is forced comes next and is marked, sampling resumes after
 * it, a run's ids and neverSample's are never sampled, a forced token's logprob is its unmasked one, and bad
 * ids are named before any compute.
 */
import { useBackend } from '../helpers/backend';
import { tinySession } from '../helpers/fixtures';
import { Session } from '../../kernel-lib/session';
import { Generation } from '../../kernel-lib/decode/generate';
import type { GenerateOptions, Step } from '../../kernel-lib/decode/generate';
import { rowLogSumExp } from '../../kernel-lib/util/stats';

let s: Session;
beforeAll(async () => {
  await useBackend();
  s = await tinySession({ seed: 3 });
});
afterAll(() => s.dispose());

const PROMPT = 'a tiger to the left of';
async function run(o: GenerateOptions): Promise<Step[]> {
  const out: Step[] = [];
  for await (const x of s.generate(PROMPT, { temperature: 0, imageGrammar: false, maxNewTokens: 6, ...o })) out.push(x);
  return out;
}

test('forceAfter: the run follows its key, forced; then greedy decoding resumes as from that prefix', async () => {
  const [first] = await run({ maxNewTokens: 1 });
  const t0 = first.tokenId;
  const [a, b] = [5, 7].map((x) => (x === t0 ? x + 1 : x));
  const steps = await run({ forceAfter: new Map([[t0, [a, b]]]) });
  expect(steps.slice(0, 3).map((x) => [x.tokenId, x.forced ?? false])).toEqual([[t0, false], [a, true], [b, true]]);
  // what follows is what greedy decoding of prompt + t0 a b gives
  const ids = [...s.encode(PROMPT).ids, t0, a, b];
  const direct: Step[] = [];
  for await (const x of new Generation(s.model, s.decodeVocab(), ids, null, { temperature: 0, imageGrammar: false, maxNewTokens: 1 })) direct.push(x);
  expect(steps[3].tokenId).toBe(direct[0].tokenId);
  expect(steps[3].forced).toBeUndefined();
  // a forced token's logprob is read from the unmasked distribution
  const { logits } = s.model.forward([[...s.encode(PROMPT).ids, t0]], { capture: 'none' });
  const V = s.config.vocabSize;
  const T = s.encode(PROMPT).ids.length + 1;
  expect(steps[1].logprob).toBeCloseTo(logits[(T - 1) * V + a] - rowLogSumExp(logits, (T - 1) * V, V), 4);
});

test('a run’s ids and neverSample’s are never sampled; forceFirst comes before anything is sampled', async () => {
  const [first] = await run({ maxNewTokens: 1 });
  const t0 = first.tokenId;
  const other = t0 === 9 ? 10 : 9;
  const banned = await run({ maxNewTokens: 1, neverSample: [t0] });
  expect(banned[0].tokenId).not.toBe(t0);
  expect(banned[0].top.every((x) => x.tokenId !== t0)).toBe(true);
  const inRun = await run({ maxNewTokens: 1, forceAfter: new Map([[other, [t0]]]) });
  expect(inRun[0].tokenId).toBe(banned[0].tokenId);
  const ff = await run({ maxNewTokens: 3, forceFirst: [other, t0] });
  expect(ff.slice(0, 2).map((x) => [x.tokenId, x.forced])).toEqual([[other, true], [t0, true]]);
  expect(ff[2].forced).toBeUndefined();
});

test('bad forced ids are named before any compute', () => {
  const V = s.config.vocabSize;
  expect(() => s.generate(PROMPT, { forceAfter: new Map([[V, [1]]]) })).toThrow(`forceAfter/forceFirst/neverSample: token id ${V} is outside the vocabulary [0, ${V})`);
  expect(() => s.generate(PROMPT, { forceAfter: new Map([[1, []]]) })).toThrow('forceAfter: the run after 1 must be a non-empty list of token ids');
  expect(() => s.generate(PROMPT, { forceAfter: { 1: [2] } as never })).toThrow('forceAfter must be a Map from a token id to the ids forced after it');
  expect(() => s.generate(PROMPT, { neverSample: [-1] })).toThrow(`forceAfter/forceFirst/neverSample: token id -1 is outside the vocabulary [0, ${V})`);
  expect(() => s.generate(PROMPT, { forceFirst: [1.5] })).toThrow(`forceAfter/forceFirst/neverSample: token id 1.5 is outside the vocabulary [0, ${V})`);
});
