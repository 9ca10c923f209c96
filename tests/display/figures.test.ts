import { useBackend } from '../helpers/backend';
import { tinySession } from '../helpers/fixtures';
import type { Session, RoutingTrace } from '../../kernel-lib/session';
import type { Step } from '../../kernel-lib/decode/generate';
import {
  coActivationCounts, coActivationMatrix, expertUsageBars, pieceLabel, routingHeatmap, showRoutingHeatmap, tokensByExperts,
} from '../../kernel-lib/display/figures';
import { lossCurves } from '../../kernel-lib/display/loss-curves';
import { RecordingTarget } from './sink';

let s: Session;
let trace: RoutingTrace;
let steps: Step[];
let L: number, E: number, k: number, N: number;

beforeAll(async () => {
  await useBackend();
  s = await tinySession();
  const g = s.generate('an emoji of a tiger', { startImage: true, maxNewTokens: 20, temperature: 1, seed: 3 });
  steps = [];
  for await (const st of g) steps.push(st);
  const ids = [...s.encode('an emoji of a tiger').ids, s.tokenizer.boi, ...steps.map((x) => x.tokenId)];
  trace = s.trace({ ids });
  ({ numLayers: L, numExperts: E, topK: k } = s.config);
  N = ids.length;
});
afterAll(() => s.dispose());

const probsAt = (tr: RoutingTrace, layer: number, t: number): number[] => Array.from(tr.layers[layer].probs.subarray(t * E, (t + 1) * E));
const expertsAt = (tr: RoutingTrace, layer: number, t: number): number[] => Array.from(tr.layers[layer].experts.subarray(t * k, (t + 1) * k));

test('routingHeatmap: z is layers × experts of router probabilities, chosen experts marked', () => {
  const t = 4;
  const fig = routingHeatmap(trace, { token: t });
  const [hm, marks] = fig.data;
  expect(hm.type).toBe('heatmap');
  expect(hm.x).toEqual(Array.from({ length: E }, (_, e) => `E${e}`));
  expect(hm.y).toEqual(Array.from({ length: L }, (_, l) => `L${l}`));
  const z = hm.z as number[][];
  expect(z).toHaveLength(L);
  z.forEach((row, l) => {
    expect(row).toEqual(probsAt(trace, l, t));
    expect(row.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
  });
  expect(marks.type).toBe('scatter');
  const pairs = (marks.x as string[]).map((x, i) => `${(marks.y as string[])[i]} ${x}`).sort();
  const want = Array.from({ length: L }, (_, l) => expertsAt(trace, l, t).map((e) => `L${l} E${e}`)).flat().sort();
  expect(pairs).toEqual(want);
  expect((fig.layout.yaxis as { autorange: string }).autorange).toBe('reversed');
  expect(JSON.stringify(fig.layout.title)).toContain(`#${t}`);
});

test('routingHeatmap of the last token by default, and of a Step equals the trace at its position', () => {
  expect(routingHeatmap(trace).data[0].z).toEqual(routingHeatmap(trace, { token: N - 1 }).data[0].z);
  const st = steps[steps.length - 2];
  const fromStep = routingHeatmap(st).data[0].z as number[][];
  const fromTrace = routingHeatmap(trace, { token: st.position }).data[0].z as number[][];
  // KV-cached step decoding vs one full forward: same numbers up to float32 rounding.
  let diff = 0;
  fromStep.forEach((row, l) => row.forEach((v, e) => (diff = Math.max(diff, Math.abs(v - fromTrace[l][e])))));
  expect(diff).toBeLessThan(1e-4);
});

test("routingHeatmap value 'weights': gate weights of the chosen experts, 0 elsewhere", () => {
  const z = routingHeatmap(trace, { token: 2, value: 'weights' }).data[0].z as number[][];
  z.forEach((row, l) => {
    const chosen = expertsAt(trace, l, 2);
    row.forEach((v, e) => (chosen.includes(e) ? expect(v).toBeGreaterThan(0) : expect(v).toBe(0)));
    expect(row.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5); // normTopKProb
  });
});

test('tokensByExperts: z is tokens × experts at the layer, ticks label every token by its piece', () => {
  const fig = tokensByExperts(trace, { layer: 1 });
  const hm = fig.data[0];
  const z = hm.z as number[][];
  expect(z).toHaveLength(N);
  z.forEach((row, t) => expect(row).toEqual(probsAt(trace, 1, t)));
  expect(hm.y).toEqual(Array.from({ length: N }, (_, t) => t));
  const yaxis = fig.layout.yaxis as { tickvals: number[]; ticktext: string[] };
  expect(yaxis.tickvals).toEqual(hm.y);
  expect(yaxis.ticktext[0]).toContain('&lt;bos&gt;'); // escaped for Plotly's HTML-like labels
  expect(fig.data[1].x).toHaveLength(N * k);
  const last = tokensByExperts(trace, { layer: 0, maxTokens: 5 }).data[0];
  expect(last.y).toEqual([N - 5, N - 4, N - 3, N - 2, N - 1]);
  expect((last.z as number[][])[4]).toEqual(probsAt(trace, 0, N - 1));
});

test('expertUsageBars: one series per modality; shares of each modality sum to 1 per layer', () => {
  const fig = expertUsageBars(trace);
  const names = fig.data.map((d) => d.name as string);
  const mods = ['text', 'image', 'special'].filter((m) => trace.modalities.includes(m as never));
  expect(names.map((n) => n.split(' ')[0])).toEqual(mods);
  for (const d of fig.data) {
    expect(d.type).toBe('bar');
    const [layers, experts] = d.x as string[][]; // two-level axis: layer, expert
    expect(layers).toHaveLength(L * E);
    expect(experts.slice(0, E)).toEqual(Array.from({ length: E }, (_, e) => `E${e}`));
    const y = d.y as number[];
    for (let l = 0; l < L; l++) expect(y.slice(l * E, (l + 1) * E).reduce((a, b) => a + b, 0)).toBeCloseTo(1, 10);
  }
  // Raw counts at one layer: the image series counts image tokens' top-k picks.
  const counts = expertUsageBars(trace, { layer: 1, normalize: false });
  const img = counts.data.find((d) => (d.name as string).startsWith('image'));
  expect(img?.x).toEqual(Array.from({ length: E }, (_, e) => `E${e}`));
  const want = new Array<number>(E).fill(0);
  trace.modalities.forEach((m, t) => m === 'image' && expertsAt(trace, 1, t).forEach((e) => want[e]++));
  expect(img?.y).toEqual(want);
  expect(() => expertUsageBars(trace, { layer: L })).toThrow(`layer ${L} is outside the model's ${L} layers`);
});

test('coActivation: symmetric counts, diagonal = tokens choosing the expert; square heatmap', () => {
  const c = coActivationCounts(trace, 0);
  const diag = c.map((row, i) => row[i]);
  expect(diag.reduce((a, b) => a + b, 0)).toBe(N * k);
  c.forEach((row, i) => {
    row.forEach((v, j) => expect(v).toBe(c[j][i]));
    expect(row.reduce((a, b) => a + b, 0)).toBe(k * diag[i]);
  });
  const fig = coActivationMatrix(trace, { layer: 0 });
  expect(fig.data[0].z).toEqual(c);
  expect((fig.layout.yaxis as { scaleanchor: string }).scaleanchor).toBe('x');
  expect(coActivationMatrix([[1, 2], [2, 1]], { labels: ['a', 'b'] }).data[0].x).toEqual(['a', 'b']);
  expect(() => coActivationMatrix([[1, 2], [3]])).toThrow('coActivationMatrix needs a square matrix; row 1 has 1 entries, not 2');
});

test('lossCurves: a line per series and run, smoothing keeps the raw curve, lr on a second axis', () => {
  const h = Array.from({ length: 10 }, (_, i) => ({ step: i + 1, loss: 5 - i * 0.3, lmLoss: 4.9 - i * 0.3, auxLoss: 0.1, lr: 1e-3 }));
  const one = lossCurves(h, { series: ['loss', 'lmLoss'], lr: true });
  expect(one.data.map((d) => d.name)).toEqual(['loss', 'lmLoss', 'lr']);
  expect(one.data[0].x).toEqual(h.map((e) => e.step));
  expect(one.data[0].y).toEqual(h.map((e) => e.loss));
  expect(one.data[2].yaxis).toBe('y2');
  const two = lossCurves({ a: h, b: h.slice(0, 5) }, { smooth: 0.5 });
  expect(two.data.map((d) => d.name)).toEqual(['a loss', 'a loss', 'b loss', 'b loss']);
  const smooth = two.data[1].y as number[];
  expect(smooth[0]).toBe(h[0].loss);
  expect(smooth[1]).toBeCloseTo(0.5 * h[0].loss + 0.5 * h[1].loss, 12);
  expect(() => lossCurves(h, { smooth: 1 })).toThrow('smooth must be in [0, 1), got 1');
});

test('bad input is refused with messages that name it', () => {
  expect(() => routingHeatmap(trace, { token: N })).toThrow(`token ${N} is outside the trace's ${N} tokens`);
  expect(() => tokensByExperts(trace, { layer: -1 })).toThrow(`layer -1 is outside the model's ${L} layers`);
  expect(() => routingHeatmap({ ...steps[0], routing: [] })).toThrow("this step has no routing (it was decoded with capture: 'none')");
});

test('pieceLabel makes whitespace and control characters visible and escapes markup', () => {
  expect(pieceLabel(' a\tb\n')).toBe('·a→b↵');
  expect(pieceLabel('\u0016<x>&')).toBe('\u2416&lt;x&gt;&amp;');
});

test('show… draws through the target it is given, injecting plotly.js before the first figure', () => {
  const sink = new RecordingTarget();
  showRoutingHeatmap(trace, { display: sink });
  showRoutingHeatmap(steps[0], { display: sink });
  expect(sink.shown).toHaveLength(3);
  expect(sink.shown[0].html).toContain("define('plotly'");
  expect(sink.shown[1].html).toContain('switchboard-figure');
  expect(sink.shown[2].text).toMatch(/^\[figure: Routing of token/);
});
