/**
 * MoSS held-out evaluation (papers/moss-…/evaluate.ts): per-item image-code and text NLL against an
 * independent reference (each item alone, the host logits, a float64 log-softmax), the same numbers in any
 * batching, no tensor leaks; the held-out item lists of a split; drawn targets scored by the scene checker.
 */
import * as fs from 'fs';
import * as tf from '@tensorflow/tfjs';
import { moss, attachLoRA } from '../../kernel-lib';
import type { Session, VQVAE } from '../../kernel-lib';
import type { ImageCodes } from '../../kernel-lib/tokenizer';
import type { RGBImage } from '../../kernel-lib/image';
import { ensureData, DataStore } from '../../kernel-lib/data/store';
import { instructionData } from '../../kernel-lib/data/instructions';
import { tinySession } from '../helpers/fixtures';
import { useBackend } from '../helpers/backend';
import { randomizeZeros } from '../adapters/moss-helpers';
import { SMALL, quiet, tempDir } from '../data/helpers';
import { countingEncoder, tinySource } from './moss-helpers';

let dir: string;
let store: DataStore;

beforeAll(async () => {
  await useBackend();
  dir = tempDir('moss-eval');
  store = await ensureData({ ...SMALL, cacheDir: dir, onProgress: quiet });
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** The reference: one item alone, host logits, log-softmax in float64, averaged by hand. */
function reference(s: Session, item: moss.CodedItem): { image: number; text: number; nImage: number; nText: number } {
  const { ids, targetAt } = moss.itemRow(s.tokenizer, item);
  const input = ids.slice(0, -1);
  const r = s.model.forward([input], { capture: 'none', positions: s.positions(input) });
  const V = s.config.vocabSize;
  const acc = { image: 0, text: 0, nImage: 0, nText: 0 };
  for (let j = targetAt; j < ids.length; j++) {
    const row = Array.from(r.logits.subarray((j - 1) * V, j * V), Number);
    const m = Math.max(...row);
    const nll = m + Math.log(row.reduce((z, x) => z + Math.exp(x - m), 0)) - row[ids[j]];
    if (s.tokenizer.isImageCode(ids[j])) (acc.image += nll), acc.nImage++;
    else if (s.tokenizer.modalityOf(ids[j]) === 'text') (acc.text += nll), acc.nText++;
  }
  return { image: acc.image / acc.nImage, text: acc.nText > 0 ? acc.text / acc.nText : NaN, nImage: acc.nImage, nText: acc.nText };
}

test('scoreItems: per-item image and text NLL equal the one-item reference in any batching; text NaN where the target is an image alone; no leaks', async () => {
  const s = await tinySession({ seed: 2 });
  const h = attachLoRA(s, moss.armAdapter(s.config, 'moss', { rank: 2, seed: 1, grid: s.tokenizer.imageGrid })!);
  randomizeZeros(h, 4); // a trained-looking ConvLoRA, so the adapter and the positions matter
  const items = new moss.CodedItems(tinySource(7), countingEncoder().encode).items([0, 1, 2, 3, 4, 5, 6]);
  const batched = moss.scoreItems(s, items, { batchSize: 3 });
  const single = moss.scoreItems(s, items, { batchSize: 1 });
  // the model keeps RoPE tables and a bounded cache of causal masks by length (model/attention.ts), made on
  // first use; scoring the same items again must not add a tensor
  const n0 = tf.memory().numTensors;
  moss.scoreItems(s, items, { batchSize: 3 });
  moss.scoreItems(s, items, { batchSize: 1 });
  expect(tf.memory().numTensors).toBe(n0);
  expect(batched.ids).toEqual(items.map((it) => it.id));
  expect(batched.kinds).toEqual(['story', 'edit', 'continue', 'story', 'edit', 'continue', 'story']);
  items.forEach((it, i) => {
    const ref = reference(s, it);
    expect(batched.imageTokens[i]).toBe(16);
    expect(ref.nImage).toBe(16);
    expect(Math.abs(batched.imageNll[i] - ref.image)).toBeLessThan(1e-4);
    expect(Math.abs(single.imageNll[i] - batched.imageNll[i])).toBeLessThan(1e-4);
    expect(batched.textTokens[i]).toBe(ref.nText);
    if (it.kind === 'story') {
      expect(ref.nText).toBeGreaterThan(0);
      expect(Math.abs(batched.textNll[i] - ref.text)).toBeLessThan(1e-4);
    } else {
      expect(batched.textNll[i]).toBeNaN();
      expect(batched.textTokens[i]).toBe(0);
    }
  });
  // the adapter is part of what is scored: off gives other numbers
  h.enabled = false;
  expect(Math.abs(moss.scoreItems(s, items.slice(0, 1)).imageNll[0] - batched.imageNll[0])).toBeGreaterThan(1e-3);
  expect(() => moss.scoreItems(s, items, { batchSize: 0 })).toThrow('moss.scoreItems: batchSize must be a positive integer, got 0');
  expect(moss.finiteMean([1, NaN, 3])).toBe(2);
  expect(moss.finiteMean([NaN])).toBeNaN();
  h.detach();
  s.dispose();
});

test('heldOutItems: the first perKind items of each task of a held-out split, in task order', () => {
  const enc = countingEncoder(); // reads a 4×4 grid off a 32×32 image's first 16 pixels: enough to check the plumbing
  const items = moss.heldOutItems(store, enc.encode, { split: 'val', perKind: 3 });
  expect(items.map((it) => it.id)).toEqual(['story', 'edit', 'continue'].flatMap((k) => [0, 1, 2].map((i) => `instructions/${k}/val/${i}`)));
  const edits = [...instructionData(store, { split: 'val', kinds: ['edit'] })].slice(0, 3);
  items.slice(3, 6).forEach((it, i) => {
    expect(it.scene).toEqual(edits[i].meta.scene);
    expect(it.edit).toEqual(edits[i].meta.edit);
    expect(it.prompt.length).toBe(2);
    expect(it.target.length).toBe(1);
  });
  expect(() => moss.heldOutItems(store, enc.encode, { split: 'train', perKind: 3 })).toThrow("moss.heldOutItems: split must be 'val' or 'test' (held out), got 'train'");
  expect(() => moss.heldOutItems(store, enc.encode, { split: 'val', perKind: 0 })).toThrow('moss.heldOutItems: perKind must be a positive integer, got 0');
});

test('drawTargets: draws one grid per item after the prompt; the scene checker scores objects in place and the edited object', async () => {
  const s = await tinySession({ seed: 2, config: { maxPositions: 1024 } }); // real narrations are long in the tiny BPE
  const enc = countingEncoder();
  const items = moss.heldOutItems(store, enc.encode, { split: 'val', perKind: 2 }); // story, story, edit, edit, continue, continue
  const truth: RGBImage[] = [...instructionData(store, { split: 'val', kinds: ['story'] })].slice(0, 2)
    .concat([...instructionData(store, { split: 'val', kinds: ['edit'] })].slice(0, 2), [...instructionData(store, { split: 'val', kinds: ['continue'] })].slice(0, 2))
    .map((ex) => {
      const last = ex.parts[ex.parts.length - 1];
      if (!('image' in last)) throw new Error('target image expected');
      return last.image;
    });
  const seen: ImageCodes[][] = [];
  // stand-in decoders: the ground-truth target (a perfect model) and a blank canvas (a model that draws nothing)
  const decoder = (out: (i: number) => RGBImage) => ({ decode: (codes: ImageCodes[]) => (seen.push(codes), codes.map((_, i) => out(i))) }) as unknown as VQVAE;
  const blank: RGBImage = { height: 32, width: 32, pixels: new Uint8Array(32 * 32 * 3).fill(255) };
  const checker = moss.instructionChecker(store);
  try {
    const perfect = await moss.drawTargets(s, items, decoder((i) => truth[i]), checker, { firstSeed: 3 });
    expect(seen[0].map((c) => [c.height, c.width, c.codes.length])).toEqual(items.map(() => [4, 4, 16]));
    expect(perfect.kinds).toEqual(['story', 'story', 'edit', 'edit', 'continue', 'continue']);
    expect(perfect.objectsRight).toEqual([1, 1, 1, 1, 1, 1]);
    expect(perfect.editRight.map((x) => (Number.isNaN(x) ? null : x))).toEqual([null, null, 1, 1, null, null]);
    expect(perfect.msPerImage).toBeGreaterThan(0);
    const none = await moss.drawTargets(s, items, decoder(() => blank), checker, { firstSeed: 3 });
    expect(none.objectsRight).toEqual([0, 0, 0, 0, 0, 0]);
    expect(none.editRight.filter(Number.isFinite)).toEqual([0, 0]);
    // the same seeds draw the same codes
    expect(seen[1]).toEqual(seen[0]);
    await expect(moss.drawTargets(s, [{ ...items[0], scene: undefined }], decoder(() => blank), checker)).rejects.toThrow('moss.drawTargets: item instructions/story/val/0 has no scene to check against');
  } finally {
    checker.dispose();
    s.dispose();
  }
});

test('instructionChecker knows every object a held-out target shows, skin-tone variants by their tone', () => {
  const checker = moss.instructionChecker(store);
  try {
    const known = new Map(checker.templates.map((t) => [t.emoji, t.name]));
    let toned = 0;
    for (const split of ['val', 'test'] as const) {
      for (const ex of instructionData(store, { split })) {
        for (const o of ex.meta.scene?.objects ?? []) {
          expect(known.has(o.emoji)).toBe(true);
          const e = store.emoji[o.emoji];
          if (e.tones.length > 0) {
            toned++;
            expect(known.get(o.emoji)).toBe(`${e.name} (${e.tones[0]} skin tone)`);
          }
        }
      }
    }
    expect(toned).toBeGreaterThan(0); // stories do change skin tones (the case the checker once refused)
  } finally {
    checker.dispose();
  }
});
