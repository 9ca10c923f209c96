/**
 * notebooks/02-moss-modality-specialized-synergizers.ipynb end to end in quick mode (tslab, headless) on the
 * runs shipped in data/checkpoints/moss/ (npm run ship:moss). What the notebook can show depends on which runs
 * are shipped, and the test asks exactly that of it: every shipped Table 2 run in the tables and bars; the
 * live decode, side-by-side completions, decode timings and routing for base and every shipped arm of seed 0;
 * every missing run named with the command that trains it; a results JSON (to a temporary directory, so the
 * committed one is left alone) exactly when all four Table 2 arms share a seed, checked against the one
 * declared shape, and a plain "no results" otherwise. The HTML export is opened in Chromium, where every
 * figure must show a title and titled axes.
 * Leaves test-artifacts/02-moss-modality-specialized-synergizers.{executed.ipynb,html,png}.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { executeNotebook, NotebookResult, REPO, htmlOutputsOf, stdoutOf } from '../helpers/notebook';
import { missingLabels, plotLabels, withPage, openExport } from '../helpers/chromium';
import { moss } from '../../kernel-lib';

const NAME = '02-moss-modality-specialized-synergizers';
const NOTEBOOK = path.join(REPO, 'notebooks', `${NAME}.ipynb`);
const COMMITTED = path.join(REPO, 'notebooks', 'results', moss.RESULTS_FILE);
const SHIPPED = path.join(REPO, 'data', 'checkpoints', moss.SHIPPED_FOLDER);
const ARTIFACTS = path.join(REPO, 'test-artifacts');
const HTML = path.join(ARTIFACTS, `${NAME}.html`);

// what is shipped decides what the notebook can show
const parts = ['table2', 'ranks', 'table10', 'table12'] as const;
const places = Object.fromEntries(parts.map((p) => [p, moss.placeRuns(SHIPPED, moss.wantedRuns(p))])) as Record<(typeof parts)[number], moss.RunPlace[]>;
const seed0 = ['lora', 'moe-lora', 'moss'].filter((a) => places.table2.some((r) => r.arm === a && r.seed === 0 && r.present));
const models = ['base', ...seed0];
const complete = moss.commonSeeds(places.table2).length > 0;

let res: NotebookResult;
let tmp: string;

beforeAll(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-nb02-'));
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  res = await executeNotebook(NOTEBOOK, {
    timeoutS: 420,
    env: { SWITCHBOARD_RESULTS_DIR: tmp, SWITCHBOARD_MOSS_RETRAIN: undefined },
    html: HTML,
    outputPath: path.join(ARTIFACTS, `${NAME}.executed.ipynb`),
  });
}, 480_000);
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

test('runs top to bottom in quick mode on the shipped runs; every missing run is named with its command', () => {
  expect(res.cells.filter((c) => c.cellType === 'code').every((c) => c.executed)).toBe(true);
  const out = stdoutOf(res);
  for (const p of parts) for (const r of places[p]) if (!r.present) expect(out).toContain(r.command);
  if (seed0.length === 3) expect(out).toContain(`Compared from here on: ${models.join(', ')} (seed 0).`);
  else expect(out).toContain(`The sections below compare what is here: ${models.join(', ')}.`);
  console.log(`notebook 02: ${places.table2.filter((r) => r.present).length}/12 Table 2 runs shipped; cells ${res.timing.cellS.map((s) => s.toFixed(1)).join(' ')} s, total ${res.timing.totalS?.toFixed(1)} s`);
});

test('a results JSON exactly when every Table 2 arm shares a seed, with the routing and decode timings of the shipped arms', () => {
  const file = path.join(tmp, moss.RESULTS_FILE);
  if (!complete) {
    expect(fs.existsSync(file)).toBe(false);
    expect(stdoutOf(res)).toContain('No results JSON: Table 2 is not trained at any seed for all four arms yet.');
    return;
  }
  const r = moss.checkResults(JSON.parse(fs.readFileSync(file, 'utf8')), 'quick results');
  expect(r.quick).toBe(true);
  expect(r.retrained).toBe(false);
  expect(r.runs.filter((x) => x.rank === 8).map((x) => x.arm).sort()).toEqual(['lora', 'moe-lora', 'moe-lora-matched', 'moss', ...(r.runs.some((x) => x.arm === 'sam-convlora') ? ['sam-convlora'] : [])].sort());
  expect(r.heldOut.items).toBe(192);
  expect(r.routing?.map((x) => x.model)).toEqual(models);
  for (const m of r.routing ?? []) for (const x of [...m.exclusivity, ...m.coActivation]) expect(x >= 0 && x <= 1).toBe(true);
  expect(r.decode?.map((d) => d.model)).toEqual(models);
  expect(r.verdicts.map((v) => v.claim.split(':')[0])).toEqual(expect.arrayContaining(['Table 2', 'C.3']));
});

test('live decode, side-by-side images, tables and figures for what is shipped', () => {
  const html = htmlOutputsOf(res);
  const live = html.filter((h) => h.includes('switchboard-live') && /done: \d+ tokens/.test(h));
  expect(live).toHaveLength(seed0.includes('moss') ? 1 : 0);
  if (!seed0.includes('moss')) expect(stdoutOf(res)).toContain('is not trained yet, so there is no live decode');
  expect(html.some((h) => h.includes('data:image/png;base64,'))).toBe(true);
  const anyTable2 = places.table2.some((r) => r.present);
  // causal kernel, decode cost, exclusivity, co-activation; Table 2's two bars when any of its runs is shipped
  expect(html.filter((h) => h.includes('switchboard-figure')).length).toBeGreaterThanOrEqual(4 + (anyTable2 ? 2 : 0));
  expect(html.filter((h) => h.includes('<table')).length).toBeGreaterThanOrEqual(8);
});

test('the committed full-mode results, when there are any, have the same shape and are not quick', () => {
  if (!fs.existsSync(COMMITTED)) {
    expect(complete).toBe(false); // a full set of Table 2 runs is shipped only with the full-mode results it gave
    return;
  }
  const full = moss.checkResults(JSON.parse(fs.readFileSync(COMMITTED, 'utf8')), COMMITTED);
  expect(full.quick).toBe(false);
  expect(full.heldOut.items).toBe(192);
});

test('every figure in the HTML export has a visible title and titled axes', async () => {
  const labels = await withPage(async (page) => {
    await openExport(page, HTML);
    await page.screenshot({ path: path.join(ARTIFACTS, `${NAME}.png`), fullPage: true });
    return plotLabels(page);
  });
  expect(labels.length).toBeGreaterThanOrEqual(4);
  expect(missingLabels(labels)).toEqual([]);
}, 300_000);
