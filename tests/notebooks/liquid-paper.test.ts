/**
 * notebooks/03-liquid-unified-vq-language-model.ipynb end to end in quick mode (tslab, headless) on shipped Liquid
 * runs. Which runs: the folder SWITCHBOARD_LIQUID_RUNS names when it is set; else the runs shipped in
 * data/checkpoints/liquid/ (npm run ship:liquid) when any is there; else — before the real runs ship — a tiny
 * set this test trains with the recipe itself (liquid-tiny-runs.ts: moe-h64 and moe-h96 with every arm at seed 0,
 * one run interrupted, the larger sizes untrained) and ships into a temporary folder with shipRuns. It says
 * which it used. Whatever the set, the notebook must run top to bottom, name every run that is not there with
 * the command that trains it, decode live on the largest final checkpoint there is, and write a results JSON
 * (to a temporary directory, so the committed one is left alone) exactly when a claim can be judged: the one
 * the library's builder gives for the same files, judging as many claims. The HTML export is opened in
 * Chromium, where every figure must show a title and titled axes, none cut off.
 * Leaves test-artifacts/03-liquid-unified-vq-language-model.{executed.ipynb,html,png}.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { executeNotebook, NotebookResult, REPO, htmlOutputsOf, stdoutOf } from '../helpers/notebook';
import { cutLabels, missingLabels, plotLabels, withPage, openExport } from '../helpers/chromium';
import { liquid } from '../../kernel-lib';
import { ensureData } from '../../kernel-lib/data/store';
import { escapeHtml } from '../../kernel-lib/display/html';
import { useBackend } from '../helpers/backend';
import { SMALL } from '../data/helpers';
import { tinyNotebookRuns, tinyPlan } from '../papers/liquid-tiny-runs';

const NAME = '03-liquid-unified-vq-language-model';
const NOTEBOOK = path.join(REPO, 'notebooks', `${NAME}.ipynb`);
const COMMITTED = path.join(REPO, 'notebooks', 'results', liquid.RESULTS_FILE);
const SHIPPED = path.join(REPO, 'data', 'checkpoints', liquid.SHIPPED_FOLDER);
const ARTIFACTS = path.join(REPO, 'test-artifacts');
const HTML = path.join(ARTIFACTS, `${NAME}.html`);
const wanted = liquid.wantedRuns(liquid.liquidPlan());
const finishedIn = (dir: string) => liquid.placeRuns(dir, wanted).filter((p) => p.state === 'finished').length;

let tmp: string;
let runsDir: string;
let source: string;
let places: liquid.RunPlace[];
let res: NotebookResult;

beforeAll(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-nb03-'));
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  if (process.env.SWITCHBOARD_LIQUID_RUNS) {
    runsDir = path.resolve(process.env.SWITCHBOARD_LIQUID_RUNS);
    source = `SWITCHBOARD_LIQUID_RUNS (${runsDir})`;
  } else if (fs.existsSync(SHIPPED) && finishedIn(SHIPPED) > 0) {
    runsDir = SHIPPED;
    source = 'the shipped runs (data/checkpoints/liquid)';
  } else {
    // nothing shipped yet: tiny real runs, shipped as npm run ship:liquid would
    await useBackend();
    const store = await ensureData({ ...SMALL, cacheDir: path.join(tmp, 'data'), onProgress: () => undefined });
    const from = await tinyNotebookRuns(store, tmp);
    runsDir = path.join(tmp, 'ship', liquid.SHIPPED_FOLDER);
    liquid.shipRuns({ from, to: runsDir, plan: tinyPlan() });
    source = `a tiny set trained and shipped by this test (${runsDir}); nothing is shipped in data/checkpoints/liquid yet`;
  }
  places = liquid.placeRuns(runsDir, wanted);
  res = await executeNotebook(NOTEBOOK, {
    timeoutS: 480,
    env: { SWITCHBOARD_RESULTS_DIR: tmp, SWITCHBOARD_LIQUID_RUNS: runsDir, SWITCHBOARD_LIQUID_TRAIN: undefined },
    html: HTML,
    outputPath: path.join(ARTIFACTS, `${NAME}.executed.ipynb`),
  });
}, 900_000);
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

test('runs top to bottom in quick mode; every run that is not there is named with its command', () => {
  expect(res.cells.filter((c) => c.cellType === 'code').every((c) => c.executed)).toBe(true);
  const out = stdoutOf(res);
  expect(out).toContain(`Quick mode; runs from ${runsDir}.`);
  const missing = places.filter((p) => p.state !== 'finished');
  for (const p of missing) expect(out).toContain(p.command);
  if (missing.length === 0) expect(out).toContain(`All ${places.length} runs of the plan are finished.`);
  else expect(out).toContain(`${places.length - missing.length} of ${places.length} runs are finished. Not finished yet`);
  console.log(`notebook 03 on ${source}: ${places.length - missing.length}/${places.length} runs; cells ${res.timing.cellS.map((s) => s.toFixed(1)).join(' ')} s, total ${res.timing.totalS?.toFixed(1)} s`);
});

test('the results JSON is the library builder’s for the same files, written exactly when a claim can be judged', () => {
  const { runs, text } = liquid.readFinished(runsDir, places);
  const expected = liquid.results({ quick: true, retrained: false, text, runs, mutualSize: liquid.MUTUAL_SIZE });
  const file = path.join(tmp, liquid.RESULTS_FILE);
  if (expected.verdicts.length === 0) {
    expect(fs.existsSync(file)).toBe(false);
    expect(stdoutOf(res)).toContain('No results JSON: no claim can be judged from the runs here yet.');
    return;
  }
  const r = liquid.checkResults(JSON.parse(fs.readFileSync(file, 'utf8')), 'quick results');
  expect({ ...r, date: expected.date }).toEqual(expected);
  expect(r.quick).toBe(true);
  expect(stdoutOf(res)).toContain(`Wrote ${file}.`);
  // the verdicts table shows each claim with what failed
  const judged = liquid.verdicts(liquid.numbersOf(runs, liquid.MUTUAL_SIZE));
  const html = htmlOutputsOf(res).join('\n');
  for (const v of judged) for (const f of v.failed) expect(html).toContain(escapeHtml(f));
});

test('live decodes on the largest final checkpoint there is; figures, images and tables for what is there', () => {
  const live = liquid.liveCheckpoints(places);
  const html = htmlOutputsOf(res);
  const decodes = html.filter((h) => h.includes('switchboard-live') && /done: \d+ tokens/.test(h));
  expect(decodes).toHaveLength(live.length > 0 ? 2 : 0); // caption → image with CFG, image → caption
  if (live.length > 0) {
    expect(stdoutOf(res)).toMatch(/the scene checker finds \d+ of \d+ objects in place\./);
    expect(stdoutOf(res)).toContain('written: "');
    const largest = places.find((p) => p.name === 'moe-h192-mixed-seed0')!;
    const left = liquid.omittedCheckpoint(largest.dir);
    const using = live[live.length - 1].size;
    if (using !== 'moe-h192') {
      expect(stdoutOf(res)).toContain(
        left
          ? `The largest size, moe-h192, shipped without its final checkpoint (step ${left.step}, ${(left.bytes / 2 ** 20).toFixed(1)} MB float16, over the 15.0 MB one shipped checkpoint may take; full mode reads it from the runs folder); using ${using}.`
          : `The largest size, moe-h192, has no final mixed checkpoint here (npm run train:liquid -- --arm moe-h192-mixed --seed 0); using ${using}.`,
      );
    }
  } else {
    expect(stdoutOf(res)).toContain('No final checkpoint of a mixed run is here');
  }
  expect(html.some((h) => h.includes('data:image/png;base64,'))).toBe(live.length > 0 || places.some((p) => p.state === 'finished' && p.arm.endsWith('-mixed')));
  expect(html.filter((h) => h.includes('<table')).length).toBeGreaterThanOrEqual(4);
  if (fs.existsSync(path.join(tmp, liquid.RESULTS_FILE))) expect(html.filter((h) => h.includes('switchboard-figure')).length).toBeGreaterThanOrEqual(6);
});

test('the committed full-mode results, when there are any, have the same shape and are not quick', () => {
  if (!fs.existsSync(COMMITTED)) {
    expect(fs.existsSync(SHIPPED) && finishedIn(SHIPPED) === wanted.length).toBe(false); // a complete shipped set comes with its full-mode results
    return;
  }
  expect(liquid.checkResults(JSON.parse(fs.readFileSync(COMMITTED, 'utf8')), COMMITTED).quick).toBe(false);
});

test('every figure in the HTML export has a visible title and titled axes, none of them cut off', async () => {
  const labels = await withPage(async (page) => {
    await openExport(page, HTML);
    await page.screenshot({ path: path.join(ARTIFACTS, `${NAME}.png`), fullPage: true });
    return plotLabels(page);
  });
  expect(labels.length).toBeGreaterThanOrEqual(places.some((p) => p.state === 'finished' && p.kind === 'continue') ? 4 : 0);
  expect(missingLabels(labels)).toEqual([]);
  expect(cutLabels(labels)).toEqual([]); // no title reaches past its plot (a long vertical title is cut there)
}, 300_000);
