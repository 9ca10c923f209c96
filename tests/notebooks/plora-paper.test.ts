/**
 * notebooks/01-redundancy-aware-moe-plora.ipynb end to end in quick mode (tslab, headless) on the shipped
 * s1-* fine-tunes; its results JSON goes to a temporary directory (SWITCHBOARD_RESULTS_DIR), so the
 * committed full-mode results are left alone — and both are checked against the one declared shape
 * (`plora.RESULTS`, the type the notebook's builder returns). The HTML export is opened in Chromium, where
 * every figure must show a title, axis titles and colour-bar titles.
 * Leaves test-artifacts/01-redundancy-aware-moe-plora.{executed.ipynb,html,png}.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { executeNotebook, NotebookResult, REPO } from '../helpers/notebook';
import { missingLabels, plotLabels, withPage, openExport } from '../helpers/chromium';
import { checkResults, Results, RESULTS_FILE } from '../../kernel-lib/papers/redundancy-aware-moe-plora/results';
import { writeResultsFile } from '../../kernel-lib/papers/results-file';

const NOTEBOOK = path.join(REPO, 'notebooks', '01-redundancy-aware-moe-plora.ipynb');
const COMMITTED = path.join(REPO, 'notebooks', 'results', RESULTS_FILE);
const ARTIFACTS = path.join(REPO, 'test-artifacts');

let res: NotebookResult;
let quick: Results;
const HTML = path.join(ARTIFACTS, '01-redundancy-aware-moe-plora.html');
let tmp: string;

beforeAll(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-nb01-'));
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  res = await executeNotebook(NOTEBOOK, {
    timeoutS: 420,
    env: { SWITCHBOARD_RESULTS_DIR: tmp },
    html: HTML,
    outputPath: path.join(ARTIFACTS, '01-redundancy-aware-moe-plora.executed.ipynb'),
  });
  quick = checkResults(JSON.parse(fs.readFileSync(path.join(tmp, RESULTS_FILE), 'utf8')), 'quick results');
}, 480_000);
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** What every run's results hold, quick or full. */
function checkNumbers(r: Results): void {
  expect(r.notebook).toBe('01-redundancy-aware-moe-plora');
  for (const v of ['base', 'lora', 'plora'] as const) {
    expect(Number.isFinite(r.textSuite[v].perplexity)).toBe(true);
    expect(Object.keys(r.textSuite[v].scores).sort()).toEqual(['continuation', 'lastWord', 'shuffled']);
  }
  for (const k of ['before', 'lora', 'plora'] as const) {
    expect(r.eca[k]).toHaveLength(4);
    expect(r.exclusivity[k]).toHaveLength(4);
    for (const x of [...r.eca[k], ...r.exclusivity[k]]) expect(x).toBeGreaterThanOrEqual(0);
  }
  // the all-pairs average is (k−1)/(E−1) = 3/15 for any router (why the notebook uses the top partner)
  for (const x of r.eca.allPairsMean) expect(x).toBeCloseTo(0.2, 3);
  expect(r.verdicts).toHaveLength(6); // five claims of the paper + its images following their captions
  for (const v of r.verdicts) expect(typeof v.reproduces).toBe('boolean');
  // Partial LoRA leaves text exactly as without it; plain LoRA does not
  const toggle = Object.fromEntries(r.adapterToggle.map((t) => [t.variant, t]));
  expect(toggle.plora['adapter on']).toBe(toggle.plora['adapter off']);
  expect(toggle.lora['adapter on']).not.toBe(toggle.lora['adapter off']);
  for (const k of ['plora', 'lora', 'real'] as const) expect(Number.isFinite(r.clipT[k].own)).toBe(true);
  expect(r.liveDecode.imageCodes).toBe(64);
  expect(r.init.gw.length).toBeGreaterThanOrEqual(3);
  expect(r.init.mean.length).toBeGreaterThanOrEqual(3);
  // Fig. 4's heatmaps: the first, a middle and the last layer, each a distribution over the experts
  expect(r.routing.map((g) => g.layer)).toEqual([0, 1, 3]);
  for (const g of r.routing) for (const d of [g.text, g.image]) expect(d.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 3);
  expect(r.routing.map((g) => g.exclusivity)).toEqual([0, 1, 3].map((l) => r.exclusivity.plora[l]));
}

test('runs top to bottom in quick mode on the shipped fine-tunes and writes its results', () => {
  expect(quick.quick).toBe(true);
  expect(quick.retrained).toBe(false);
  checkNumbers(quick);
  console.log(`notebook 01: cells ${res.timing.cellS.map((s) => s.toFixed(1)).join(' ')} s, total ${res.timing.totalS?.toFixed(1)} s`);
});

test('figures, tables, images and the live decode are in the outputs', () => {
  const html = res.cells.flatMap((c) => c.outputs.map((o) => {
    const v = o.data?.['text/html'];
    return Array.isArray(v) ? v.join('') : typeof v === 'string' ? v : '';
  }));
  expect(html.filter((h) => h.includes('switchboard-figure')).length).toBeGreaterThanOrEqual(6); // init, ECA, 3 routing maps, exclusivity
  expect(html.filter((h) => h.includes('<table')).length).toBeGreaterThanOrEqual(6);
  expect(html.some((h) => h.includes('data:image/png;base64,'))).toBe(true);
  expect(html.filter((h) => h.includes('switchboard-live') && /done: \d+ tokens/.test(h))).toHaveLength(1);
});

test('the committed full-mode results have the same shape and are not quick', () => {
  const full = checkResults(JSON.parse(fs.readFileSync(COMMITTED, 'utf8')), COMMITTED);
  expect(full.quick).toBe(false);
  checkNumbers(full);
  expect(full.textSuite.base.passages).toBeGreaterThan(quick.textSuite.base.passages);
});

test('a re-run that measures the same numbers leaves the results file as it was', () => {
  const file = path.join(tmp, RESULTS_FILE);
  const before = fs.readFileSync(file, 'utf8');
  expect(writeResultsFile(file, { ...quick, date: new Date(0).toISOString() })).toBe(false);
  expect(fs.readFileSync(file, 'utf8')).toBe(before);
  expect(writeResultsFile(file, { ...quick, budget: { ...quick.budget, newModalityShare: quick.budget.newModalityShare + 0.001 } })).toBe(true);
});

test('every figure in the HTML export has a visible title and titled axes and colour bars', async () => {
  const labels = await withPage(async (page) => {
    await openExport(page, HTML);
    await page.screenshot({ path: path.join(ARTIFACTS, '01-redundancy-aware-moe-plora.png'), fullPage: true });
    return plotLabels(page);
  });
  expect(labels.length).toBeGreaterThanOrEqual(7); // init, ECA, 3 routing maps, exclusivity, CLIP-T
  expect(missingLabels(labels)).toEqual([]);
  // Fig. 4's heatmaps say which layer they show and its JSD; the exclusivity plot its unit
  const titles = labels.map((l) => l.title);
  for (const layer of [0, 1, 3]) expect(titles.some((t) => new RegExp(`layer ${layer}: JSD text vs image \\d\\.\\d{3} bits`).test(t))).toBe(true);
  expect(labels.some((l) => l.axes.some((a) => a.title === 'JSD text vs image (bits)'))).toBe(true);
}, 300_000);
