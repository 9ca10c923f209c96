/**
 * notebooks/05-mumu-multimodal-prompts.ipynb end to end in quick mode (tslab, headless) on shipped MUMU runs.
 * Which runs and decoder: the folder SWITCHBOARD_MUMU_RUNS names when it is set (with SWITCHBOARD_MUMU_DECODER,
 * default data/checkpoints/ldm-emoji); else the runs shipped in data/checkpoints/mumu/ (npm run ship:mumu) on
 * the shipped decoder, when both are there; else — before the real decoder and runs ship — a tiny set this test
 * builds (mumu-tiny-runs.ts: a stand-in decoder and seed 0 of every run set, trained and scored by the recipe)
 * and ships into a temporary folder with shipRuns. It says which it used. Whatever the set, the notebook must
 * run top to bottom, name every run that is not there with the command that trains it, draw live with the
 * shipped weights, and write a results JSON (to a temporary directory, so the committed one is left alone)
 * exactly when a claim can be judged: the one the library's builder gives for the same files and the same
 * routing measurement, with every verdict's failed parts shown. The HTML export is opened in Chromium, where
 * every figure must show a title and titled axes, none cut off.
 * Leaves test-artifacts/05-mumu-multimodal-prompts.{executed.ipynb,html,png}.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { executeNotebook, NotebookResult, REPO, htmlOutputsOf, stdoutOf } from '../helpers/notebook';
import { cutLabels, missingLabels, plotLabels, withPage, openExport } from '../helpers/chromium';
import { mumu, Session } from '../../kernel-lib';
import { ensureData } from '../../kernel-lib/data/store';
import { VQVAE } from '../../kernel-lib/image/model';
import { checkpointDir } from '../../kernel-lib/paths';
import { escapeHtml } from '../../kernel-lib/display/html';
import { useBackend } from '../helpers/backend';
import { tinyDecoder, tinyNotebookRuns, tinyTools } from '../papers/mumu-tiny-runs';

const NAME = '05-mumu-multimodal-prompts';
const NOTEBOOK = path.join(REPO, 'notebooks', `${NAME}.ipynb`);
const COMMITTED = path.join(REPO, 'notebooks', 'results', mumu.RESULTS_FILE);
const SHIPPED = path.join(REPO, 'data', 'checkpoints', mumu.RUNS_FOLDER);
const SHIPPED_DECODER = checkpointDir('ldm-emoji');
const ARTIFACTS = path.join(REPO, 'test-artifacts');
const HTML = path.join(ARTIFACTS, `${NAME}.html`);
const finishedIn = (dir: string) => mumu.placeRuns(dir).filter((p) => p.state === 'finished').length;

let tmp: string;
let runsDir: string;
let decoder: string;
let source: string;
let places: mumu.RunPlace[];
let res: NotebookResult;

beforeAll(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-nb05-'));
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  if (process.env.SWITCHBOARD_MUMU_RUNS) {
    runsDir = path.resolve(process.env.SWITCHBOARD_MUMU_RUNS);
    decoder = path.resolve(process.env.SWITCHBOARD_MUMU_DECODER ?? SHIPPED_DECODER);
    source = `SWITCHBOARD_MUMU_RUNS (${runsDir}) on the decoder ${decoder}`;
  } else if (fs.existsSync(SHIPPED) && finishedIn(SHIPPED) > 0 && fs.existsSync(path.join(SHIPPED_DECODER, 'config.json'))) {
    runsDir = SHIPPED;
    decoder = SHIPPED_DECODER;
    source = 'the shipped runs (data/checkpoints/mumu) on the shipped decoder (data/checkpoints/ldm-emoji)';
  } else {
    // nothing shipped yet: tiny real runs on a stand-in decoder, shipped as npm run ship:mumu would
    await useBackend();
    decoder = tinyDecoder(tmp);
    const tools = await tinyTools(await ensureData(), decoder);
    try {
      const from = await tinyNotebookRuns(tools, tmp);
      runsDir = path.join(tmp, 'ship', mumu.RUNS_FOLDER);
      mumu.shipRuns({ from, to: runsDir });
    } finally {
      tools.dispose();
    }
    source = `a tiny set trained, scored and shipped by this test on a stand-in decoder (${runsDir}); nothing is shipped in data/checkpoints/mumu yet`;
  }
  console.log(`notebook 05 runs on ${source}`);
  places = mumu.placeRuns(runsDir);
  res = await executeNotebook(NOTEBOOK, {
    timeoutS: 600,
    env: { SWITCHBOARD_RESULTS_DIR: tmp, SWITCHBOARD_MUMU_RUNS: runsDir, SWITCHBOARD_MUMU_DECODER: decoder, SWITCHBOARD_MUMU_TRAIN: undefined },
    html: HTML,
    outputPath: path.join(ARTIFACTS, `${NAME}.executed.ipynb`),
  });
}, 1_200_000);
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

test('runs top to bottom in quick mode; every run that is not there is named with its command', () => {
  expect(res.cells.filter((c) => c.cellType === 'code').every((c) => c.executed)).toBe(true);
  const out = stdoutOf(res);
  expect(out).toContain(`Quick mode; runs from ${runsDir}.`);
  expect(out).toContain(`Decoder: ${decoder}.`);
  const missing = places.filter((p) => p.state !== 'finished');
  for (const p of missing) expect(out).toContain(p.command);
  if (missing.length === 0) expect(out).toContain(`All ${places.length} runs are finished.`);
  else expect(out).toContain(`${places.length - missing.length} of ${places.length} runs are finished. Not finished yet`);
  console.log(`notebook 05 on ${source}: ${places.length - missing.length}/${places.length} runs; cells ${res.timing.cellS.map((s) => s.toFixed(1)).join(' ')} s, total ${res.timing.totalS?.toFixed(1)} s`);
});

test('the results JSON is the library builder’s for the same files and routing; the verdicts table says what failed', async () => {
  const f = mumu.readFinished(places);
  const file = path.join(tmp, mumu.RESULTS_FILE);
  if (!f.sameSource) {
    expect(fs.existsSync(file)).toBe(false);
    expect(stdoutOf(res)).toContain('No results JSON: no claim can be judged from the runs here yet.');
    return;
  }
  const measured: mumu.Measurements = { quick: true, retrained: false, base: 'mm-moe-small', decoder: path.basename(decoder), sameSource: f.sameSource, otherSource: f.otherSource ?? undefined, runs: f.runs };
  const judged = mumu.judge(measured).verdicts;
  if (judged.length === 0) {
    expect(fs.existsSync(file)).toBe(false);
    return;
  }
  const r = mumu.checkResults(JSON.parse(fs.readFileSync(file, 'utf8')), 'quick results');
  expect(stdoutOf(res)).toContain(`Wrote ${file}.`);
  // the routing, measured again here on the same held-out prompts
  await useBackend();
  const store = await ensureData();
  const lm = await Session.load(checkpointDir('mm-moe-small'));
  const vq = VQVAE.load(checkpointDir('vqvae-emoji'));
  try {
    const n = r.routing!.prompts;
    const held = mumu.heldOutSets(store, { sameSource: n, otherSource: 2 }).sameSource;
    const routing = mumu.promptRouting(lm, held, mumu.codeExamples(held, mumu.vqCropEncoder(vq)));
    const expected = mumu.results({ ...measured, routing });
    expect({ ...r, date: expected.date }).toEqual(expected);
  } finally {
    lm.dispose();
    vq.dispose();
  }
  expect(r.quick).toBe(true);
  const html = htmlOutputsOf(res).join('\n');
  for (const v of judged) {
    expect(html).toContain(escapeHtml(v.claim));
    for (const part of v.failed) expect(html).toContain(escapeHtml(part));
  }
  const no = judged.filter((v) => !v.reproduces).length;
  expect(stdoutOf(res)).toContain(`${judged.length - no} of ${judged.length} claims reproduce here.`);
}, 300_000);

test('the live parts: the prompt’s routing always; drawings when the seed-0 runs’ weights are there, else what is missing', () => {
  const html = htmlOutputsOf(res);
  const live = mumu.liveRuns(places).map((p) => p.name);
  expect(html.filter((h) => h.includes('Routing of the prompt at layer')).length).toBe(2);
  expect(html.some((h) => h.includes('data:image/png;base64,'))).toBe(true); // the prompt's scene and crops, always
  const drawnLive = html.filter((h) => /done: \d+ steps/.test(h));
  if (live.includes('mumu-mumu-t64-seed0')) {
    expect(drawnLive).toHaveLength(2); // section 4's prompt, and the user's prompt of section 10
    expect(stdoutOf(res)).toMatch(/the scene checker finds \d+ of \d+ objects in place\./);
  } else {
    expect(drawnLive).toHaveLength(0);
    expect(stdoutOf(res)).toContain('mumu-mumu-t64-seed0 is not here with its weights');
  }
  if (places.some((p) => p.state === 'finished')) expect(html.filter((h) => h.includes('switchboard-figure')).length).toBeGreaterThanOrEqual(8);
});

test('the committed full-mode results, when there are any, have the same shape and are not quick', () => {
  if (!fs.existsSync(COMMITTED)) {
    expect(fs.existsSync(SHIPPED) && finishedIn(SHIPPED) === mumu.wantedRuns().length).toBe(false); // a complete shipped set comes with its full-mode results
    return;
  }
  expect(mumu.checkResults(JSON.parse(fs.readFileSync(COMMITTED, 'utf8')), COMMITTED).quick).toBe(false);
});

test('every figure in the HTML export has a visible title and titled axes, none of them cut off', async () => {
  const labels = await withPage(async (page) => {
    await openExport(page, HTML);
    await page.screenshot({ path: path.join(ARTIFACTS, `${NAME}.png`), fullPage: true });
    return plotLabels(page);
  });
  expect(labels.length).toBeGreaterThanOrEqual(4); // the prompt's routing (2) and the routing analysis (2), always
  expect(missingLabels(labels)).toEqual([]);
  expect(cutLabels(labels)).toEqual([]); // no title reaches past its plot (a long vertical title is cut there)
}, 300_000);
