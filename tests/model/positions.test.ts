import * as tf from '@tensorflow/tfjs';
import { useBackend } from '../helpers/backend';
import { tinySession } from '../helpers/fixtures';
import { RecordingAdapter } from '../helpers/test-adapters';
import type { Session } from '../../kernel-lib/session';
import { MODALITY_CODES as M, OUTPUT_UNKNOWN, metaFromModalities, modalityCodes, positionMeta } from '../../kernel-lib/model/positions';
import { attachLoRA } from '../../kernel-lib/adapters';
import { mulberry32, normalArray } from '../../kernel-lib/util/random';
import type { Step } from '../../kernel-lib/decode/generate';

let s: Session;
beforeAll(async () => {
  await useBackend();
  s = await tinySession(); // 4×4 image grid
});
afterAll(() => s.dispose());

async function collect(it: AsyncIterable<Step>): Promise<Step[]> {
  const out: Step[] = [];
  for await (const x of it) out.push(x);
  return out;
}

test('positionMeta: modality, image/row/col of codes, and what each position outputs', () => {
  const t = s.tokenizer;
  const c = (k: number) => t.imageCodeId(k);
  const a = s.encode('a red heart').ids.slice(0, 2); // <bos> + a text token
  const ids = [...a, t.boi, ...Array.from({ length: 16 }, (_, k) => c(k)), t.eoi, a[1], t.boi, c(5), c(6)];
  const m = positionMeta(ids, s.decodeVocab());
  const T = M.text, I = M.image, S = M.special;
  expect([...m.modality]).toEqual([S, T, S, ...Array(16).fill(I), S, T, S, I, I]);
  // image index of each code (−1 elsewhere), row and col on the 4×4 grid
  expect([...m.image]).toEqual([-1, -1, -1, ...Array(16).fill(0), -1, -1, -1, 1, 1]);
  expect([...m.row]).toEqual([-1, -1, -1, ...Array.from({ length: 16 }, (_, k) => Math.floor(k / 4)), -1, -1, -1, 0, 0]);
  expect([...m.col]).toEqual([-1, -1, -1, ...Array.from({ length: 16 }, (_, k) => k % 4), -1, -1, -1, 0, 1]);
  // <boi> and the first 15 codes output image codes; the 16th forces <eoi> (special); outside: text
  expect([...m.outputModality]).toEqual([T, T, I, ...Array(15).fill(I), S, T, T, I, I, I]);
  // a batch is flattened row-major, each row read from its own start
  const batch = positionMeta([[t.boi, c(0)], [c(0), t.boi]], s.decodeVocab());
  expect([...batch.image]).toEqual([-1, 0, -1, -1]);
  expect([...batch.outputModality]).toEqual([I, I, T, I]);
  // legacy modality codes carry no grid and an unknown output
  const legacy = metaFromModalities(modalityCodes(ids, (id) => t.modalityOf(id)));
  expect([...legacy.modality]).toEqual([...m.modality]);
  expect(legacy.outputModality.every((x) => x === OUTPUT_UNKNOWN)).toBe(true);
  expect(legacy.row.every((x) => x === -1)).toBe(true);
});

test('every forward path hands adapters the same metadata: full forward, prefill + steps, Generation, training', async () => {
  const rec = new RecordingAdapter('rec', s.config);
  s.model.adapters.add(rec);
  try {
    const steps = await collect(s.generate('an emoji of an apple', { startImage: true, seed: 2, temperature: 1.5 }));
    const ids = [...s.encode('an emoji of an apple').ids, s.tokenizer.boi, ...steps.map((x) => x.tokenId)];
    const decodeCalls = rec.calls.splice(0);
    // prefill saw the prompt (with <boi>), then one call per fed token, each at its position
    expect(decodeCalls[0]).toMatchObject({ batch: 1, seqLen: ids.length - steps.length, start: [0] });
    decodeCalls.slice(1).forEach((call, i) => expect(call).toMatchObject({ batch: 1, seqLen: 1, start: [ids.length - steps.length + i] }));
    const join = (k: 'modality' | 'outputModality' | 'image' | 'row' | 'col') => decodeCalls.flatMap((x) => x[k]);
    s.trace({ ids }); // full forward through Session
    const full = rec.calls.splice(0)[0];
    expect(full).toMatchObject({ batch: 1, seqLen: ids.length, hasStates: false });
    const want = s.positions(ids);
    for (const k of ['modality', 'outputModality', 'image', 'row', 'col'] as const) {
      expect(join(k)).toEqual([...want[k]]);
      expect(full[k]).toEqual([...want[k]]);
    }
    // the step after <boi> … 15th code outputs an image code, the 16th forces <eoi>
    expect(steps.slice(0, 16).map((_x, i) => join('outputModality')[ids.length - steps.length + i])).toEqual([...Array(15).fill(M.image), M.special]);
    // training: forwardTensors with training: true carries [B·T] metadata of a batch
    const rows = [ids.slice(0, 10), ids.slice(5, 15)];
    tf.tidy(() => {
      s.model.forwardTensors(tf.tensor2d(rows, [2, 10], 'int32'), { capture: 'none', training: true, positions: s.positions(rows) });
    });
    const tr = rec.calls.splice(0)[0];
    expect(tr).toMatchObject({ batch: 2, seqLen: 10, start: [0, 0] });
    expect(tr.image).toEqual([...s.positions(rows).image]);
    expect(() => s.model.forward([ids], { positions: s.positions(ids.slice(1)) })).toThrow(`forward: position metadata 'modality' has ${ids.length - 1} entries for ${ids.length} tokens`);
    expect(() => s.model.forward([ids], { positions: s.positions(ids), modalities: new Uint8Array(ids.length) })).toThrow('forward: pass positions or modalities, not both');
  } finally {
    s.model.adapters.remove('rec');
  }
});

test('PLoRA reads the metadata bit-identically to the legacy modality codes', () => {
  const h = attachLoRA(s, { kind: 'plora', rank: 4, alpha: 8 });
  try {
    const rand = mulberry32(2);
    tf.tidy(() => {
      for (const [n, v] of h.parameters()) if (n.endsWith('.B')) v.assign(tf.tensor(normalArray(v.size, 0.3, rand), v.shape));
    });
    const t = s.tokenizer;
    const ids = s.encode([{ text: 'a tiger' }, { image: { height: 4, width: 4, codes: Array.from({ length: 16 }, (_, i) => (i * 5) % 32) } }]).ids;
    const legacy = s.model.forward([ids], { modalities: modalityCodes(ids, (id) => t.modalityOf(id)) });
    const meta = s.model.forward([ids], { positions: s.positions(ids) });
    expect(meta.logits).toEqual(legacy.logits);
    const a = s.model.prefill(ids.slice(0, 8), 'none', { positions: s.positions(ids.slice(0, 8)) });
    const b = s.model.prefill(ids.slice(0, 8), 'none', modalityCodes(ids.slice(0, 8), (id) => t.modalityOf(id)));
    expect(a.logits).toEqual(b.logits);
    const pa = s.positions(ids);
    for (let i = 8; i < ids.length; i++) {
      const one = { modality: pa.modality.subarray(i, i + 1), outputModality: pa.outputModality.subarray(i, i + 1), image: pa.image.subarray(i, i + 1), row: pa.row.subarray(i, i + 1), col: pa.col.subarray(i, i + 1) };
      expect(s.model.step(a.cache, ids[i], 'none', { positions: one }).logits).toEqual(s.model.step(b.cache, ids[i], 'none', pa.modality[i]).logits);
    }
    a.cache.dispose();
    b.cache.dispose();
  } finally {
    h.detach();
  }
});
