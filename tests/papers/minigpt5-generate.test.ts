/**
 * Interleaved generation with vokens (papers/minigpt5-…/generate.ts) on a tiny LM, mapper and decoder: when the
 * LM emits [IMG1] the other vokens are forced, their step-decoded hidden states equal the full forward's
 * (≤ 1e-4), the image is the decoder's sample from mapper(h_voken) guided against ĥ_0 = mapper(0) (or the empty
 * caption), [IMG2]… are never sampled on their own, startImage draws first, abort stops, and no tensor is left.
 */
import * as tf from '@tensorflow/tfjs';
import { minigpt5 } from '../../kernel-lib';
import type { Session } from '../../kernel-lib/session';
import type { LatentDiffusion } from '../../kernel-lib/diffusion';
import { clearAttentionCache } from '../../kernel-lib/diffusion/attention';
import { useBackend, maxAbsDiff } from '../helpers/backend';
import { tinyParts } from './minigpt5-helpers';

let s: Session;
let ldm: LatentDiffusion;
let mapper: minigpt5.FeatureMapper;
let parts: minigpt5.VokenParts;
const PROMPT = 'a red heart';
beforeAll(async () => {
  await useBackend();
  ({ session: s, ldm } = await tinyParts(6));
  const cap = ldm.config.caption;
  mapper = minigpt5.FeatureMapper.create(minigpt5.defaultMapperConfig({ hiddenSize: s.config.hiddenSize, numVokens: 2, length: cap.maxTokens, dim: cap.dim }, { heads: 2, encoderLayers: 1, decoderLayers: 1 }), 2);
  parts = { session: s, mapper, ldm };
  // make [IMG1] the greedy choice right after the prompt: its head column along the last prompt state
  const ids = s.encode(PROMPT).ids;
  const h = s.model.forward([ids], { capture: 'none', hidden: { names: ['final_norm'], rows: [ids.length - 1] } }).hidden!.host!.get('final_norm')!.data;
  setColumn(minigpt5.vokenIds(s.tokenizer)[0], h, 60);
});
afterAll(() => {
  mapper.dispose();
  ldm.dispose();
  s.dispose();
});

/** lm_head[:, id] = scale · h / |h|², so the logit of `id` after state h is `scale`. */
function setColumn(id: number, h: Float32Array, scale: number): void {
  const head = s.model.params.get('lm_head')!;
  const [H, V] = head.shape;
  const w = Float32Array.from(head.dataSync() as Float32Array);
  const n2 = h.reduce((a, x) => a + x * x, 0);
  for (let r = 0; r < H; r++) w[r * V + id] = (scale * h[r]) / n2;
  tf.tidy(() => head.assign(tf.tensor2d(w, [H, V])));
}

const settle = () => {
  clearAttentionCache();
  ldm.denoiser.dispose();
};

async function collect(prompt: string, o: minigpt5.InterleavedOptions): Promise<{ events: minigpt5.InterleavedEvent[]; stop: string | null }> {
  const events: minigpt5.InterleavedEvent[] = [];
  const it = minigpt5.generateInterleaved(parts, prompt, o);
  for (;;) {
    const r = await it.next();
    if (r.done) return { events, stop: r.value };
    events.push(r.value);
  }
}

test('[IMG1] sampled → [IMG2] forced → an image from their states; the states equal the full forward’s; ĥ_0 is the negative; no leaks', async () => {
  const [v1, v2] = minigpt5.vokenIds(s.tokenizer);
  await collect(PROMPT, { temperature: 0, maxNewTokens: 3, steps: 2 }); // warm the caches (decode weights, causal masks)
  minigpt5.vokenStates(s, [PROMPT]);
  settle();
  const n0 = tf.memory().numTensors;
  const { events, stop } = await collect(PROMPT, { temperature: 0, maxNewTokens: 3, steps: 2, cfgScale: 3, seed: 5 });
  expect(stop).toBe('max-new-tokens');
  const tokens = events.filter((e): e is Extract<minigpt5.InterleavedEvent, { kind: 'token' }> => e.kind === 'token');
  expect(tokens.slice(0, 2).map((e) => [e.step.tokenId, e.step.forced ?? false])).toEqual([[v1, false], [v2, true]]);
  expect(events[2].kind).toBe('image'); // drawn right after the last voken, before the next token
  const img = events[2] as Extract<minigpt5.InterleavedEvent, { kind: 'image' }>;
  expect(img.index).toBe(0);
  expect([img.image.height, img.image.width]).toEqual([32, 32]);
  // the step-decoded voken states equal the full forward of <bos> prompt [IMG1] [IMG2]
  const full = minigpt5.vokenStates(s, [PROMPT]);
  expect(maxAbsDiff(img.vokenStates, full)).toBeLessThanOrEqual(1e-4);
  // the image is the decoder's sample of mapper(states) against ĥ_0 = mapper(0), CFG 3, seed 5
  const cond = mapper.map(img.vokenStates);
  const neg = mapper.zeroConditioning();
  const want = await ldm.sample({ cond, negCond: neg, cfgScale: 3, steps: 2, seed: 5 });
  expect(img.result.latents).toEqual(want.latents);
  const nul = await ldm.sample({ cond, cfgScale: 3, steps: 2, seed: 5 });
  expect(maxAbsDiff(nul.latents, want.latents)).toBeGreaterThan(1e-4); // the negative matters
  const viaNull = await minigpt5.drawFromVokens(parts, img.vokenStates, { cfgScale: 3, steps: 2, seed: 5, negative: 'null' });
  expect(viaNull.latents).toEqual(nul.latents);
  tf.dispose([cond.seq, cond.mask, neg.seq, neg.mask]);
  settle();
  expect(tf.memory().numTensors).toBe(n0);
});

test('[IMG2] is never sampled on its own, even as the most likely token; <boi> neither', async () => {
  const [v1, v2] = minigpt5.vokenIds(s.tokenizer);
  const ids = s.encode(PROMPT).ids;
  const h = s.model.forward([ids], { capture: 'none', hidden: { names: ['final_norm'], rows: [ids.length - 1] } }).hidden!.host!.get('final_norm')!.data;
  const head = s.model.params.get('lm_head')!;
  const saved = Float32Array.from(head.dataSync() as Float32Array);
  try {
    setColumn(v2, h, 200); // [IMG2] now beats [IMG1]
    setColumn(s.tokenizer.boi, h, 300);
    const { events } = await collect(PROMPT, { temperature: 0, maxNewTokens: 2, steps: 1 });
    const first = events[0] as Extract<minigpt5.InterleavedEvent, { kind: 'token' }>;
    expect(first.step.tokenId).toBe(v1);
    expect(first.step.top[0].tokenId).toBe(v1); // the masked distribution's best
  } finally {
    tf.tidy(() => head.assign(tf.tensor2d(saved, head.shape as [number, number])));
  }
});

test('startImage forces the whole voken run first; abort stops within the image', async () => {
  const [v1, v2] = minigpt5.vokenIds(s.tokenizer);
  const { events } = await collect('thumbs up', { startImage: true, steps: 2 });
  expect(events.map((e) => (e.kind === 'token' ? [e.step.tokenId, e.step.forced] : e.kind))).toEqual([[v1, true], [v2, true], 'image']);
  const state = minigpt5.vokenStates(s, ['thumbs up']);
  expect(maxAbsDiff((events[2] as Extract<minigpt5.InterleavedEvent, { kind: 'image' }>).vokenStates, state)).toBeLessThanOrEqual(1e-4);
  const ac = new AbortController();
  const r = await collect('thumbs up', { startImage: true, steps: 20, signal: ac.signal, onDiffusionStep: (e) => void (e.step === 2 && ac.abort()) });
  expect(r.stop).toBe('aborted');
  expect(r.events.every((e) => e.kind === 'token')).toBe(true);
  const other = minigpt5.FeatureMapper.create(minigpt5.defaultMapperConfig({ hiddenSize: 8, numVokens: 2, length: 24, dim: 16 }, { heads: 2 }));
  await expect(minigpt5.generateInterleaved({ ...parts, mapper: other }, 'x').next()).rejects.toThrow(
    'minigpt5: the mapper takes 2 × 8 voken states, this LM gives 2 × 32',
  );
  other.dispose();
});

test('the two-stage baseline: the LM’s caption (no vokens, no images) drawn through the decoder’s own caption encoder', async () => {
  const r = await minigpt5.twoStage({ session: s, ldm }, PROMPT, { maxNewTokens: 6, steps: 2, seed: 3 });
  // the caption is what greedy decoding writes with vokens and <boi> masked ([IMG1] would otherwise come first)
  const ids: number[] = [];
  const never = [s.tokenizer.boi, ...minigpt5.vokenIds(s.tokenizer)];
  for await (const st of s.generate(PROMPT, { temperature: 0, maxNewTokens: 6, neverSample: never })) if (st.tokenId !== s.tokenizer.eos) ids.push(st.tokenId);
  expect(ids.some((id) => never.includes(id))).toBe(false);
  const text = s.tokenizer.decodeIds(ids).map((p) => ('text' in p ? p.text : '')).join('').trim();
  expect(r.caption).toBe(text);
  const want = await ldm.sample({ cond: text, cfgScale: 4, steps: 2, seed: 3 });
  expect(r.result.latents).toEqual(want.latents);
});
