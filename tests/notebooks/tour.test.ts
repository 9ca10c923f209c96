/**
 * notebooks/00-tour.ipynb end to end: executed headlessly on tslab (quick mode), exported to HTML by
 * nbconvert, and the HTML opened in headless Chromium, where its Plotly figures must render from the
 * plotly.js the notebook itself carries (no network) with no page or console errors.
 * Leaves test-artifacts/tour.html, tour.executed.ipynb and tour.png (a full-page screenshot).
 */
import * as fs from 'fs';
import * as path from 'path';
import { executeNotebook, NbOutput, NotebookResult, REPO } from '../helpers/notebook';
import { MARKS, missingLabels, plotLabels, waitForFigures, withPage } from '../helpers/chromium';

const NOTEBOOK = path.join(REPO, 'notebooks', '00-tour.ipynb');
const ARTIFACTS = path.join(REPO, 'test-artifacts');
/**
 * The only console error an exported notebook may show: the prompt widget's websocket to its kernel,
 * which is gone once the notebook has been executed (the widget then says so in its own output).
 */
const EXPECTED_CONSOLE = [/^WebSocket connection to 'ws:\/\/127\.0\.0\.1:\d+\/.*' failed/];

function textOf(o: NbOutput, mime: string): string {
  const v = o.data?.[mime];
  return Array.isArray(v) ? v.join('') : typeof v === 'string' ? v : '';
}

function cellWith(res: NotebookResult, needle: string) {
  const c = res.cells.find((x) => x.cellType === 'code' && x.source.includes(needle));
  if (!c) throw new Error(`no code cell contains ${JSON.stringify(needle)}`);
  return c;
}

let res: NotebookResult;
const htmlPath = path.join(ARTIFACTS, 'tour.html');

beforeAll(async () => {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  res = await executeNotebook(NOTEBOOK, { timeoutS: 240, html: htmlPath, outputPath: path.join(ARTIFACTS, 'tour.executed.ipynb') });
}, 300_000);

test('the tour runs in quick mode and ends with its results', () => {
  const ran = JSON.parse(cellWith(res, 'JSON.stringify(results').stdout) as Record<string, any>;
  expect(ran.notebook).toBe('00-tour');
  expect(ran.quick).toBe(true);
  expect(typeof ran.model).toBe('string');
  // The image grammar forces a full grid of codes and then <eoi>.
  expect(ran.decode.imageCodes.length).toBeGreaterThan(0);
  expect(ran.decode.imageCodes.every((c: number) => Number.isInteger(c) && c >= 0)).toBe(true);
  expect(ran.decode.tokens).toBeGreaterThan(ran.decode.imageCodes.length);
  expect(ran.train.steps).toBeGreaterThan(0);
  expect(Number.isFinite(ran.train.lastLoss)).toBe(true);
  // The diffusion section: 25 steps done, the strip keeps the frames it names, at least the final frame drawn.
  expect(ran.diffusion).toMatchObject({ steps: 25, stopped: 'done', stripSteps: [1, 3, 6, 10, 15, 25] });
  expect(ran.diffusion.frames).toBeGreaterThanOrEqual(1);
  // Which model it used is said plainly.
  expect(cellWith(res, 'CHECKPOINT =').stdout).toMatch(/Using the shipped checkpoint|using a tiny, untrained model built on the fly/);
  console.log(`tour: kernel start ${res.timing.kernelStartS?.toFixed(1)} s, cells ${res.timing.cellS.map((s) => s.toFixed(1)).join(' ')} s, total ${res.timing.totalS?.toFixed(1)} s`);
});

test('plotly.js is injected once, ahead of the figures, and the live view keeps its final frame', () => {
  const outputs = res.cells.flatMap((c) => c.outputs.map((o) => ({ cell: c.index, html: textOf(o, 'text/html') })));
  const injections = outputs.filter((o) => o.html.includes("define('plotly'"));
  expect(injections).toHaveLength(1);
  const figures = outputs.filter((o) => o.html.includes('switchboard-figure'));
  expect(figures.length).toBeGreaterThanOrEqual(5);
  expect(figures.every((f) => f.cell > injections[0].cell)).toBe(true);
  const live = cellWith(res, 'sb.liveDecode(').outputs.map((o) => textOf(o, 'text/html')).filter((h) => h.includes('switchboard-live'));
  expect(live).toHaveLength(1); // one output area, updated in place
  expect(live[0]).toMatch(/done: \d+ tokens/);
  expect(live[0]).toContain('data:image/png;base64,');
  // liveDiffusion's area keeps its final frame; the two comparison grids are images too
  const forming = cellWith(res, 'sb.liveDiffusion(').outputs.map((o) => textOf(o, 'text/html')).filter((h) => h.includes('data:image/png;base64,'));
  expect(forming).toHaveLength(1);
  expect(forming[0]).toMatch(/done: 25 steps/);
  expect(cellWith(res, 'const arImage').outputs.filter((o) => textOf(o, 'image/png').length > 0)).toHaveLength(2);
});

test('the HTML export renders its plotly figures in Chromium, every one titled with labelled axes, with no errors', async () => {
  const problems: string[] = [];
  const requests: string[] = [];
  const labels = await withPage(async (page) => {
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    page.on('console', (m) => {
      if (m.type() === 'error' && !EXPECTED_CONSOLE.some((re) => re.test(m.text()))) problems.push(`console error: ${m.text()}`);
    });
    page.on('requestfailed', (r) => {
      if (!r.url().startsWith('ws://127.0.0.1')) problems.push(`request failed: ${r.url()} ${r.failure()?.errorText}`);
    });
    page.on('request', (r) => requests.push(r.url()));
    await page.goto(`file://${htmlPath}`, { waitUntil: 'load' });
    await waitForFigures(page);
    const plots = await page.$$eval('.js-plotly-plot', (els, marks) => els.map((el) => el.querySelectorAll(marks).length), MARKS);
    expect(plots.length).toBeGreaterThanOrEqual(5);
    expect(Math.min(...plots)).toBeGreaterThan(0);
    // Let MathJax (loaded by nbconvert's template) finish, so its status box is not in the picture.
    await page
      .waitForFunction(() => {
        const m = document.getElementById('MathJax_Message');
        return !m || getComputedStyle(m).display === 'none';
      }, null, { timeout: 5_000 })
      .catch(() => undefined);
    await page.screenshot({ path: path.join(ARTIFACTS, 'tour.png'), fullPage: true });
    return plotLabels(page);
  });
  expect(problems).toEqual([]);
  // Nothing but the page's own files and data: URIs (plotly.js comes from the notebook itself).
  expect(requests.filter((u) => /^https?:/.test(u))).toEqual([]);
  expect(labels.length).toBeGreaterThanOrEqual(5);
  expect(missingLabels(labels)).toEqual([]);
}, 90_000);

test('the training section trains a copy, and the widget runs on the model as shipped', () => {
  const train = cellWith(res, 'copy.train(');
  expect(train.source).toContain('sb.windowSampler(');
  expect(cellWith(res, 'sb.promptWidget(').source).toMatch(/promptWidget\(session,/);
});
