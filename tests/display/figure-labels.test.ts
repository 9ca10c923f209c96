/**
 * The Chromium label check the notebook tests use (tests/helpers/chromium.ts): on a page with real Plotly plots,
 * a vertical axis title longer than its plot reaches past the plot's box and is reported as cut; titles that
 * fit are not, and every label counts as present either way (missingLabels is about absence, cutLabels about fit).
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { cutLabels, missingLabels, plotLabels, withPage } from '../helpers/chromium';

const LONG = 'a vertical axis title far longer than the short plot it labels (nats per code)';

test('cutLabels reports the axis title that reaches past a short plot, and only that one', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-labels-'));
  const html = path.join(dir, 'page.html');
  const plotly = fs.readFileSync(require.resolve('plotly.js-dist-min/plotly.min.js'), 'utf8');
  const fig = (id: string, yTitle: string, height: number) =>
    `Plotly.newPlot('${id}', [{ type: 'scatter', x: [1, 2], y: [3, 4] }], { title: { text: 'plot ${id}' }, xaxis: { title: { text: 'x' } }, yaxis: { title: { text: '${yTitle}' } }, height: ${height}, width: 600 });`;
  fs.writeFileSync(html, `<html><body><div id="a"></div><div id="b"></div><script>${plotly}</script><script>${fig('a', 'fits', 400)}${fig('b', LONG, 260)}</script></body></html>`);
  try {
    const labels = await withPage(async (page) => {
      await page.goto(`file://${html}`);
      await page.waitForFunction(() => document.querySelectorAll('.js-plotly-plot').length === 2);
      return plotLabels(page);
    });
    expect(missingLabels(labels)).toEqual([]);
    expect(cutLabels(labels)).toEqual([`plot 1 (plot b): axis y title "${LONG}" reaches past the plot`]);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}, 120_000);
