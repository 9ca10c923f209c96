import * as tf from '@tensorflow/tfjs';
import { useBackend, maxAbsDiff } from '../helpers/backend';
import { tinySession } from '../helpers/fixtures';
import type { Session } from '../../kernel-lib/session';
import { attachLoRA, LoRAHandle } from '../../kernel-lib/adapters';
import { KvCache } from '../../kernel-lib/model/kv-cache';
import type { ModalityKind } from '../../kernel-lib/adapters/modality-spec';
import { mixedSequence, randomizeZeros, sliceMeta } from './moss-helpers';

let s: Session;
const codesA = Array.from({ length: 16 }, (_, i) => (i * 7) % 32);
beforeAll(async () => {
  await useBackend();
  s = await tinySession();
});
afterAll(() => s.dispose());

const V = (): number => s.config.vocabSize;
const grid = { height: 4, width: 4 };

function withAdapter<T>(kind: ModalityKind, fn: (h: LoRAHandle) => T): T {
  const h = attachLoRA(s, { kind, rank: 3, alpha: 6, grid, seed: 5 });
  randomizeZeros(h, 2);
  try {
    return fn(h);
  } finally {
    h.detach();
  }
}

function forward(ids: number[]): { logits: Float32Array; experts: Int32Array[] } {
  const r = s.model.forward([ids], { positions: s.positions(ids) });
  return { logits: r.logits, experts: r.routing.map((l) => l.experts) };
}

describe.each<ModalityKind>(['convlora', 'sam-convlora', 'moe-lora'])('%s', (kind) => {
  test('causal: changing any later image code leaves every earlier position bit-identical (full forward and step decoding)', () => {
    withAdapter(kind, (h) => {
      const { ids, firstCode } = mixedSequence(s, codesA);
      const base = forward(ids).logits;
      h.enabled = false;
      const off = forward(ids).logits;
      h.enabled = true;
      expect(maxAbsDiff(base, off)).toBeGreaterThan(1e-2); // the adapter does something
      for (let m = 0; m < 16; m++) {
        const changed = ids.slice();
        changed[firstCode + m] = s.tokenizer.imageCodeId((codesA[m] + 5) % 32);
        const p = firstCode + m; // the changed token's position; positions < p must not move
        const out = forward(changed).logits;
        expect(out.subarray(0, p * V())).toEqual(base.subarray(0, p * V()));
        expect(maxAbsDiff(out.subarray(p * V()), base.subarray(p * V()))).toBeGreaterThan(0);
      }
      // step decoding: the same prefix gives the same logits whatever comes later
      const m = 9;
      const changed = ids.slice();
      changed[firstCode + m] = s.tokenizer.imageCodeId((codesA[m] + 5) % 32);
      const decode = (seq: number[]): Float32Array[] => {
        const meta = s.positions(seq);
        const { cache, logits } = s.model.prefill(seq.slice(0, 2), 'none', { positions: sliceMeta(meta, 0, 2) });
        const out = [logits];
        for (let t = 2; t < seq.length; t++) out.push(s.model.step(cache, seq[t], 'none', { positions: sliceMeta(meta, t, t + 1) }).logits);
        cache.dispose();
        return out;
      };
      const a = decode(ids);
      const b = decode(changed);
      for (let t = 0; t < firstCode + m - 1; t++) expect(b[t]).toEqual(a[t]); // out[t] is position t + 1's
    });
  });

  test('step == forward (≤ 1e-4 logits), routing identical, tensor count flat', () => {
    withAdapter(kind, () => {
      const { ids, firstCode } = mixedSequence(s, codesA);
      const full = forward(ids);
      const meta = s.positions(ids);
      for (const pre of [1, firstCode, firstCode + 6]) {
        s.model.forward([ids.slice(0, pre)], { positions: sliceMeta(meta, 0, pre) }); // warms the model's causal mask for this length
        const before = tf.memory().numTensors;
        const { cache, logits, routing } = s.model.prefill(ids.slice(0, pre), 'routing', { positions: sliceMeta(meta, 0, pre) });
        let worst = maxAbsDiff(logits, full.logits.subarray((pre - 1) * V(), pre * V()));
        const k = routing[0].experts.length / pre;
        routing.forEach((l, i) => expect([...l.experts]).toEqual([...full.experts[i].subarray(0, pre * k)]));
        const counts: number[] = [];
        for (let t = pre; t < ids.length; t++) {
          const r = s.model.step(cache, ids[t], 'routing', { positions: sliceMeta(meta, t, t + 1) });
          worst = Math.max(worst, maxAbsDiff(r.logits, full.logits.subarray(t * V(), (t + 1) * V())));
          r.routing.forEach((l, i) => expect([...l.experts]).toEqual([...full.experts[i].subarray(t * k, (t + 1) * k)]));
          counts.push(tf.memory().numTensors);
        }
        expect(worst).toBeLessThanOrEqual(1e-4);
        expect(new Set(counts.slice(1)).size).toBe(1); // the decode history replaces itself
        cache.dispose();
        expect(tf.memory().numTensors).toBe(before);
      }
    });
  });

  test('off = bit-identical to the base; a text-only sequence computes the text LoRA alone', () => {
    const { ids } = mixedSequence(s, codesA);
    const base = forward(ids).logits;
    withAdapter(kind, (h) => {
      h.enabled = false;
      expect(forward(ids).logits).toEqual(base);
      h.enabled = true;
      expect(maxAbsDiff(forward(ids).logits, base)).toBeGreaterThan(1e-2);
    });
    expect(forward(ids).logits).toEqual(base); // detached
  });
});

test('the conv kinds refuse metadata without output modality, with a message', () => {
  withAdapter('convlora', () => {
    const { ids } = mixedSequence(s, codesA);
    const codes = s.positions(ids).modality;
    expect(() => s.model.forward([ids], { modalities: codes })).toThrow(
      "convlora adapter 'convlora' needs what each position outputs; modality codes alone do not say it: pass positions (positionMeta) instead of modalities",
    );
    expect(() => s.model.forward([ids])).toThrow(
      "convlora adapter 'convlora' needs each position's metadata (positionMeta): pass positions to forward/prefill/step, or go through Session.trace/generate/train, which pass them",
    );
  });
});

test('Session.train trains a ConvLoRA with position metadata: image branch from image outputs only, base frozen', async () => {
  const h = attachLoRA(s, { kind: 'convlora', rank: 2, alpha: 4, grid, seed: 1 });
  try {
    const freeze = ['embed', 'blocks.*', 'final_norm', ...(s.model.params.has('lm_head') ? ['lm_head'] : [])];
    const snap = () => new Map([...s.model.params, ...h.parameters()].map(([n, v]) => [n, Array.from(v.dataSync())]));
    const textIds = s.encode('a tiger to the left of an apple a red heart').ids;
    let before = snap();
    await s.train({ steps: 2, batches: () => ({ ids: [textIds] }), lr: 1e-2, warmupSteps: 0, weightDecay: 0, freeze });
    let changed = [...before.keys()].filter((n) => maxAbsDiff(before.get(n)!, snap().get(n)!) > 0);
    expect(changed.length).toBeGreaterThan(0);
    expect(changed.every((n) => n.startsWith('adapters.convlora.') && n.includes('.text.'))).toBe(true); // no image output: image branch untouched
    const { ids } = mixedSequence(s, codesA);
    before = snap();
    await s.train({ steps: 2, batches: () => ({ ids: [ids] }), lr: 1e-2, warmupSteps: 0, weightDecay: 0, freeze });
    changed = [...before.keys()].filter((n) => maxAbsDiff(before.get(n)!, snap().get(n)!) > 0);
    expect(changed.some((n) => n.endsWith('.image.B'))).toBe(true);
    expect(changed.some((n) => n.endsWith('.image.conv'))).toBe(true); // B ≠ 0 after the first step, so the conv gets gradient
    expect(changed.every((n) => n.startsWith('adapters.'))).toBe(true);
  } finally {
    h.detach();
  }
});

test('batched step decoding keeps one grid history per sequence: stepBatch rows equal batch-1 steps', () => {
  withAdapter('convlora', () => {
    const a = mixedSequence(s, codesA);
    const b = mixedSequence(s, codesA.map((c) => (c + 3) % 32));
    const ma = s.positions(a.ids);
    const mb = s.positions(b.ids);
    const pa = a.firstCode - 1; // prefill through text; the images are stepped with different offsets
    const pb = a.firstCode + 2;
    const one = [s.model.prefill(a.ids.slice(0, pa), 'none', { positions: sliceMeta(ma, 0, pa) }).cache, s.model.prefill(b.ids.slice(0, pb), 'none', { positions: sliceMeta(mb, 0, pb) }).cache];
    const both = KvCache.stack([s.model.prefill(a.ids.slice(0, pa), 'none', { positions: sliceMeta(ma, 0, pa) }).cache, s.model.prefill(b.ids.slice(0, pb), 'none', { positions: sliceMeta(mb, 0, pb) }).cache]);
    let worst = 0;
    for (let i = 0; i < 14; i++) {
      const rows = [pa + i, pb + i];
      const toks = [a.ids[rows[0]], b.ids[rows[1]]];
      const metas = [sliceMeta(ma, rows[0], rows[0] + 1), sliceMeta(mb, rows[1], rows[1] + 1)];
      const joined = { modality: Uint8Array.from(metas.flatMap((m) => [...m.modality])), outputModality: Uint8Array.from(metas.flatMap((m) => [...m.outputModality])), image: Int32Array.from(metas.flatMap((m) => [...m.image])), row: Int32Array.from(metas.flatMap((m) => [...m.row])), col: Int32Array.from(metas.flatMap((m) => [...m.col])) };
      const r = s.model.stepBatch(both, toks, { capture: 'none', positions: joined });
      for (let k = 0; k < 2; k++) worst = Math.max(worst, maxAbsDiff(r.logits[k], s.model.step(one[k], toks[k], 'none', { positions: metas[k] }).logits));
    }
    expect(worst).toBeLessThanOrEqual(1e-4);
    for (const c of [...one, both]) c.dispose();
  });
});
