/**
 * The fused adapter form (adapters/fused.ts: the targets' products side by side; causal-grid.ts causalConv:
 * one op over every row of a call) against the form before it (bench/adapter-legacy.ts: per-target
 * products, the per-sequence im2col built with TF.js ops), on a batch of several sequences — two images in one,
 * an image right after <bos>, an image cut off by the row's end, a text-only row, padding — with dropout on:
 * every projection call's delta and its adapter-weight gradients are the old bits, and the gradient of its
 * input (the three targets' parts summed in one product instead of by the tape) agrees to float32 rounding
 * (≤ 1e-5 of the largest value; ~2e-7 measured), as does SAM-ConvLoRA's A, whose gradient comes through the
 * convolutions' input gradient. The whole step on the shipped model is compared in
 * tests/bench/moss-train. The convolution never reads across sequences: changing every row of one sequence leaves
 * the next sequence's delta bit-identical, in one batched call.
 */
import * as tf from '@tensorflow/tfjs';
import { useBackend } from '../helpers/backend';
import { tinySession } from '../helpers/fixtures';
import type { Session } from '../../kernel-lib/session';
import { attachLoRA, causalConv, causalTaps, projectionShape } from '../../kernel-lib/adapters';
import type { LoRAOptions } from '../../kernel-lib/adapters';
import type { ModalityLoRAOptions } from '../../kernel-lib/adapters';
import type { AdapterContext } from '../../kernel-lib/model/adapter-seam';
import { mulberry32, normalArray } from '../../kernel-lib/util/random';
import { useLegacyDelta } from '../../bench/adapter-legacy';
import { randomizeZeros } from './moss-helpers';
import { sameBits } from '../helpers/grads';

let s: Session;
beforeAll(async () => {
  await useBackend();
  s = await tinySession();
});
afterAll(() => s.dispose());

const grid = { height: 4, width: 4 };
const T = 44;

/** Rows of a batch (each T + 1 ids: inputs and targets), see the file comment. */
function batchRows(): number[][] {
  const tok = s.tokenizer;
  const rand = mulberry32(5);
  const text = (n: number) => Array.from({ length: n }, () => Math.floor(rand() * tok.textVocabSize));
  const image = (n = 16) => [tok.boi, ...Array.from({ length: n }, () => tok.imageCodeId(Math.floor(rand() * tok.numImageCodes))), ...(n === 16 ? [tok.eoi] : [])];
  const pad = (r: number[]) => [...r, ...new Array<number>(T + 1 - r.length).fill(tok.pad)].slice(0, T + 1);
  return [
    pad([tok.bos, ...text(2), ...image(), ...text(2), ...image(), ...text(3)]), // two images
    pad([tok.bos, ...image(), ...text(5)]), // an image right after <bos>, then padding
    pad([tok.bos, ...text(30)]), // text only
    pad([tok.bos, ...text(33), ...image(9)]), // an image cut off by the row's end
  ];
}

const KINDS: Array<[string, LoRAOptions | ModalityLoRAOptions]> = [
  ['lora', { kind: 'lora', rank: 3, alpha: 6, seed: 2, dropout: 0.1 }],
  ['plora', { kind: 'plora', rank: 3, alpha: 6, seed: 2, dropout: 0.1 }],
  ['moe-lora', { kind: 'moe-lora', rank: 3, alpha: 6, seed: 2, dropout: 0.1 }],
  ['convlora', { kind: 'convlora', rank: 3, alpha: 6, seed: 2, grid, dropout: 0.1 }],
  ['sam-convlora', { kind: 'sam-convlora', rank: 3, alpha: 6, seed: 2, grid, dropout: 0.1 }],
  ['convlora on q and o', { kind: 'convlora', rank: 2, alpha: 4, seed: 3, grid, targets: ['q', 'o'], layers: [1] }],
];

/** max |a − b| / max |a| */
function rel(a: Float32Array, b: Float32Array): number {
  let d = 0;
  let m = 0;
  for (let i = 0; i < a.length; i++) (d = Math.max(d, Math.abs(a[i] - b[i]))), (m = Math.max(m, Math.abs(a[i])));
  return d / m;
}

test.each(KINDS)('%s: every projection call of the fused form gives the form before\'s values and weight gradients bit for bit, its input gradient to float32 rounding', (_name, options) => {
  const h = attachLoRA(s, options);
  try {
    randomizeZeros(h, 4);
    const inputs = batchRows().map((r) => r.slice(0, T));
    const B = inputs.length;
    const ctx: AdapterContext = { batch: B, seqLen: T, start: new Array<number>(B).fill(0), positions: s.positions(inputs), training: true, dropoutSeed: 11 };
    const rand = mulberry32(8);
    const ad = h.adapter;
    let calls = 0;
    for (const layer of ad.spec.layers) {
      for (const target of ['attn.wqkv', 'attn.wo'] as const) {
        if (!ad.appliesTo(layer, target)) continue;
        const io = target === 'attn.wo' ? projectionShape(s.config, 'o') : { in: s.config.hiddenSize, out: (['q', 'k', 'v'] as const).reduce((n, t) => n + projectionShape(s.config, t).out, 0) };
        const width = io.out;
        const x = tf.tensor2d(normalArray(B * T * io.in, 1, rand), [B * T, io.in]);
        const G = tf.tensor2d(normalArray(B * T * width, 1, rand), [B * T, width]);
        const mine = (n: string) => n.includes(`.blocks.${layer}.attn.`) && n.includes('.attn.o.') === (target === 'attn.wo');
        const named = [...h.parameters()].filter(([n]) => mine(n));
        const vars = named.map(([, v]) => v);
        const run = () => {
          let value!: Float32Array;
          const grads: Float32Array[] = [];
          tf.tidy(() => {
            const r = tf.engine().gradients(() => {
              const d = ad.delta(layer, target, x, ctx);
              value = Float32Array.from(d.dataSync() as Float32Array);
              return tf.sum(tf.mul(d, G)) as tf.Scalar;
            }, [x, ...vars]);
            for (const g of r.grads) grads.push(Float32Array.from(g.dataSync() as Float32Array));
          });
          return { value, grads };
        };
        const before = tf.memory().numTensors;
        const neu = run();
        expect(tf.memory().numTensors).toBe(before);
        const restore = useLegacyDelta(h);
        const old = run();
        restore();
        expect([layer, target, sameBits(old.value, neu.value)]).toEqual([layer, target, true]);
        expect([layer, target, rel(old.grads[0], neu.grads[0]) < 1e-5]).toEqual([layer, target, true]); // the input's: the targets' parts summed in another order
        old.grads.slice(1).forEach((g, i) => {
          const name = named[i][0];
          // SAM's down-projection A gets its gradient through the convolutions' input gradient, summed in another order
          if (name.endsWith('.image.A') && options.kind === 'sam-convlora') expect([name, rel(g, neu.grads[i + 1]) < 1e-5]).toEqual([name, true]);
          else expect([name, sameBits(g, neu.grads[i + 1])]).toEqual([name, true]);
        });
        expect(old.grads.every((g) => g.some((v) => v !== 0))).toBe(true); // every weight and the input are reached
        tf.dispose([x, G]);
        calls++;
      }
    }
    expect(calls).toBeGreaterThan(0);
  } finally {
    h.detach();
  }
});

test.each(['convlora', 'sam-convlora'] as const)('%s: in one batched call, changing every row of sequence 0 leaves sequence 1 bit-identical (the convolution never reads across sequences)', (kind) => {
  const h = attachLoRA(s, { kind, rank: 3, alpha: 6, seed: 2, grid });
  try {
    randomizeZeros(h, 4);
    const rows = batchRows();
    const inputs = [rows[0], rows[1]].map((r) => r.slice(0, T)); // sequence 0 ends in text, sequence 1 opens with an image
    const positions = s.positions(inputs);
    const ctx: AdapterContext = { batch: 2, seqLen: T, start: [0, 0], positions };
    const H = s.config.hiddenSize;
    const x = normalArray(2 * T * H, 1, mulberry32(3));
    const delta = (xs: Float32Array) => tf.tidy(() => Float32Array.from(h.adapter.delta(0, 'attn.wqkv', tf.tensor2d(xs, [2 * T, H]), ctx).dataSync() as Float32Array));
    const a = delta(x);
    const changed = x.slice();
    for (let i = 0; i < T * H; i++) changed[i] += 1; // every row of sequence 0
    const b = delta(changed);
    const w = a.length / (2 * T);
    expect(Buffer.from(b.buffer, b.byteOffset + T * w * 4).equals(Buffer.from(a.buffer, a.byteOffset + T * w * 4))).toBe(true);
    expect(a.subarray(0, T * w).some((v, i) => v !== b[i])).toBe(true); // sequence 0 did change
  } finally {
    h.detach();
  }
});

test('causalTaps: PyTorch tap order (kh·k + kw) reads dy = k−1−kh rows up, dx = k−1−kw cells left, s = dy·W + dx back', () => {
  expect(causalTaps(2, 8)).toEqual([{ dy: 1, dx: 1, s: 9 }, { dy: 1, dx: 0, s: 8 }, { dy: 0, dx: 1, s: 1 }, { dy: 0, dx: 0, s: 0 }]);
  expect(causalTaps(1, 8)).toEqual([{ dy: 0, dx: 0, s: 0 }]);
  expect(causalTaps(4, 3).map((t) => t.s)).toEqual([12, 11, 10, 9, 9, 8, 7, 6, 6, 5, 4, 3, 3, 2, 1, 0]);
});

test('causalConv names features, cells and weights that do not fit the call', () => {
  const f = tf.zeros([6, 3]) as tf.Tensor2D;
  const w = tf.zeros([12, 2]) as tf.Tensor2D;
  const plan = { cells: new Int32Array(6).fill(-1), W: 4, k: 2, batch: 2, seqLen: 3, key: 'k' };
  expect(() => causalConv(f, w, { ...plan, seqLen: 4 })).toThrow('causalConv: 6 feature rows and 6 cells for 2×4 rows');
  const w9 = tf.zeros([9, 2]) as tf.Tensor2D;
  expect(() => causalConv(f, w9, plan)).toThrow('causalConv: weight [9,2] for 2×2 taps of 3 features (expected [12, m])');
  tf.dispose([f, w, w9]);
});
