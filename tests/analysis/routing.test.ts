import { expertCoActivation, coActivationByLayer } from '../../kernel-lib/analysis/co-activation';
import { routingByModality, exclusivityByDepth, jensenShannon } from '../../kernel-lib/analysis/routing-by-modality';
import type { TraceLike } from '../../kernel-lib/analysis/traces';
import type { Modality } from '../../kernel-lib/tokenizer';
import { coActivationCounts, coActivationMatrix } from '../../kernel-lib/display/figures';
import type { RoutingTrace } from '../../kernel-lib/session';

/** A hand-made trace: per layer, each token's top-k experts. */
function trace(modalities: Modality[], layers: number[][][], E: number): TraceLike & RoutingTrace {
  const k = layers[0][0].length;
  return {
    ids: modalities.map((_, i) => i),
    pieces: modalities.map(() => ''),
    grid: modalities.map(() => null),
    modalities,
    numLayers: layers.length,
    numExperts: E,
    topK: k,
    layers: layers.map((toks, layer) => ({
      layer,
      experts: Int32Array.from(toks.flat()),
      weights: new Float32Array(toks.length * k).fill(1 / k),
      probs: new Float32Array(toks.length * E),
      logits: new Float32Array(0),
    })),
  };
}

// E = 4, k = 2. Layer 0: tokens choose {0,1} {0,1} {0,2} {1,3} {2,3}.
const L0 = [[0, 1], [1, 0], [0, 2], [1, 3], [2, 3]];
const L1 = [[0, 1], [0, 1], [0, 1], [2, 3], [2, 3]];
const mods: Modality[] = ['text', 'text', 'image', 'image', 'special'];
const t = trace(mods, [L0, L1], 4);

test('expertCoActivation: counts N(i,j), CA(i,j) = N(i,j)/N(i), averages (hand-computed)', () => {
  const ca = expertCoActivation(t, { layer: 0 });
  expect(ca.tokens).toBe(5);
  expect(ca.counts).toEqual([
    [3, 2, 1, 0],
    [2, 3, 0, 1],
    [1, 0, 2, 1],
    [0, 1, 1, 2],
  ]);
  const m = ca.matrix;
  [[0, 2 / 3, 1 / 3, 0], [2 / 3, 0, 0, 1 / 3], [1 / 2, 0, 0, 1 / 2], [0, 1 / 2, 1 / 2, 0]].forEach((row, i) => row.forEach((v, j) => expect(m[i][j]).toBeCloseTo(v, 12)));
  expect(ca.average).toBeCloseTo(1 / 3, 12); // = (k − 1)/(E − 1), whatever the routing
  expect(ca.topPartnerAverage).toBeCloseTo((2 / 3 + 2 / 3 + 1 / 2 + 1 / 2) / 4, 12);
  expect(ca.usedExperts).toBe(4);
  // layer 1: two pairs that always fire together → every expert's top partner has CA 1
  const l1 = expertCoActivation(t, { layer: 1 });
  expect(l1.average).toBeCloseTo(1 / 3, 12);
  expect(l1.topPartnerAverage).toBe(1);
  expect(coActivationByLayer(t).map((c) => c.topPartnerAverage)).toEqual([ca.topPartnerAverage, 1]);
});

test('expertCoActivation: unused experts, several traces, a modality filter, errors', () => {
  const u = trace(['text', 'text'], [[[0, 1], [0, 2]]], 5); // experts 3 and 4 unused
  const ca = expertCoActivation(u, { layer: 0 });
  expect(ca.usedExperts).toBe(3);
  expect(ca.matrix[3]).toEqual([0, 0, 0, 0, 0]);
  expect(ca.average).toBeCloseTo(1 / 4, 12); // (k − 1)/(E − 1) again
  expect(ca.topPartnerAverage).toBeCloseTo((1 / 2 + 1 + 1) / 3, 12);
  const two = expertCoActivation([t, t], { layer: 0 });
  expect(two.counts).toEqual(expertCoActivation(t, { layer: 0 }).counts.map((r) => r.map((x) => 2 * x)));
  const img = expertCoActivation(t, { layer: 0, modality: 'image' }); // tokens {0,2} and {1,3}
  expect(img.tokens).toBe(2);
  expect(img.counts[0]).toEqual([1, 0, 1, 0]);
  expect(() => expertCoActivation(t, { layer: 2 })).toThrow("layer 2 is outside the model's 2 layers");
  expect(() => expertCoActivation([t, u], { layer: 0 })).toThrow('trace 1 has 5 experts / top-2, trace 0 has 4 / top-2');
});

test('the display figure uses the same definition (counts, or the ratio matrix)', () => {
  expect(coActivationCounts(t, 0)).toEqual(expertCoActivation(t, { layer: 0 }).counts);
  expect(coActivationMatrix(t, { layer: 0 }).data[0].z).toEqual(expertCoActivation(t, { layer: 0 }).counts);
  const fig = coActivationMatrix(t, { layer: 0, value: 'ratio' });
  expect(fig.data[0].z).toEqual(expertCoActivation(t, { layer: 0 }).matrix);
  expect(fig.data[0].zmax).toBe(1);
});

test('jensenShannon (bits): identical → 0, disjoint → 1, a hand-computed case, normalisation, errors', () => {
  expect(jensenShannon([0.2, 0.3, 0.5], [0.2, 0.3, 0.5])).toBe(0);
  expect(jensenShannon([1, 2, 0, 0], [0, 0, 5, 1])).toBe(1);
  // p = (1, 0), q = (½, ½), m = (¾, ¼): ½·log2(4/3) + ½·(½·log2(2/3) + ½·log2(2))
  expect(jensenShannon([1, 0], [0.5, 0.5])).toBeCloseTo(0.5 * Math.log2(4 / 3) + 0.5 * (0.5 * Math.log2(2 / 3) + 0.5), 12);
  expect(jensenShannon([2, 0], [3, 3])).toBeCloseTo(jensenShannon([1, 0], [0.5, 0.5]), 12); // counts are normalised
  expect(jensenShannon([0.1, 0.9], [0.7, 0.3])).toBeCloseTo(jensenShannon([0.7, 0.3], [0.1, 0.9]), 15); // symmetric
  expect(() => jensenShannon([0, 0], [1, 0])).toThrow('jensenShannon: both distributions need positive mass');
  expect(() => jensenShannon([1], [1, 0])).toThrow('jensenShannon: distributions of 1 and 2 entries');
});

test('routingByModality: counts per expert for text vs image (specials left out), distributions, exclusivity', () => {
  const r = routingByModality(t, { layer: 0 });
  expect(r.tokens).toEqual({ text: 2, image: 2 });
  expect(r.counts.text).toEqual([2, 2, 0, 0]);
  expect(r.counts.image).toEqual([1, 1, 1, 1]);
  expect(r.distributions.text).toEqual([0.5, 0.5, 0, 0]);
  expect(r.distributions.image).toEqual([0.25, 0.25, 0.25, 0.25]);
  // m = (3/8, 3/8, 1/8, 1/8): ½·2·½·log2(4/3) + ½·(2·¼·log2(2/3) + 2·¼·log2(2))
  expect(r.exclusivity).toBeCloseTo(0.5 * Math.log2(4 / 3) + 0.5 * (0.5 * Math.log2(2 / 3) + 0.5), 12);
  // layer 1: text uses {0,1}, image {0,1} and {2,3}
  const r1 = routingByModality(t, { layer: 1 });
  expect(r1.counts.image).toEqual([1, 1, 1, 1]);
  expect(exclusivityByDepth(t)).toEqual([r.exclusivity, r1.exclusivity]);
  // disjoint experts → 1; no image tokens → NaN
  const d = trace(['text', 'image'], [[[0, 1], [2, 3]]], 4);
  expect(routingByModality(d, { layer: 0 }).exclusivity).toBe(1);
  expect(routingByModality(trace(['text', 'text'], [[[0, 1], [2, 3]]], 4), { layer: 0 }).exclusivity).toBeNaN();
});
