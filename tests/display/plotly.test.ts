/**
 * Plotly injection and figure outputs: their HTML, the once-per-target injection, and — in headless
 * Chromium — that a figure draws after the injection both where require.js is on the page (classic
 * Notebook, nbconvert HTML) and where it is not (JupyterLab), and says so when plotly.js is missing.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { chromium } from 'playwright-core';
import { figureHtml, figureText, initPlotly, normalizeFigure, plotlyInjectionHtml, plotlyJsVersion, showFigure, Figure } from '../../kernel-lib/display/plotly';
import { TextTarget } from '../../kernel-lib/display/env';
import { RecordingTarget } from './sink';

const fig: Figure = {
  data: [{ type: 'heatmap', z: [[0, 1], [1, 0]], x: ['E0', 'E1'], y: ['L0', 'L1'] }],
  layout: { title: { text: 'a </script><script>window.pwned = 1</script> title' }, height: 300 },
};

test('a figure is a div and a script; strings cannot close the script', () => {
  const html = figureHtml(fig, { id: 'fig-1' });
  expect(html).toMatch(/^<div id="fig-1" class="switchboard-figure" style="width:100%;height:300px;"><\/div>/);
  expect(html.match(/<\/script>/g)).toHaveLength(1);
  expect(html).toContain('\\u003c/script\\u003e');
  expect(html).toContain("req.specified('plotly')");
  expect(figureText(fig)).toBe('[figure: a </script><script>window.pwned = 1</script> title] heatmap 2×2');
});

test('the injection defines plotly.js as an AMD module or window.Plotly, in one script', () => {
  const html = plotlyInjectionHtml();
  expect(plotlyJsVersion()).toMatch(/^\d+\.\d+\.\d+$/);
  expect(html.match(/<\/script>/gi)).toHaveLength(1);
  expect(html).toContain("window.define('plotly', ['require', 'exports', 'module'], factory)");
  expect(html).toContain('window.Plotly = module.exports');
  expect(html.length).toBeGreaterThan(1_000_000);
});

test('plotly.js is injected once per target before its first figure; initPlotly always injects', () => {
  const a = new RecordingTarget();
  showFigure(fig, { display: a });
  showFigure(fig, { display: a });
  expect(a.shown.map((o) => (o.html?.includes("define('plotly'") ? 'inject' : 'figure'))).toEqual(['inject', 'figure', 'figure']);
  initPlotly({ display: a });
  showFigure(fig, { display: a });
  expect(a.shown).toHaveLength(5);
  expect(a.shown[3].html).toContain("define('plotly'");
  const b = new RecordingTarget();
  showFigure(fig, { display: b });
  expect(b.shown).toHaveLength(2);
  const lines: string[] = [];
  const text = new TextTarget((s) => lines.push(s));
  initPlotly({ display: text });
  showFigure(fig, { display: text });
  expect(lines).toEqual([`${figureText(fig)}\n`]);
});

/** Titles written the short way, which plotly.js 4 would drop: layout, axes (numbered too), colour bars. */
const stringTitles: Figure = {
  data: [
    { type: 'heatmap', z: [[0, 1], [1, 0]], x: ['E0', 'E1'], y: ['text', 'image'], colorbar: { title: 'share', len: 0.5 } },
    { type: 'scatter', x: ['E0', 'E1'], y: [1, 2], yaxis: 'y2' },
  ],
  layout: {
    title: 'Layer 0 · JSD 0.063 bits',
    xaxis: { title: 'expert', type: 'category' },
    yaxis: { title: 'modality' },
    yaxis2: { title: 'JSD (bits)', overlaying: 'y', side: 'right' },
    coloraxis: { colorbar: { title: 'weight' } },
    height: 300,
  },
};

test('normalizeFigure writes every string title as {text}; object titles and the input stay as they were', () => {
  const before = JSON.stringify(stringTitles);
  const n = normalizeFigure(stringTitles);
  expect(JSON.stringify(stringTitles)).toBe(before);
  expect(n.layout.title).toEqual({ text: 'Layer 0 · JSD 0.063 bits' });
  expect(n.layout.xaxis).toEqual({ title: { text: 'expert' }, type: 'category' });
  expect(n.layout.yaxis).toEqual({ title: { text: 'modality' } });
  expect(n.layout.yaxis2).toEqual({ title: { text: 'JSD (bits)' }, overlaying: 'y', side: 'right' });
  expect(n.layout.coloraxis).toEqual({ colorbar: { title: { text: 'weight' } } });
  expect(n.data[0].colorbar).toEqual({ title: { text: 'share' }, len: 0.5 });
  expect(n.data[1]).toBe(stringTitles.data[1]); // nothing to change
  expect(normalizeFigure(fig)).toEqual(fig);
  expect(figureHtml(stringTitles, { id: 's' })).toContain('"title":{"text":"expert"}');
});

describe('in Chromium', () => {
  let dir: string;
  const CHROMIUM_FLAGS = [
    '--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
    '--disable-sync', '--no-first-run',
  ];
  const REQUIRE_JS = '/usr/share/javascript/requirejs/require.min.js'; // Debian's, which nbconvert's HTML loads too

  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-plotly-'));
    const page = (head: string, body: string) => `<!DOCTYPE html><html><head><meta charset="utf-8">${head}</head><body>${body}</body></html>`;
    const injection = plotlyInjectionHtml();
    fs.writeFileSync(path.join(dir, 'plain.html'), page('', `${injection}${figureHtml(fig, { id: 'a' })}${figureHtml(fig, { id: 'b' })}${figureHtml(stringTitles, { id: 's' })}`));
    fs.writeFileSync(path.join(dir, 'requirejs.html'), page(`<script src="file://${REQUIRE_JS}"></script>`, `${injection}${figureHtml(fig, { id: 'a' })}`));
    fs.writeFileSync(path.join(dir, 'missing.html'), page(`<script src="file://${REQUIRE_JS}"></script>`, figureHtml(fig, { id: 'a' })));
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  test('figures draw with and without require.js; without the injection they say what to do', async () => {
    const context = await chromium.launchPersistentContext(path.join(dir, 'profile'), { executablePath: '/usr/bin/chromium', args: CHROMIUM_FLAGS });
    try {
      const errors: string[] = [];
      const open = async (name: string) => {
        const p = await context.newPage();
        p.on('pageerror', (e) => errors.push(`${name}: ${e.message}`));
        p.on('console', (m) => m.type() === 'error' && errors.push(`${name}: ${m.text()}`));
        await p.goto(`file://${path.join(dir, name)}`);
        return p;
      };
      const drawn = 'svg.main-svg .overplot image';
      for (const name of ['plain.html', 'requirejs.html']) {
        const p = await open(name);
        await p.waitForSelector(`#a ${drawn}`, { timeout: 60_000 });
        expect(await p.evaluate(() => typeof (window as unknown as { pwned?: number }).pwned)).toBe('undefined');
        expect(await p.evaluate(() => document.querySelector('#a .gtitle')?.textContent)).toContain('</script>');
        if (name === 'plain.html') {
          await p.waitForSelector(`#b ${drawn}`, { timeout: 60_000 });
          // string titles, normalised, are drawn: layout, both y axes, the x axis and the colour bar
          await p.waitForSelector(`#s ${drawn}`, { timeout: 60_000 });
          const text = (sel: string) => p.evaluate((q) => document.querySelector(q)?.textContent ?? '', sel);
          expect(await text('#s .g-gtitle .gtitle')).toBe('Layer 0 · JSD 0.063 bits');
          expect(await text('#s .g-xtitle text')).toBe('expert');
          expect(await text('#s .g-ytitle text')).toBe('modality');
          expect(await text('#s .g-y2title text')).toBe('JSD (bits)');
          expect(await text('#s .colorbar .cbtitle text')).toBe('share');
        }
        if (name === 'requirejs.html') expect(await p.evaluate(() => (window as unknown as { require: { specified(n: string): boolean } }).require.specified('plotly'))).toBe(true);
      }
      const p = await open('missing.html');
      expect(await p.textContent('#a')).toContain('plotly.js is not loaded on this page');
      expect(errors).toEqual([]);
    } finally {
      await context.close();
    }
  }, 240_000); // beside trainings Chromium can take minutes to start and draw
});
