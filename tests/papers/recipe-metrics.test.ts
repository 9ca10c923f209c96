/**
 * What the paper recipes' metrics and results files share (papers/recipe-metrics.ts, summary.ts,
 * results-file.ts's header): the reader's errors name the file, the step-time summary against hand-computed
 * numbers, the tail fields in their one order.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { obj, str, int, num, arr, tuple } from '../../kernel-lib/papers/shape';
import { BACKEND_BRIEF, OPTIMIZER_FIELDS, optimizerRecord, readMetricsFile, RecipeStep, runTailFields, STEP_TIME_FIELDS, stepTimes } from '../../kernel-lib/papers/recipe-metrics';
import { comparisonRow, finiteMean, median, medianStepMs, seedMeans } from '../../kernel-lib/papers/summary';
import { resultsHeader, resultsHeaderFields } from '../../kernel-lib/papers/results-file';
import { defaultOptimizer } from '../../kernel-lib/train/schedule';

const SHAPE = obj({
  name: str,
  ...runTailFields({
    optimizer: obj(OPTIMIZER_FIELDS),
    lossCurve: arr(tuple(int, num)),
    stepTime: obj(STEP_TIME_FIELDS),
    probe: obj({ step: int, loss: num }),
    files: obj({}),
    backend: BACKEND_BRIEF,
  }),
});

const ev = (step: number, stepMs: number, stepCpuMs: number, tokens: number): RecipeStep => ({ step, totalSteps: 5, loss: 1, lr: 1, gradNorm: 1, stepMs, stepCpuMs, elapsedMs: step * 100, tokens });

test('stepTimes: the steps after the resume point, the first apart from the means and the median', () => {
  const history = [ev(1, 9000, 1, 10), ev(2, 50, 40, 20), ev(3, 500, 400, 30), ev(4, 100, 90, 40), ev(5, 200, 190, 50), ev(6, 400, 390, 60)];
  // resumed from 2: ran 3..6; first 500 ms; the rest 100, 200, 400
  expect(stepTimes(history, 2)).toEqual({ steps: 4, firstMs: 500, meanMs: 233.3, medianMs: 200, meanCpuMs: 223.3, meanTokens: 45 });
  expect(stepTimes(history.slice(0, 1), 0)).toEqual({ steps: 1, firstMs: 9000, meanMs: null, medianMs: null, meanCpuMs: null, meanTokens: 10 });
  expect(stepTimes(history, 6)).toEqual({ steps: 0, firstMs: null, meanMs: null, medianMs: null, meanCpuMs: null, meanTokens: null });
});

test('optimizerRecord: what defaultOptimizer sets, in the files\' field order', () => {
  const r = optimizerRecord(defaultOptimizer(240, 1e-3), 16);
  expect(Object.entries(r)).toEqual([['name', 'AdamW'], ['lr', 1e-3], ['minLr', 1e-4], ['schedule', 'warmup + cosine'], ['warmupSteps', 24], ['weightDecay', 0.1], ['batchSize', 16], ['clipNorm', 1]]);
  expect(defaultOptimizer(5000, 1e-3).warmupSteps).toBe(100);
});

describe('readMetricsFile', () => {
  let tmp: string;
  beforeAll(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'recipe-metrics-'));
  });
  afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
  const good = {
    name: 'run',
    optimizer: optimizerRecord(defaultOptimizer(10, 1e-3), 2),
    steps: 10, resumedFrom: 0, stopped: 'done', lossCurve: [[1, 2.5], [10, 1.5]],
    stepTime: { steps: 10, firstMs: 1, meanMs: 1, medianMs: 1, meanCpuMs: 1, meanTokens: 8 },
    probes: [{ step: 0, loss: 2 }], files: {}, backend: { backend: 'wasm', tfBackend: 'wasm', threads: 1 },
    date: '2025-01-01T00:00:00.000Z', train_wall_time_s: 1.5, recipe_wall_time_s: 2,
  };

  test('a file or the directory holding metrics.json; the checked value comes back in the shape\'s field order', () => {
    const dir = path.join(tmp, 'out');
    fs.mkdirSync(dir);
    const shuffled = Object.fromEntries(Object.entries(good).reverse());
    fs.writeFileSync(path.join(dir, 'metrics.json'), JSON.stringify(shuffled));
    const m = readMetricsFile(SHAPE, dir, 'demo.readRunMetrics');
    expect(Object.keys(m)).toEqual(Object.keys(good));
    expect(m).toEqual(readMetricsFile(SHAPE, path.join(dir, 'metrics.json'), 'demo.readRunMetrics'));
  });

  test('missing, not JSON, a field of the wrong kind: each error names the reader and the file (or the field)', () => {
    const none = path.join(tmp, 'none.json');
    expect(() => readMetricsFile(SHAPE, none, 'demo.readRunMetrics')).toThrow(`demo.readRunMetrics: ${none} does not exist`);
    const broken = path.join(tmp, 'broken.json');
    fs.writeFileSync(broken, '{"name": ');
    expect(() => readMetricsFile(SHAPE, broken, 'demo.readRunMetrics')).toThrow(new RegExp(`^demo\\.readRunMetrics: ${broken.replace(/[.\\/]/g, '\\$&')} is not JSON \\(`));
    const bad = path.join(tmp, 'bad.json');
    fs.writeFileSync(bad, JSON.stringify({ ...good, stopped: 'paused' }));
    expect(() => readMetricsFile(SHAPE, bad, 'demo.readRunMetrics')).toThrow(`${bad}.stopped: expected one of "done", "aborted", got "paused"`);
  });
});

test('summary arithmetic: finite means, seed means, medians, a comparison row rounded', () => {
  expect(finiteMean([1, NaN, 3])).toBe(2);
  expect(finiteMean([NaN])).toBeNaN();
  expect(seedMeans([[1, 2], [3, 6]])).toEqual([2, 4]);
  expect([median([3, 1, 2]), median([4, 1, 3, 2]), median([])]).toEqual([2, 2.5, null]);
  expect(medianStepMs([{ stepTime: { medianMs: 30 } }, { stepTime: { medianMs: null } }, { stepTime: { medianMs: 10 } }])).toBe(20);
  expect(comparisonRow({ mean: -0.123456, standardError: 0.0000449, items: 12, seeds: 3, perSeed: [0.11111, -0.22222, 0.33333] })).toEqual({ mean: -0.1235, standardError: 0, items: 12, seeds: 3, perSeed: [0.1111, -0.2222, 0.3333] });
});

test('results header: the notebook named, the date now unless given, the same fields the shape checks', () => {
  const h = resultsHeader('07-demo', { quick: true, retrained: false, base: 'mm-moe-small', date: new Date('2025-02-03T04:05:06Z') });
  expect(h).toEqual({ notebook: '07-demo', quick: true, retrained: false, date: '2025-02-03T04:05:06.000Z', base: 'mm-moe-small' });
  const shape = obj(resultsHeaderFields('07-demo'));
  expect(shape.check(h, 'r')).toEqual(h);
  expect(() => shape.check({ ...h, notebook: '08-other' }, 'r')).toThrow('r.notebook: expected one of "07-demo", got "08-other"');
});
