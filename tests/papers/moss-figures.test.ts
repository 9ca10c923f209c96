/** Notebook 02's figures on hand-made results: what each draws, titles and axis labels, bad input named. */
import { moss } from '../../kernel-lib';
import type { Figure } from '../../kernel-lib/display/plotly';

type Run = moss.Results['runs'][number];
const row = (arm: moss.Arm, rank: number | undefined, image: number[], text = image.map((x) => x + 2)): Run => ({
  arm, ...(rank === undefined ? {} : { rank, adapterRank: rank }), params: 100, seeds: image.map((_, k) => k), steps: 360, stepMs: 1000,
  imageNll: image.reduce((a, b) => a + b, 0) / image.length, imageNllPerSeed: image, textNll: 0, textNllPerSeed: text,
});

function labelled(f: Figure): void {
  const title = (t: unknown) => (t as { text?: string } | undefined)?.text ?? '';
  expect(title(f.layout.title).length).toBeGreaterThan(10);
  expect(title((f.layout.xaxis as { title: unknown }).title).length).toBeGreaterThan(3);
  expect(title((f.layout.yaxis as { title: unknown }).title).length).toBeGreaterThan(3);
}

test('seedMeanSe: mean and s.d./√n; one seed has no error bar', () => {
  expect(moss.seedMeanSe([1, 2, 3])).toEqual({ mean: 2, se: 1 / Math.sqrt(3) });
  expect(moss.seedMeanSe([4])).toEqual({ mean: 4, se: 0 });
  expect(() => moss.seedMeanSe([])).toThrow('seedMeanSe: no seeds');
});

test('causalKernelFigure: the position, the three cells before it that the 2×2 kernel reads, earlier and later cells', () => {
  const f = moss.causalKernelFigure({ height: 8, width: 8 }, { row: 3, col: 4 });
  labelled(f);
  const z = (f.data[0] as unknown as { z: number[][] }).z;
  const count = (v: number) => z.flat().filter((x) => x === v).length;
  expect([count(3), count(2), count(1), count(0)]).toEqual([1, 3, 3 * 8 + 4 - 3, 64 - 3 * 8 - 4 - 1]);
  expect([z[3][4], z[2][3], z[2][4], z[3][3], z[3][5], z[4][4]]).toEqual([3, 2, 2, 2, 0, 0]);
  // square cells without widening the column range past the grid (plotly's scaleanchor would)
  expect((f.layout as { xaxis: { range: number[]; constrain: string } }).xaxis).toMatchObject({ range: [-0.5, 7.5], constrain: 'domain' });
  // the first cell has no neighbours before it
  const z0 = (moss.causalKernelFigure({ height: 8, width: 8 }, { row: 0, col: 0 }).data[0] as unknown as { z: number[][] }).z;
  expect(z0.flat().filter((x) => x > 0)).toEqual([3]);
  expect(() => moss.causalKernelFigure({ height: 8, width: 8 }, { row: 8, col: 0 })).toThrow('causalKernelFigure: cell (8, 0) is outside the 8×8 grid');
});

test('armsFigure: one bar per arm at the rank (full too), seed mean ± s.e., image or text', () => {
  const runs = [row('lora', 8, [3.1, 3.2, 3.3]), row('moss', 8, [2.9, 3.0, 3.1]), row('moss', 16, [2.5, 2.6, 2.7]), row('full', undefined, [2.8])];
  const f = moss.armsFigure({ runs }, { measure: 'image' });
  labelled(f);
  const t = f.data[0] as unknown as { x: string[]; y: number[]; error_y: { array: number[] } };
  expect(t.x).toEqual(['LoRA', 'MoSS (ConvLoRA)', 'full fine-tuning']);
  expect(t.y[0]).toBeCloseTo(3.2, 12);
  expect(t.error_y.array[0]).toBeCloseTo(0.1 / Math.sqrt(3), 12);
  expect(t.error_y.array[2]).toBe(0);
  const text = moss.armsFigure({ runs }, { measure: 'text', rank: 16 });
  expect((text.data[0] as unknown as { y: number[] }).y.map((y) => Number(y.toFixed(6)))).toEqual([4.6, 4.8]);
  expect(() => moss.armsFigure({ runs }, { measure: 'image', rank: 4, arms: ['lora'] })).toThrow('armsFigure: no runs at rank 4');
});

test('armsFigure: the title names the paper\'s table the bars stand for (2; 10 with SAM-ConvLoRA; 12 with full fine-tuning)', () => {
  const runs = [row('moss', 8, [2.5]), row('lora', 8, [2.6]), row('sam-convlora', 8, [2.55]), row('full', undefined, [2.7])];
  const title = (arms: moss.Arm[]) => (moss.armsFigure({ runs }, { measure: 'image', arms }).layout.title as { text: string }).text;
  expect(title(['moss', 'lora'])).toMatch(/^Table 2 analogue: /);
  expect(title(['moss', 'sam-convlora'])).toMatch(/^Table 10 analogue: /);
  expect(title(['moss', 'full'])).toMatch(/^Table 12 analogue: /);
  expect(title(['moss', 'sam-convlora', 'full'])).toMatch(/^Table 10 and 12 analogue: /);
});

test('rankFigure: a line per arm with two or more ranks, in rank order', () => {
  const runs = [row('moss', 16, [2.5, 2.6]), row('moss', 8, [2.9, 3.0]), row('lora', 8, [3.1, 3.2]), row('full', undefined, [2.8])];
  const f = moss.rankFigure({ runs });
  labelled(f);
  expect(f.data).toHaveLength(1);
  expect((f.data[0] as unknown as { x: number[]; name: string }).x).toEqual([8, 16]);
  expect(() => moss.rankFigure({ runs: [row('lora', 8, [3])] })).toThrow('rankFigure: no arm has runs at two or more ranks');
});

test('rankFigure by weights: x is each run\'s trainable adapter weights; a one-rank arm is a point; full fine-tuning is left out', () => {
  const sized = (r: Run, params: number): Run => ({ ...r, params });
  const runs = [sized(row('moss', 16, [2.5, 2.6]), 229376), sized(row('moss', 8, [2.9, 3.0]), 114688), sized(row('moe-lora-matched', 8, [2.8, 2.9]), 114688), row('full', undefined, [2.8])];
  const f = moss.rankFigure({ runs }, { x: 'params' });
  labelled(f);
  expect((f.layout.xaxis as { type: string }).type).toBe('log');
  const lines = f.data as unknown as Array<{ x: number[]; y: number[]; name: string; text: string[] }>;
  expect(lines.map((t) => [t.name, t.x, t.text])).toEqual([['MoSS (ConvLoRA)', [114688, 229376], ['r = 8', 'r = 16']], ['MoE-LoRA (params of MoSS)', [114688], ['r = 8']]]);
  expect(lines[0].y[0]).toBeCloseTo(2.95, 12);
  expect(() => moss.rankFigure({ runs: [row('full', undefined, [2.8])] }, { x: 'params' })).toThrow('rankFigure: no adapter runs');
});

test('decodeFigure, exclusivityFigure and coActivationFigure: labelled; one line per model; empty input refused', () => {
  labelled(moss.decodeFigure([{ model: 'base', msPerImage: 900 }, { model: 'moss', msPerImage: 1200 }]));
  labelled(moss.exclusivityFigure([{ model: 'base', exclusivity: [0.1, 0.2], coActivation: [0.5, 0.6] }]));
  expect(() => moss.decodeFigure([])).toThrow('decodeFigure: no decode timings');
  expect(() => moss.exclusivityFigure([])).toThrow('exclusivityFigure: no routing measurements');
  const routing = [{ model: 'base', exclusivity: [0.1, 0.2], coActivation: [0.5, 0.6] }, { model: 'moss', exclusivity: [0.3, 0.1], coActivation: [0.4, 0.7] }];
  const co = moss.coActivationFigure(routing);
  labelled(co);
  expect(co.data.map((t) => [t.name, t.x, t.y])).toEqual([['base', [0, 1], [0.5, 0.6]], ['moss', [0, 1], [0.4, 0.7]]]);
  expect(() => moss.coActivationFigure([])).toThrow('coActivationFigure: no routing measurements');
});
