/**
 * The ConvLoRA path against an independent float64 reference: a direct causal 2×2 convolution over the
 * grid (cells found from the metadata, PyTorch Conv2d tap order), values and gradients (central finite
 * differences in float64) of every weight and of the input.
 */
import * as tf from '@tensorflow/tfjs';
import { useBackend } from '../helpers/backend';
import { defaultMoEConfig, headDim } from '../../kernel-lib/model/config';
import { sequenceContext } from '../../kernel-lib/model/adapter-seam';
import { MODALITY_CODES, positionMeta, PositionVocab } from '../../kernel-lib/model/positions';
import { ConvLoRAAdapter } from '../../kernel-lib/adapters/conv-lora';
import { mulberry32, normalArray } from '../../kernel-lib/util/random';

beforeAll(() => useBackend());

const cfg = defaultMoEConfig('tiny');
const grid = { height: 2, width: 3 }; // not square: catches a swapped height and width
// ids: 0 text, 1 <boi>, 2 <eoi>, 3..6 image codes
const vocab: PositionVocab = {
  modalityOf: (id) => (id === 0 ? 'text' : id <= 2 ? 'special' : 'image'),
  image: { boi: 1, eoi: 2, codeStart: 3, numCodes: 4, grid },
};
const ids = [0, 0, 1, 3, 4, 5, 6, 3, 4, 2, 0];
const meta = positionMeta(ids, vocab);
const N = ids.length;
const dIn = cfg.numHeads * headDim(cfg); // o_proj input
const dOut = cfg.hiddenSize;
const r = 2;

/** Reference delta [N, dOut] in float64; w: conv [4·dIn, r], B [r, dOut], tA [dIn, r], tB [r, dOut]. */
function reference(x: Float64Array, w: Record<string, Float64Array>, s: number): Float64Array {
  const out = new Float64Array(N * dOut);
  const rowOfCell = new Map<string, number>(); // "i,j" → the row that outputs that cell
  let k = 0;
  for (let p = 0; p < N; p++) if (meta.outputModality[p] === MODALITY_CODES.image) rowOfCell.set(`${Math.floor(k / grid.width)},${k++ % grid.width}`, p);
  for (let p = 0; p < N; p++) {
    const low = new Float64Array(r);
    const cell = [...rowOfCell].find(([, q]) => q === p)?.[0];
    if (cell) {
      const [i, j] = cell.split(',').map(Number);
      for (let kh = 0; kh < 2; kh++) {
        for (let kw = 0; kw < 2; kw++) {
          const q = rowOfCell.get(`${i - 1 + kh},${j - 1 + kw}`); // padding top/left: off-grid cells are 0
          if (q === undefined) continue;
          for (let c = 0; c < dIn; c++) for (let a = 0; a < r; a++) low[a] += x[q * dIn + c] * w.conv[((kh * 2 + kw) * dIn + c) * r + a];
        }
      }
      for (let a = 0; a < r; a++) for (let o = 0; o < dOut; o++) out[p * dOut + o] += s * low[a] * w.B[a * dOut + o];
    } else {
      for (let c = 0; c < dIn; c++) for (let a = 0; a < r; a++) low[a] += x[p * dIn + c] * w.tA[c * r + a];
      for (let a = 0; a < r; a++) for (let o = 0; o < dOut; o++) out[p * dOut + o] += s * low[a] * w.tB[a * dOut + o];
    }
  }
  return out;
}

test('ConvLoRA: values and gradients (weights and input) match a float64 direct convolution with finite differences', () => {
  const ad = new ConvLoRAAdapter(cfg, { kind: 'convlora', rank: r, alpha: 3, grid, targets: ['o'], layers: [0], seed: 4 });
  const rand = mulberry32(9);
  const names = { conv: ad.path(0, 'o', 'image', 'conv'), B: ad.path(0, 'o', 'image', 'B'), tA: ad.path(0, 'o', 'text', 'A'), tB: ad.path(0, 'o', 'text', 'B') };
  const vars = ad.parameters();
  for (const n of Object.values(names)) vars.get(n)!.assign(tf.tensor(normalArray(vars.get(n)!.size, 0.5, rand), vars.get(n)!.shape));
  const x = normalArray(N * dIn, 1, rand);
  const g = normalArray(N * dOut, 1, rand); // loss = Σ delta ⊙ g
  const ctx = sequenceContext(meta);

  const xt = tf.tensor2d(x, [N, dIn]);
  const gt = tf.tensor2d(g, [N, dOut]);
  const loss = (xi: tf.Tensor2D): tf.Scalar => tf.sum(tf.mul(ad.delta(0, 'attn.wo', xi, ctx), gt));
  const { grads } = tf.variableGrads(() => loss(xt), [...Object.values(names)].map((n) => vars.get(n)!));
  const dx = tf.grad((xi: tf.Tensor) => loss(xi as tf.Tensor2D))(xt);
  const value = ad.delta(0, 'attn.wo', xt, ctx).dataSync();

  const w: Record<string, Float64Array> = {};
  for (const [k, n] of Object.entries(names)) w[k] = Float64Array.from(vars.get(n)!.dataSync());
  const x64 = Float64Array.from(x);
  const refLoss = (): number => reference(x64, w, ad.scaling).reduce((acc, d, i) => acc + d * g[i], 0);
  const ref = reference(x64, w, ad.scaling);
  let worst = 0;
  for (let i = 0; i < ref.length; i++) worst = Math.max(worst, Math.abs(ref[i] - value[i]));
  expect(worst).toBeLessThan(1e-4);

  const h = 1e-6;
  const fd = (arr: Float64Array, i: number): number => {
    const o = arr[i];
    arr[i] = o + h;
    const up = refLoss();
    arr[i] = o - h;
    const down = refLoss();
    arr[i] = o;
    return (up - down) / (2 * h);
  };
  const relErr = (got: ArrayLike<number>, arr: Float64Array): number => {
    let num = 0;
    let den = 0;
    for (let i = 0; i < arr.length; i++) {
      const want = fd(arr, i);
      num = Math.max(num, Math.abs(got[i] - want));
      den = Math.max(den, Math.abs(want));
    }
    expect(den).toBeGreaterThan(0); // every weight is used somewhere
    return num / den;
  };
  for (const [k, n] of Object.entries(names)) expect([k, relErr(grads[vars.get(n)!.name].dataSync(), w[k])]).toEqual([k, expect.closeTo(0, 3)]);
  expect(relErr(dx.dataSync(), x64)).toBeLessThan(1e-3);
  tf.dispose([xt, gt, dx, ...Object.values(grads)]);
  ad.dispose();
});
