/**
 * notebooks/01-redundancy-aware-moe-plora.ipynb end to end in quick mode (tslab, headless) on the shipped
 * s1-* fine-tunes; its results JSON goes to a temporary directory (SWITCHBOARD_RESULTS_DIR), so the
 * committed full-mode results are left alone — and checked for the same shape.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { executeNotebook, NotebookResult, REPO } from '../helpers/notebook';

const NOTEBOOK = path.join(REPO, 'notebooks', '01-redundancy-aware-moe-plora.ipynb');
const COMMITTED = path.join(REPO, 'notebooks', 'results', '01-redundancy-aware-moe-plora.json');
const ARTIFACTS = path.join(REPO, 'test-artifacts');

let res: NotebookResult;
let quick: Record<string, any>;
let tmp: string;

beforeAll(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-nb01-'));
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  res = await executeNotebook(NOTEBOOK, {
    timeoutS: 420,
    env: { SWITCHBOARD_RESULTS_DIR: tmp },
    outputPath: path.join(ARTIFACTS, '01-redundancy-aware-moe-plora.executed.ipynb'),
  });
  quick = JSON.parse(fs.readFileSync(path.join(tmp, '01-redundancy-aware-moe-plora.json'), 'utf8'));
}, 480_000);
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** What every run's results hold, quick or full. */
function checkShape(r: Record<string, any>): void {
  expect(r.notebook).toBe('01-redundancy-aware-moe-plora');
  for (const v of ['base', 'lora', 'plora']) {
    expect(Number.isFinite(r.textSuite[v].perplexity)).toBe(true);
    expect(Object.keys(r.textSuite[v].scores).sort()).toEqual(['continuation', 'lastWord', 'shuffled']);
  }
  for (const k of ['before', 'lora', 'plora']) {
    expect(r.eca[k]).toHaveLength(4);
    expect(r.exclusivity[k]).toHaveLength(4);
    for (const x of [...r.eca[k], ...r.exclusivity[k]]) expect(x).toBeGreaterThanOrEqual(0);
  }
  // the all-pairs average is (k−1)/(E−1) = 3/15 for any router (why the notebook uses the top partner)
  for (const x of r.eca.allPairsMean) expect(x).toBeCloseTo(0.2, 3);
  expect(r.verdicts).toHaveLength(6); // five claims of the paper + its images following their captions
  for (const v of r.verdicts) expect(typeof v.reproduces).toBe('boolean');
  // Partial LoRA leaves text exactly as without it; plain LoRA does not
  const toggle = Object.fromEntries(r.adapterToggle.map((t: any) => [t.variant, t]));
  expect(toggle.plora['adapter on']).toBe(toggle.plora['adapter off']);
  expect(toggle.lora['adapter on']).not.toBe(toggle.lora['adapter off']);
  for (const k of ['plora', 'lora', 'real']) expect(Number.isFinite(r.clipT[k].own)).toBe(true);
  expect(r.liveDecode.imageCodes).toBe(64);
  expect(r.init.gw.length).toBeGreaterThanOrEqual(3);
  expect(r.init.mean.length).toBeGreaterThanOrEqual(3);
}

test('runs top to bottom in quick mode on the shipped fine-tunes and writes its results', () => {
  expect(quick.quick).toBe(true);
  expect(quick.retrained).toBe(false);
  checkShape(quick);
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
  const full = JSON.parse(fs.readFileSync(COMMITTED, 'utf8'));
  expect(full.quick).toBe(false);
  checkShape(full);
  expect(full.textSuite.base.passages).toBeGreaterThan(quick.textSuite.base.passages);
});
