/**
 * The LM head only on the rows read, on the shipped models and real prompts: prefill (the head on the last
 * position) against the prefill before it (bench/head-legacy.ts legacyPrefill) — next-token logits, routing and
 * hidden states bit for bit, and the cache it fills (keys, values, the adapters' decode state) the same: the
 * target's tokens step-decoded from both caches give the same logits and routing bits. On text-moe-small
 * (held-out Brown text, 64 and 200 tokens), on mm-moe-small (held-out MoSS prompts with an image, and a
 * 200-token one with two), with the shipped MoSS adapters attached (LoRA, MoE-LoRA, and the MoSS ConvLoRA, whose
 * decode state is the image grid's previous row) and s1-plora (PLoRA). forwardRows (answer ranking, the
 * conditioning probe, MiniGPT-5's narration NLL read target rows) gives forward's rows, Session.trace its
 * routing; MoSS's item scores (tokenScores from the target on) are the old ones; a whole CFG image generation
 * decodes the same steps as before.
 */
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { useBackend } from '../helpers/backend';
import { sameBits } from '../helpers/grads';
import { sameCaches } from '../helpers/prefill-compare';
import { Session } from '../../kernel-lib/session';
import { moss } from '../../kernel-lib';
import { ensureData } from '../../kernel-lib/data/store';
import { VQVAE } from '../../kernel-lib/image';
import type { PositionMeta } from '../../kernel-lib/model/positions';
import { brownStreams } from '../../kernel-lib/recipes/text-moe-small';
import { loadVariant } from '../../kernel-lib/papers/redundancy-aware-moe-plora/recipe';
import { Generation, Step } from '../../kernel-lib/decode/generate';
import { unconditionalPrompt } from '../../kernel-lib/decode/cfg';
import { legacyPrefill, legacyPrefillModel, legacyRowsSession, legacyTokenScores } from '../../bench/head-legacy';
import { tokenScores } from '../../kernel-lib/analysis/token-scores';
import { candidateScores } from '../../kernel-lib/analysis/answer-ranking';
import { captionConditioning } from '../../kernel-lib/eval/conditioning';
import { narrationNll, VokenItem } from '../../kernel-lib/papers/minigpt5-generative-vokens';
import { vocabularyView } from '../../kernel-lib/papers/liquid-unified-vq-language-model/live';

const CK = path.resolve(__dirname, '../../data/checkpoints');
const MM = path.join(CK, 'mm-moe-small');
const STEPS = 12;

/** Row j of position metadata (what a step at that position is given). */
const metaRow = (m: PositionMeta, j: number): PositionMeta => ({
  modality: m.modality.slice(j, j + 1), outputModality: m.outputModality.slice(j, j + 1), image: m.image.slice(j, j + 1), row: m.row.slice(j, j + 1), col: m.col.slice(j, j + 1),
});

/**
 * Prefills ids[0, at) both ways and compares them (see the file comment), then forwardRows against forward on
 * the whole row; returns how many adapter state tensors matched.
 */
function comparePrefill(s: Session, ids: number[], at: number, adapters: readonly string[]): number {
  const before = tf.memory().numTensors;
  const V = s.config.vocabSize;
  const meta = s.positions(ids);
  const prompt = ids.slice(0, at);
  const hidden = { names: ['blocks.2.hook_resid_mid', 'final_norm'], rows: [0, at - 1] };
  const old = legacyPrefill(s.model, prompt, 'full', { positions: s.positions(prompt), hidden });
  const now = s.model.prefill(prompt, 'full', { positions: s.positions(prompt), hidden });
  expect(sameBits(now.logits, old.logits)).toBe(true);
  expect(now.routing).toEqual(old.routing);
  expect(now.hidden).toEqual(old.hidden);
  const steps = ids.slice(at, at + STEPS).map((id, i) => ({ id, o: { positions: metaRow(meta, at + i) } }));
  const same = sameCaches(s.model, old.cache, now.cache, adapters, steps);
  expect(same.stepped).toBe(Math.min(STEPS, ids.length - at));
  old.cache.dispose();
  now.cache.dispose();
  // forwardRows: the rows from the prompt's last position on, and none (Session.trace's routing)
  const full = s.model.forward([ids], { capture: 'routing', positions: meta });
  const rows = Array.from({ length: ids.length - at + 1 }, (_, i) => at - 1 + i);
  const got = s.model.forwardRows([ids], rows, { capture: 'routing', positions: meta });
  expect(sameBits(got.logits, full.logits.subarray((at - 1) * V))).toBe(true);
  expect(got.routing).toEqual(full.routing);
  expect(s.trace({ ids }).layers).toEqual(full.routing);
  expect(tf.memory().numTensors).toBe(before);
  return same.states;
}

/** MoSS's item scoring (tokenScores from each target's first position) against the head over every position. */
function compareScores(s: Session, rows: ReadonlyArray<{ ids: number[]; targetAt: number }>): void {
  const ids = rows.map((r) => r.ids);
  const from = rows.map((r) => r.targetAt - 1);
  const got = tokenScores(s, ids, { batchSize: 4, from });
  const all = legacyTokenScores(s, ids, { batchSize: 4 });
  got.forEach((g, i) => {
    expect(sameBits(g.nll.subarray(from[i]), all[i].nll.subarray(from[i]))).toBe(true);
    expect(Array.from(g.correct.subarray(from[i]))).toEqual(Array.from(all[i].correct.subarray(from[i])));
  });
}

let items: moss.CodedItem[];
beforeAll(async () => {
  await useBackend();
  const vq = VQVAE.load(path.join(CK, 'vqvae-emoji'));
  items = moss.heldOutItems(await ensureData(), (im) => vq.encodeImages(im), { split: 'test', perKind: 1 });
  vq.dispose();
});

/** A MoSS held-out item's row (prompt with its image, then the target) and where its target starts. */
const rowsOf = (s: Session) => items.map((it) => moss.itemRow(s.tokenizer, it));

/** Warms what a model keeps (decode weights, RoPE tables, causal masks) so leak counts see only the paths. */
function warm(s: Session, rows: number[][]): void {
  for (const ids of rows) s.model.forward([ids], { capture: 'none', positions: s.positions(ids) });
  const ids = rows[0].slice(0, 3);
  const meta = s.positions(ids);
  const { cache } = s.model.prefill(ids.slice(0, 2), 'none', { positions: s.positions(ids.slice(0, 2)) });
  s.model.step(cache, ids[2], 'none', { positions: metaRow(meta, 2) });
  cache.dispose();
}

test('text-moe-small: held-out Brown prompts of 64 and 200 tokens', async () => {
  const s = await Session.load(path.join(CK, 'text-moe-small'));
  try {
    const test = (await brownStreams(s.tokenizer, { maxDocs: 2 })).test;
    const ids = Array.from(test.subarray(0, 200 + STEPS));
    warm(s, [64, 200, 64 + STEPS, 200 + STEPS].map((n) => ids.slice(0, n)));
    comparePrefill(s, ids.slice(0, 64 + STEPS), 64, []);
    comparePrefill(s, ids, 200, []);
  } finally {
    s.dispose();
  }
});

describe('mm-moe-small', () => {
  test('held-out MoSS prompts with an image; a 200-token prompt with two images', async () => {
    const s = await Session.load(MM);
    try {
      const rows = rowsOf(s);
      warm(s, rows.flatMap((r) => [r.ids, r.ids.slice(0, r.targetAt)]));
      for (const r of rows) comparePrefill(s, r.ids, r.targetAt, []);
      compareScores(s, rows);
      const two = [...rows[0].ids.slice(0, rows[0].targetAt), ...rows[1].ids.slice(1)].slice(0, 200 + STEPS);
      expect(two.filter((id) => id === s.tokenizer.boi).length).toBeGreaterThanOrEqual(2);
      warm(s, [two, two.slice(0, 200)]);
      comparePrefill(s, two, 200, []);
    } finally {
      s.dispose();
    }
  });

  test.each(['moss-lora-r8-seed0', 'moss-moe-lora-r8-seed0', 'moss-moss-r8-seed0'])('with the shipped %s adapter: the same, decode state included', async (run) => {
    const { session: s, adapter } = await moss.loadArm(path.join(CK, moss.SHIPPED_FOLDER, run), MM);
    try {
      expect(adapter).not.toBeNull();
      const rows = rowsOf(s);
      warm(s, rows.flatMap((r) => [r.ids, r.ids.slice(0, r.targetAt)]));
      let states = 0;
      for (const r of rows) states += comparePrefill(s, r.ids, r.targetAt, [adapter!.name]);
      compareScores(s, rows);
      // the MoSS ConvLoRA keeps the grid's previous rows per layer and projection (compared above); LoRA keeps no state, MoE-LoRA an empty one
      if (run.startsWith('moss-moss')) expect(states).toBeGreaterThan(0);
      else expect(states).toBe(0);
    } finally {
      adapter?.detach();
      s.dispose();
    }
  });

  test('the host paths that read some rows return what they returned with every row computed, exactly', async () => {
    const s = await Session.load(MM);
    try {
      const old = legacyRowsSession(s);
      const rows = rowsOf(s);
      const text = (parts: readonly moss.CodedPart[]) => parts.flatMap((p) => ('text' in p ? [p.text] : [])).join(' ');
      const imageOf = (it: moss.CodedItem) => it.prompt.flatMap((p) => ('image' in p ? [p.image] : []))[0];
      // answer ranking: the first item's prompt, the targets of three items as candidates
      const item = { context: rows[0].ids.slice(0, rows[0].targetAt), candidates: rows.slice(0, 3).map((r) => r.ids.slice(r.targetAt, r.targetAt + 20)), answer: 0 };
      expect(candidateScores(s, item)).toEqual(candidateScores(old, item));
      expect(candidateScores(s, item, 'mean')).toEqual(candidateScores(old, item, 'mean'));
      // the caption-conditioning probe: each item's prompt text as the caption of its prompt image
      const examples = items.filter((it) => imageOf(it) !== undefined).slice(0, 4).map((it) => ({ caption: text(it.prompt), codes: imageOf(it) }));
      expect(examples.length).toBeGreaterThanOrEqual(2);
      expect(captionConditioning(s, examples)).toEqual(captionConditioning(old, examples));
      // MiniGPT-5's narration NLL: the items' target text after their prompts
      const narrated: VokenItem[] = items.map((it) => ({ id: it.id, prompt: it.prompt, targetText: text(it.target) || null, image: null, caption: null }));
      expect(narrated.some((it) => it.targetText !== null)).toBe(true);
      expect(narrationNll(s, narrated)).toEqual(narrationNll(old, narrated));
      // Liquid's vocabulary view (the next-token softmax after two contexts) and a routing trace
      const view = { word: ' tree', code: 17, caption: 'A cat is to the left of a tree.', image: imageOf(items.find((it) => imageOf(it) !== undefined)!), top: 8 };
      expect(vocabularyView(s, view)).toEqual(vocabularyView(old, view));
      expect(s.trace({ ids: rows[1].ids })).toEqual(old.trace({ ids: rows[1].ids }));
    } finally {
      s.dispose();
    }
  });

  test('a CFG image generation (MoSS ConvLoRA attached) decodes the same steps as with the old prefill', async () => {
    const { session: s, adapter } = await moss.loadArm(path.join(CK, moss.SHIPPED_FOLDER, 'moss-moss-r8-seed0'), MM);
    try {
      const r = rowsOf(s).find((x) => s.tokenizer.isImageCode(x.ids[x.targetAt + 1]))!;
      const ids = [...r.ids.slice(0, r.targetAt), s.tokenizer.boi];
      const uncond = unconditionalPrompt(ids, (id) => s.tokenizer.modalityOf(id));
      const run = async (model: typeof s.model): Promise<Step[]> => {
        const out: Step[] = [];
        for await (const st of new Generation(model, s.decodeVocab(), ids, uncond, { maxNewTokens: 65, cfgScale: 3, temperature: 1, seed: 7, capture: 'routing' })) out.push(st);
        return out;
      };
      const before = await run(legacyPrefillModel(s.model));
      const after = await run(s.model);
      expect(after.length).toBe(65);
      expect(after.map((x) => x.tokenId)).toEqual(before.map((x) => x.tokenId));
      expect(after.map((x) => x.logprob)).toEqual(before.map((x) => x.logprob));
      expect(after.map((x) => x.routing)).toEqual(before.map((x) => x.routing));
    } finally {
      adapter?.detach();
      s.dispose();
    }
  });
});

test('s1-plora (PLoRA on image positions): held-out MoSS prompts', async () => {
  const { session: s, adapter } = await loadVariant(path.join(CK, 's1-plora'), 'plora');
  try {
    const rows = rowsOf(s);
    warm(s, rows.flatMap((r) => [r.ids, r.ids.slice(0, r.targetAt)]));
    for (const r of rows) comparePrefill(s, r.ids, r.targetAt, [adapter.name]);
  } finally {
    adapter.detach();
    s.dispose();
  }
});
