/**
 * notebooks/04-minigpt5-generative-vokens.ipynb end to end in quick mode (tslab, headless) on shipped MiniGPT-5
 * runs. Which runs: the folder SWITCHBOARD_MINIGPT5_RUNS names when it is set; else the runs shipped in
 * data/checkpoints/minigpt5/ (npm run ship:minigpt5) when any is there, drawn through data/checkpoints/ldm-emoji;
 * else — before the real runs and their decoder ship — a tiny set this test trains with the recipe itself on a
 * stand-in decoder (minigpt5-tiny-runs.ts: stage 1 of the six Table 5/7 arms and stage 2 of full and text-only at
 * seed 0, one run interrupted, the other seeds untrained) and ships into a temporary folder with shipRuns. It says
 * which it used. Whatever the set, the notebook must run top to bottom, name every run that is not there with the
 * command that trains it, generate live when the live runs' weights and the decoder are there, and write a results
 * JSON (to a temporary directory, so the committed one is left alone) exactly when a claim can be judged: the one
 * the library's builder gives for the same files; the verdicts table shows what failed. The HTML export is opened
 * in Chromium, where every figure must show a title and titled axes.
 * Leaves test-artifacts/04-minigpt5-generative-vokens.{executed.ipynb,html,png}.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { executeNotebook, NotebookResult, REPO, htmlOutputsOf, stdoutOf } from '../helpers/notebook';
import { missingLabels, plotLabels, withPage, openExport } from '../helpers/chromium';
import { minigpt5 } from '../../kernel-lib';
import { ensureData } from '../../kernel-lib/data/store';
import { escapeHtml } from '../../kernel-lib/display/html';
import { useBackend } from '../helpers/backend';
import { standInDecoder, tinyNotebookRuns } from '../papers/minigpt5-tiny-runs';

const NAME = '04-minigpt5-generative-vokens';
const NOTEBOOK = path.join(REPO, 'notebooks', `${NAME}.ipynb`);
const COMMITTED = path.join(REPO, 'notebooks', 'results', minigpt5.RESULTS_FILE);
const SHIPPED = path.join(REPO, 'data', 'checkpoints', minigpt5.SHIPPED_FOLDER);
const LDM_EMOJI = path.join(REPO, 'data', 'checkpoints', 'ldm-emoji');
const ARTIFACTS = path.join(REPO, 'test-artifacts');
const HTML = path.join(ARTIFACTS, `${NAME}.html`);
const finishedIn = (dir: string) => minigpt5.placeRuns(dir).filter((p) => p.state === 'finished').length;

let tmp: string;
let runsDir: string;
let ldmDir: string;
let source: string;
let places: minigpt5.RunPlace[];
let res: NotebookResult;

beforeAll(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-nb04-'));
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  ldmDir = path.resolve(process.env.SWITCHBOARD_MINIGPT5_DECODER ?? LDM_EMOJI);
  if (process.env.SWITCHBOARD_MINIGPT5_RUNS) {
    runsDir = path.resolve(process.env.SWITCHBOARD_MINIGPT5_RUNS);
    source = `SWITCHBOARD_MINIGPT5_RUNS (${runsDir}), decoder ${ldmDir}`;
  } else if (fs.existsSync(SHIPPED) && finishedIn(SHIPPED) > 0) {
    runsDir = SHIPPED;
    source = `the shipped runs (data/checkpoints/minigpt5), decoder ${ldmDir}`;
  } else {
    // nothing shipped yet: tiny real runs on a stand-in decoder, shipped as npm run ship:minigpt5 would
    await useBackend();
    ldmDir = standInDecoder(path.join(tmp, 'ldm-stand-in'));
    const from = await tinyNotebookRuns(await ensureData(), tmp, ldmDir);
    runsDir = path.join(tmp, 'ship', minigpt5.SHIPPED_FOLDER);
    minigpt5.shipRuns({ from, to: runsDir });
    source = `a tiny set trained on a stand-in decoder and shipped by this test (${runsDir}); nothing is shipped in data/checkpoints/minigpt5 yet`;
  }
  places = minigpt5.placeRuns(runsDir);
  res = await executeNotebook(NOTEBOOK, {
    timeoutS: 480,
    env: { SWITCHBOARD_RESULTS_DIR: tmp, SWITCHBOARD_MINIGPT5_RUNS: runsDir, SWITCHBOARD_MINIGPT5_DECODER: ldmDir, SWITCHBOARD_MINIGPT5_TRAIN: undefined },
    html: HTML,
    outputPath: path.join(ARTIFACTS, `${NAME}.executed.ipynb`),
  });
}, 1_200_000);
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

test('runs top to bottom in quick mode; every run that is not there is named with its command', () => {
  expect(res.cells.filter((c) => c.cellType === 'code').every((c) => c.executed)).toBe(true);
  const out = stdoutOf(res);
  expect(out).toContain(`Quick mode; runs from ${runsDir}.`);
  const missing = places.filter((p) => p.state !== 'finished');
  for (const p of missing) expect(out).toContain(p.command);
  if (missing.length === 0) expect(out).toContain(`All ${places.length} runs are finished.`);
  else expect(out).toContain(`${places.length - missing.length} of ${places.length} runs are finished. Not finished yet`);
  console.log(`notebook 04 on ${source}: ${places.length - missing.length}/${places.length} runs; cells ${res.timing.cellS.map((s) => s.toFixed(1)).join(' ')} s, total ${res.timing.totalS?.toFixed(1)} s`);
});

test('the results JSON is the library builder’s for the same files, written exactly when a claim can be judged; the verdicts say what failed', () => {
  const measured = minigpt5.measurementsOf(minigpt5.readFinished(places), { quick: true, retrained: false });
  const expected = minigpt5.results(measured);
  const file = path.join(tmp, minigpt5.RESULTS_FILE);
  if (expected.verdicts.length === 0) {
    expect(fs.existsSync(file)).toBe(false);
    expect(stdoutOf(res)).toContain('No results JSON: no claim can be judged from the runs here yet.');
    return;
  }
  const r = minigpt5.checkResults(JSON.parse(fs.readFileSync(file, 'utf8')), 'quick results');
  expect({ ...r, date: expected.date }).toEqual(expected);
  expect(r.quick).toBe(true);
  expect(stdoutOf(res)).toContain(`Wrote ${file}.`);
  const judged = minigpt5.verdicts(minigpt5.numbersFrom(measured));
  const html = htmlOutputsOf(res).join('\n');
  for (const v of judged) {
    expect(html).toContain(escapeHtml(v.claim));
    for (const f of v.failed) expect(html).toContain(escapeHtml(f));
  }
  const failed = judged.filter((v) => !v.reproduces);
  if (failed.length > 0) for (const v of failed) expect(stdoutOf(res)).toContain(`  - ${v.claim}: ${v.failed.join('; ')}`);
});

test('live generation and the live CFG sweep where the weights and the decoder are there; tables, images and strips for what is there', () => {
  const html = htmlOutputsOf(res);
  const out = stdoutOf(res);
  const hasWeights = (run: string) => {
    const p = places.find((x) => x.name === run)!;
    return p.state === 'finished' && fs.existsSync(path.join(p.dir, 'vokens.safetensors'));
  };
  const decoder = fs.existsSync(path.join(ldmDir, 'config.json'));
  if (decoder && hasWeights(minigpt5.LIVE_RUNS[1])) {
    // one interleaved generation; a second with the vokens forced when the first placed no image
    const forced = out.includes('It wrote no [IMG1]; the vokens are forced after its text:');
    expect(html.filter((h) => h.includes('switchboard-interleaved') && /done: \d+ tokens/.test(h))).toHaveLength(forced ? 2 : 1);
    expect(out).toMatch(/written after the \d+ context frames: ".*"; \d+ image\(s\) drawn from the vokens/);
    if (forced) expect(out).toMatch(/written after the \d+ context frames: ".*"; 0 image\(s\) drawn from the vokens/);
  } else {
    expect(out).toContain('The live generation needs ');
  }
  if (decoder && hasWeights(minigpt5.LIVE_RUNS[0])) expect(out).toMatch(/drawn by minigpt5-s1-full-seed0 \(10 DDIM steps, the same noise at every γ\)\./);
  else expect(out).toContain('The live sweep needs ');
  if (places.some((p) => p.state === 'finished' && p.stage === 2 && p.arm === 'full')) expect(out).toMatch(/story 1: \(1\) /);
  expect(html.filter((h) => h.includes('<table')).length).toBeGreaterThanOrEqual(3);
  if (places.some((p) => p.state === 'finished')) expect(html.some((h) => h.includes('data:image/png;base64,'))).toBe(true);
});

test('the committed full-mode results, when there are any, have the same shape and are not quick', () => {
  if (!fs.existsSync(COMMITTED)) {
    expect(fs.existsSync(SHIPPED) && finishedIn(SHIPPED) === minigpt5.wantedRuns().length).toBe(false); // a complete shipped set comes with its full-mode results
    return;
  }
  expect(minigpt5.checkResults(JSON.parse(fs.readFileSync(COMMITTED, 'utf8')), COMMITTED).quick).toBe(false);
});

test('every figure in the HTML export has a visible title and titled axes', async () => {
  const labels = await withPage(async (page) => {
    await openExport(page, HTML);
    await page.screenshot({ path: path.join(ARTIFACTS, `${NAME}.png`), fullPage: true });
    return plotLabels(page);
  });
  expect(labels.length).toBeGreaterThanOrEqual(places.some((p) => p.state === 'finished' && p.stage === 1) ? 5 : 1); // the architecture at least
  expect(missingLabels(labels)).toEqual([]);
}, 300_000);
