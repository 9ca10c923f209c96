/**
 * Logit-level classifier-free guidance: guideLogits against float64 (and exactly c at γ = 1), the
 * unconditional prompt of each mode, and a whole CFG decode with Liquid's <unconditional> branch whose
 * step logprobs match a float64 reference of u + γ(c − u) computed from two full forwards.
 */
import * as tf from '@tensorflow/tfjs';
import { guideLogits, unconditionalPrompt } from '../../kernel-lib/decode/cfg';
import type { Step } from '../../kernel-lib/decode/generate';
import { Session } from '../../kernel-lib/session';
import { useBackend } from '../helpers/backend';
import { tinySession } from '../helpers/fixtures';
import { seeded } from '../helpers/random';

let base: Session;
let s: Session;
beforeAll(async () => {
  await useBackend();
  base = await tinySession({ seed: 5 });
  s = base.withUnconditional();
});
afterAll(() => {
  s.dispose();
  base.dispose();
});

async function collect(it: AsyncIterable<Step>): Promise<Step[]> {
  const out: Step[] = [];
  for await (const st of it) out.push(st);
  return out;
}

test('guideLogits is c at γ = 1 (bit-exact), u at γ = 0, and u + γ(c − u) in float64 otherwise', () => {
  const c = seeded(257, 1);
  const u = seeded(257, 2);
  expect(Array.from(guideLogits(c, u, 1))).toEqual(Array.from(c));
  for (const g of [0, 0.5, 3, 7]) {
    const got = guideLogits(c, u, g);
    let worst = 0;
    for (let i = 0; i < c.length; i++) worst = Math.max(worst, Math.abs(got[i] - (u[i] + g * (c[i] - u[i]))));
    expect(worst).toBeLessThan(1e-5);
  }
  expect(Array.from(guideLogits(c, u, 0))).toEqual(Array.from(u));
  expect(() => guideLogits(c, u.subarray(1), 2)).toThrow('guideLogits: conditional logits have 257 entries but unconditional 256');
});

test('the unconditional prompt of each mode', () => {
  const t = s.tokenizer;
  const image = { height: 4, width: 4, codes: Array.from({ length: 16 }, (_, i) => i) };
  const cond = [...s.encode([{ text: 'a tiger' }, { image }, { text: ' an apple' }]).ids, t.boi];
  const codes = image.codes.map((c) => t.imageCodeId(c));
  const modality = (id: number) => t.modalityOf(id);
  expect(unconditionalPrompt(cond, modality, 'unconditional-token', t.unconditional))
    .toEqual([t.bos, t.unconditional, t.boi, ...codes, t.eoi, t.unconditional, t.boi]);
  expect(unconditionalPrompt(cond, modality, 'drop-text')).toEqual([t.bos, t.boi, ...codes, t.eoi, t.boi]);
  expect(unconditionalPrompt(cond, modality)).toEqual(unconditionalPrompt(cond, modality, 'drop-text'));
  expect(() => unconditionalPrompt(cond, modality, 'unconditional-token')).toThrow("cfgUnconditional 'unconditional-token' needs a vocabulary with <unconditional>");
  expect(() => unconditionalPrompt(cond, modality, 'none' as never)).toThrow('cfgUnconditional must be one of drop-text, unconditional-token, got "none"');
});

test('session.generate names a bad cfgUnconditional, and a missing <unconditional> token', () => {
  expect(() => s.generate('a', { cfgUnconditional: 'empty' as never })).toThrow('cfgUnconditional must be one of drop-text, unconditional-token, got "empty"');
  expect(() => base.generate('a', { startImage: true, cfgScale: 3, cfgUnconditional: 'unconditional-token' }))
    .toThrow("cfgUnconditional 'unconditional-token' needs a vocabulary with <unconditional>");
});

test('the image grammar never lets <unconditional> be sampled (a condition, not an output)', async () => {
  const { ImageGrammar } = await import('../../kernel-lib/decode/grammar');
  const t = s.tokenizer;
  const g = new ImageGrammar(s.decodeVocab());
  const outside = new Float32Array(s.config.vocabSize);
  g.mask(outside);
  expect(outside[t.unconditional]).toBe(-Infinity);
  expect(outside[t.eos]).toBe(0);
  g.replay([t.bos, t.boi]);
  const inside = new Float32Array(s.config.vocabSize);
  g.mask(inside);
  expect(inside[t.unconditional]).toBe(-Infinity);
  expect(inside[t.imageCodeId(0)]).toBe(0);
  expect(base.decodeVocab().unconditional).toBeUndefined();
});

test('γ = 1 decodes exactly the conditional branch whatever the unconditional prompt', async () => {
  const o = { startImage: true, maxNewTokens: 17, seed: 2, temperature: 1 };
  const plain = await collect(s.generate('a red heart', o));
  const guided = await collect(s.generate('a red heart', { ...o, cfgScale: 1, cfgUnconditional: 'unconditional-token' }));
  expect(guided.map((x) => [x.tokenId, x.logprob])).toEqual(plain.map((x) => [x.tokenId, x.logprob]));
});

/** log-softmax in float64 of `l` over the ids `allowed` keeps, at `id`. */
function logprob64(l: ArrayLike<number>, id: number, allowed: (i: number) => boolean): number {
  let m = -Infinity;
  for (let i = 0; i < l.length; i++) if (allowed(i)) m = Math.max(m, l[i]);
  let z = 0;
  for (let i = 0; i < l.length; i++) if (allowed(i)) z += Math.exp(l[i] - m);
  return l[id] - m - Math.log(z);
}

test("CFG with Liquid's <unconditional> branch matches a float64 reference of u + γ(c − u), with no tensor leak", async () => {
  const t = s.tokenizer;
  const gamma = 7;
  const opts = { startImage: true, maxNewTokens: 16, seed: 9, temperature: 1, cfgScale: gamma, cfgUnconditional: 'unconditional-token' as const };
  await collect(s.generate('a tiger to the left of an apple', opts)); // warm the mask caches
  const before = tf.memory().numTensors;
  const steps = await collect(s.generate('a tiger to the left of an apple', opts));
  expect(tf.memory().numTensors).toBe(before);
  const cond = [...s.encode('a tiger to the left of an apple').ids, t.boi];
  const uncond = [t.bos, t.unconditional, t.boi];
  const V = s.config.vocabSize;
  const generated = steps.map((x) => x.tokenId);
  const fc = s.model.forward([[...cond, ...generated]], { capture: 'none' }).logits;
  const fu = s.model.forward([[...uncond, ...generated]], { capture: 'none' }).logits;
  const isCode = (i: number) => t.isImageCode(i);
  let worst = 0;
  steps.forEach((st, k) => {
    expect(t.isImageCode(st.tokenId)).toBe(true);
    const c = fc.subarray((cond.length - 1 + k) * V, (cond.length + k) * V);
    const u = fu.subarray((uncond.length - 1 + k) * V, (uncond.length + k) * V);
    const g = Array.from(c, (ci, i) => u[i] + gamma * (ci - u[i])); // float64
    worst = Math.max(worst, Math.abs(st.logprob - logprob64(g, st.tokenId, isCode)));
  });
  expect(worst).toBeLessThan(1e-4);
  // and the branch is not the text-dropped one: its logprobs differ
  const dropped = await collect(s.generate('a tiger to the left of an apple', { ...opts, cfgUnconditional: 'drop-text' }));
  expect(dropped.map((x) => x.logprob)).not.toEqual(steps.map((x) => x.logprob));
});
