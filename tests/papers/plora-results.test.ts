/**
 * The PLoRA paper's typed results: the shape checker's messages, the builder notebook 01 calls (rounding,
 * Table 1 deltas, verdicts, a NaN refused by name), the run metrics of the shipped fine-tunes read back
 * typed, results files written only when a number changed, and the paper's figures fully labelled.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { arr, checkShape, int, num, obj, oneOf, opt, ShapeError, tuple } from '../../kernel-lib/papers/shape';
import { writeResultsFile } from '../../kernel-lib/papers/results-file';
import * as plora from '../../kernel-lib/papers/redundancy-aware-moe-plora';
import type { CoActivation } from '../../kernel-lib/analysis/co-activation';
import type { TextSuiteResult } from '../../kernel-lib/analysis/text-suite';
import type { RoutingByModality } from '../../kernel-lib/analysis/routing-by-modality';
import type { BudgetTable } from '../../kernel-lib/analysis/budget';
import type { Figure } from '../../kernel-lib/display/plotly';
import { handMadeSweep } from '../helpers/plora-sweep';

const REPO = path.resolve(__dirname, '..', '..');
const CK = path.join(REPO, 'data', 'checkpoints');

describe('shapes', () => {
  const POINT = obj({ step: int, nll: num, kind: oneOf('gw', 'mean'), note: opt(arr(tuple(int, num))) });
  test('a value that fits comes back as it is; optional fields may be absent', () => {
    expect(checkShape(POINT, { step: 3, nll: 1.5, kind: 'gw' }, 'f.json')).toEqual({ step: 3, nll: 1.5, kind: 'gw' });
    expect(checkShape(POINT, { step: 3, nll: 1.5, kind: 'gw', note: [[1, 2]] }, 'f.json').note).toEqual([[1, 2]]);
  });
  test('each misfit is named by file and field', () => {
    const bad = (v: unknown) => () => checkShape(POINT, v, 'f.json');
    expect(bad({ step: 1.5, nll: 1, kind: 'gw' })).toThrow(new ShapeError('f.json.step: expected an integer, got 1.5'));
    expect(bad({ step: 1, nll: null, kind: 'gw' })).toThrow('f.json.nll: expected a finite number, got null');
    expect(bad({ step: 1, nll: 1, kind: 'median' })).toThrow('f.json.kind: expected one of "gw", "mean", got "median"');
    expect(bad({ step: 1, nll: 1, kind: 'gw', note: [[1, 'x']] })).toThrow('f.json.note[0][1]: expected a finite number, got "x"');
    expect(bad({ step: 1, nll: 1, kind: 'gw', extra: 2 })).toThrow("f.json: unexpected field 'extra' (known: step, nll, kind, note)");
    expect(bad({ nll: 1, kind: 'gw' })).toThrow('f.json.step: expected an integer, got nothing');
    expect(bad([1])).toThrow('f.json: expected an object, got [1]');
    expect(() => checkShape(arr(num, { length: 2 }), [1], 'xs')).toThrow('xs: expected 2 items, got 1');
  });
});

describe('run metrics of the shipped fine-tunes', () => {
  test('read back typed: both stages, the probes at the low-res steps, the adapter as trained', () => {
    for (const variant of ['plora', 'lora'] as const) {
      const m = plora.readRunMetrics(path.join(CK, `s1-${variant}`));
      expect(m.variant).toBe(variant);
      expect(m.adapter.kind).toBe(variant);
      expect(m.stages.lowres.steps).toBe(plora.DEFAULTS.lowResSteps);
      expect(m.stages.highres?.steps).toBe(plora.DEFAULTS.highResSteps);
      expect(plora.earlyProbes(m).map(([step]) => step)).toEqual(plora.DEFAULTS.probeSteps);
    }
    const ablation = plora.readRunMetrics(path.join(REPO, 'notebooks', 'results', plora.INIT_ABLATION_FILE));
    expect(ablation.vocabulary.init).toBe('mean');
    expect(ablation.stages.highres).toBeUndefined();
  });
  test('a metrics file that does not fit is refused naming the field', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-plora-'));
    try {
      const m = JSON.parse(fs.readFileSync(path.join(CK, 's1-plora', 'metrics.json'), 'utf8'));
      m.stages.lowres.probes[2].own = 'low';
      fs.writeFileSync(path.join(dir, 'metrics.json'), JSON.stringify(m));
      expect(() => plora.readRunMetrics(dir)).toThrow(`${path.join(dir, 'metrics.json')}.stages.lowres.probes[2].own: expected a finite number, got "low"`);
      // runs since the data-parallel workers record their count; older ones do not
      const now = JSON.parse(fs.readFileSync(path.join(CK, 's1-plora', 'metrics.json'), 'utf8'));
      now.backend.trainWorkers = 2;
      fs.writeFileSync(path.join(dir, 'metrics.json'), JSON.stringify(now));
      expect(plora.readRunMetrics(dir).backend.trainWorkers).toBe(2);
      expect(() => plora.readRunMetrics(path.join(dir, 'none.json'))).toThrow(`readRunMetrics: ${path.join(dir, 'none.json')} does not exist`);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

/** Hand-made measurements: 4 layers, 16 experts; the numbers are chosen so every derived value is known. */
function measurements(): plora.Measurements {
  const suite = (ppl: number, lastWord: number, shuffled: number, continuation: number): TextSuiteResult => {
    const task = (accuracy: number) => ({ accuracy, correct: accuracy, total: 100, skipped: 0 });
    return {
      passages: 100,
      perplexity: { perplexity: ppl, nll: Math.log(ppl), tokens: 5000 },
      tasks: { lastWord: task(lastWord), shuffled: task(shuffled), continuation: task(continuation) },
      scores: { lastWord, shuffled, continuation },
      average: (lastWord + shuffled + continuation) / 3,
    };
  };
  const ca = (tops: number[]): CoActivation[] =>
    tops.map((t, layer) => ({ layer, tokens: 10, counts: [], matrix: [], average: 0.2, topPartnerAverage: t, usedExperts: 16 }));
  const uniform = new Array(16).fill(1 / 16);
  const routing = (layer: number, jsd: number): RoutingByModality => ({
    layer,
    tokens: { text: 30, image: 64 },
    counts: { text: [], image: [] },
    distributions: { text: uniform, image: uniform.map((_, e) => (e < 8 ? 1 / 12 : 1 / 24)) },
    exclusivity: jsd,
  });
  const budget = { baseParams: 1000, adapterParams: 20, vocabParams: 30, newModalityShare: 0.05 } as BudgetTable;
  return {
    quick: true,
    retrained: false,
    models: { base: 'text-moe-small', lora: 'l', plora: 'p' },
    budget,
    runs: { gw: plora.readRunMetrics(path.join(CK, 's1-plora')), mean: plora.readRunMetrics(path.join(REPO, 'notebooks', 'results', plora.INIT_ABLATION_FILE)) },
    suites: { base: suite(100, 10, 90, 50), lora: suite(180, 0, 80, 40), plora: suite(101, 10, 90, 49.7) },
    adapterToggle: [{ variant: 'lora', on: 190.123456, off: 100.5 }, { variant: 'plora', on: 101.25, off: 101.25 }],
    coActivation: { before: ca([0.6, 0.65, 0.7, 0.7]), lora: ca([0.5, 0.6, 0.6, 0.6]), plora: ca([0.1, 0.5, 0.6, 0.65]) },
    exclusivity: { before: [0.3, 0.3, 0.3, 0.3], lora: [0.1, 0.1, 0.1, 0.1], plora: [0.5, 0.1, 0.15, 0.4] },
    routing: [routing(0, 0.5), routing(1, 0.1), routing(3, 0.4)],
    clipT: { plora: { own: [0.3, 0.2, 0.25], shuffled: [0.1, 0.1, 0.05] }, lora: { own: [0, 0, 0], shuffled: [0, 0, 0] }, real: { own: [0.7, 0.7, 0.7], shuffled: [0, 0, 0] } },
    liveDecode: { tokens: 66, stopReason: 'max-new-tokens', imageCodes: 64 },
    sweep: handMadeSweep(),
    date: new Date('2026-01-02T03:04:05Z'),
  };
}

describe('plora.results', () => {
  test('builds the results JSON: rounded, Table 1 deltas, verdicts with their criteria, and it checks', () => {
    const r = plora.results(measurements());
    expect(plora.checkResults(JSON.parse(JSON.stringify(r)))).toEqual(r);
    expect(r.date).toBe('2026-01-02T03:04:05.000Z');
    expect(r.textAverageDelta).toEqual({ lora: -10, plora: -0.1 });
    expect(r.textPerplexityChangePercent).toEqual({ lora: 80, plora: 1 });
    expect(r.adapterToggle).toEqual([
      { variant: 'lora', 'adapter on': 190.1235, 'adapter off': 100.5 },
      { variant: 'plora', 'adapter on': 101.25, 'adapter off': 101.25 },
    ]);
    expect(r.eca).toEqual({ before: [0.6, 0.65, 0.7, 0.7], lora: [0.5, 0.6, 0.6, 0.6], plora: [0.1, 0.5, 0.6, 0.65], allPairsMean: [0.2, 0.2, 0.2, 0.2] });
    expect(r.routing[0]).toEqual({ layer: 0, exclusivity: 0.5, tokens: { text: 30, image: 64 }, text: new Array(16).fill(0.0625), image: [...new Array(8).fill(0.0833), ...new Array(8).fill(0.0417)] });
    // differences 0.2, 0.1, 0.2: mean 1/6, s.d. √(1/300), s.e. s.d./√3 = 1/30; own higher for all 3
    expect(r.clipT.plora).toEqual({ own: 0.25, shuffled: 0.083, captions: 3, difference: 0.167, standardError: 0.033, ownBetterFraction: 1 });
    expect(r.clipT.lora).toEqual({ own: 0, shuffled: 0, captions: 3, difference: 0, standardError: 0, ownBetterFraction: 0 });
    expect(r.init.gw[0]).toEqual([0, 10.4528]);
    // the single runs (seed 0) as measured above
    expect(r.verdictsSeed0.map((v) => v.reproduces)).toEqual([true, true, true, true, true, true]);
    expect(r.verdictsSeed0[5].criterion).toBe(plora.CAPTION_FOLLOWING_CRITERION);
    expect(r.verdictsSeed0[5].criterion).toContain('> 2 standard errors');
    expect(r.verdictsSeed0[5].criterion).toContain('48 held-out scene captions');
    expect(r.verdictsSeed0[5].ours).toBe('CLIP-T own − shuffled caption +0.167 ± 0.033 (s.e., 3 held-out captions); plain LoRA +0.000 ± 0.000');
    // the verdicts: the same claims and criteria, judged on the sweep's seed means (perplexity 100 → 220: text not preserved)
    expect(r.verdicts.map((v) => v.claim)).toEqual(r.verdictsSeed0.map((v) => v.claim));
    expect(r.verdicts.map((v) => v.criterion)).toEqual(r.verdictsSeed0.map((v) => v.criterion));
    expect(r.verdicts.map((v) => v.reproduces)).toEqual([false, true, true, true, true, true]);
    expect(r.seeds.summary.plora.perplexity).toEqual({ mean: 220, se: 11.547, n: 3 });
    expect(r.seeds.arms.map((a) => a.arm)).toEqual(['paper', 'frozen', 'routers', 'experts', 'replay']);
    expect(r.seeds.init).toEqual([{ seed: 0, gap: 0.75 }, { seed: 1, gap: 0.5 }, { seed: 2, gap: 0.3 }]);
    expect(r.seeds.findings.map((f) => f.holds)).toEqual([true, true, true, true]);
  });
  test('clipT: own and shuffled scores of different lengths are refused', () => {
    const m = measurements();
    m.clipT.lora = { own: [0.1, 0.2, 0.3], shuffled: [0.1, 0.2] };
    expect(() => plora.results(m)).toThrow('plora.clipTDifferences: 3 own but 2 shuffled scores');
  });
  test('an undefined measurement is refused by name instead of written as null', () => {
    const m = measurements();
    m.exclusivity.lora = [0.1, NaN, 0.1, 0.1];
    expect(() => plora.results(m)).toThrow('plora.results.exclusivity.lora[1]: expected a finite number, got null');
  });
  test('checkResults: per-layer arrays must agree', () => {
    const r = JSON.parse(JSON.stringify(plora.results(measurements())));
    r.exclusivity.before.pop();
    expect(() => plora.checkResults(r, 'r.json')).toThrow('r.json: exclusivity.before has 3 layers, eca.before 4');
  });
});

describe('writeResultsFile', () => {
  test('writes when a number changed, leaves the file byte for byte when only the date did', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-results-'));
    try {
      const file = path.join(dir, 'sub', 'r.json');
      expect(writeResultsFile(file, { date: 'a', x: 1 })).toBe(true);
      expect(fs.readFileSync(file, 'utf8')).toBe('{\n "date": "a",\n "x": 1\n}\n');
      expect(writeResultsFile(file, { date: 'b', x: 1 })).toBe(false);
      expect(fs.readFileSync(file, 'utf8')).toContain('"date": "a"');
      expect(writeResultsFile(file, { date: 'b', x: 2 })).toBe(true);
      expect(fs.readFileSync(file, 'utf8')).toBe('{\n "date": "b",\n "x": 2\n}\n');
      fs.writeFileSync(file, 'not json');
      expect(writeResultsFile(file, { date: 'c', x: 2 })).toBe(true);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('the paper figures', () => {
  const titleOf = (t: unknown) => (t as { text?: string } | undefined)?.text ?? '';
  const axes = (f: Figure) => Object.entries(f.layout).filter(([k]) => /^[xy]axis\d*$/.test(k));
  test('every key figure has a title and titled axes; heatmaps a titled colour bar', () => {
    const figs = plora.keyFigures(plora.results(measurements()));
    expect(figs.map((f) => f.name)).toEqual([
      'plora-init', 'plora-fig3-coactivation', 'plora-fig4-routing-layer0', 'plora-fig4-routing-layer1', 'plora-fig4-routing-layer3',
      'plora-fig4-exclusivity', 'plora-clip-t', 'plora-arms-text', 'plora-arms-images', 'plora-arms-damage',
    ]);
    for (const { name, figure } of figs) {
      expect([name, titleOf(figure.layout.title).length > 0]).toEqual([name, true]);
      expect(axes(figure).map(([k]) => k).sort()).toEqual(name === 'plora-arms-images' ? ['xaxis', 'yaxis', 'yaxis2'] : ['xaxis', 'yaxis']);
      for (const [k, a] of axes(figure)) expect([name, k, titleOf((a as { title?: unknown }).title).length > 0]).toEqual([name, k, true]);
      for (const t of figure.data.filter((d) => d.type === 'heatmap')) expect(titleOf((t.colorbar as { title?: unknown }).title)).toBe('share of picks');
    }
  });
  test('Fig. 4 names its layer and JSD; the exclusivity plot its unit', () => {
    const r = plora.results(measurements());
    expect(titleOf(plora.routingFigure(r.routing[2]).layout.title)).toMatch(/^Fig\. 4 analogue, layer 3: JSD text vs image 0\.400 bits<br>/);
    expect(titleOf((plora.exclusivityFigure(r.exclusivity).layout.yaxis as { title: unknown }).title)).toBe('JSD text vs image (bits)');
    expect(titleOf((plora.initFigure(r.init).layout.yaxis as { title: unknown }).title)).toBe('image-code NLL (nats per code)');
  });
});
