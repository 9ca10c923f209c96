#!/usr/bin/env node
'use strict';
/**
 * `npm run figures`: renders the notebooks' key figures to PNG under docs/figures/, so the README shows
 * them on a code host without running anything. Headless Chromium (Debian's /usr/bin/chromium through
 * playwright-core, as the tests use it) draws each figure with the same plotly.js and the same figure
 * builders the notebooks use, one page, no network.
 *
 * - Notebook 01 (the PLoRA paper): every number comes from the committed results JSON,
 *   notebooks/results/01-redundancy-aware-moe-plora.json, checked against its declared shape first.
 * - The tour (00): its routing figures are measured on the shipped default model, data/checkpoints/mm-moe-small,
 *   with the tour's own caption (a forward pass is deterministic).
 *
 * Options: --out DIR (default docs/figures), --only NAME[,NAME…] (figure names, e.g. plora-init).
 * dist/ is rebuilt first when a source changed (scripts/lib/build.js).
 */
const fs = require('fs');
const os = require('os');
const path = require('path');
const { parseArgs } = require('util');
const { REPO } = require('./lib/env');
const { ensureBuilt } = require('./lib/build');

const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];
const WIDTH = 900;
const TOUR_CAPTION = 'an emoji of a tiger';

async function tourFigures(sb) {
  const s = await sb.Session.load(path.join(REPO, 'data', 'checkpoints', 'mm-moe-small'));
  try {
    const trace = s.trace(TOUR_CAPTION);
    return [
      { name: 'tour-routing', figure: sb.routingHeatmap(trace) },
      { name: 'tour-tokens-by-experts', figure: sb.tokensByExperts(trace, { layer: 0 }) },
    ];
  } finally {
    s.dispose();
  }
}

function paperFigures(sb) {
  const file = path.join(REPO, 'notebooks', 'results', sb.plora.RESULTS_FILE);
  const results = sb.plora.checkResults(JSON.parse(fs.readFileSync(file, 'utf8')), path.relative(REPO, file));
  if (results.quick) throw new Error(`${path.relative(REPO, file)} holds quick-mode numbers; the README's figures need full mode`);
  return sb.plora.keyFigures(results);
}

async function main(argv) {
  const { values } = parseArgs({ args: argv, options: { out: { type: 'string' }, only: { type: 'string' } } });
  const out = path.resolve(values.out ?? path.join(REPO, 'docs', 'figures'));
  // the figure builders run from dist/: bring it up to date first (as set-up, the CLI and jest do)
  const built = await ensureBuilt({ log: (line) => process.stderr.write(`${line}\n`) });
  if (!built.ok) throw new Error('the build failed; see the output above');
  if (!fs.existsSync(CHROMIUM)) throw new Error(`no Chromium at ${CHROMIUM}: install Debian's package (sudo apt-get install chromium)`);
  const sb = require(path.join(REPO, 'dist', 'kernel-lib'));
  let figures = [...paperFigures(sb), ...(await tourFigures(sb))];
  if (values.only) {
    const want = values.only.split(',');
    const unknown = want.filter((n) => !figures.some((f) => f.name === n));
    if (unknown.length > 0) throw new Error(`--only: no figure named ${unknown[0]} (figures: ${figures.map((f) => f.name).join(', ')})`);
    figures = figures.filter((f) => want.includes(f.name));
  }
  // One page: plotly.js once, then each figure in a fixed-width box (responsive plots take its width).
  const body = figures.map((f) => `<div style="width:${WIDTH}px;background:#fff">${sb.figureHtml(f.figure, { id: f.name })}</div>`).join('\n');
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-figures-'));
  const page = path.join(tmp, 'figures.html');
  fs.writeFileSync(page, `<!DOCTYPE html><html><head><meta charset="utf-8"></head><body style="margin:0;background:#fff">${sb.plotlyInjectionHtml()}${body}</body></html>`);
  const { chromium } = require('playwright-core');
  const context = await chromium.launchPersistentContext(path.join(tmp, 'profile'), { executablePath: CHROMIUM, args: CHROMIUM_FLAGS, viewport: { width: WIDTH + 40, height: 900 } });
  try {
    const p = await context.newPage();
    const errors = [];
    p.on('pageerror', (e) => errors.push(e.message));
    await p.goto(`file://${page}`, { waitUntil: 'load' });
    await p.waitForFunction(
      (n) => document.querySelectorAll('.switchboard-figure.js-plotly-plot .main-svg').length >= n,
      figures.length,
      { timeout: 60_000 },
    );
    if (errors.length > 0) throw new Error(`the figures page reported: ${errors.join('; ')}`);
    fs.mkdirSync(out, { recursive: true });
    for (const f of figures) {
      const file = path.join(out, `${f.name}.png`);
      await (await p.$(`#${f.name}`)).screenshot({ path: file });
      process.stderr.write(`${path.relative(REPO, file)} (${(fs.statSync(file).size / 1024).toFixed(0)} kB)\n`);
    }
  } finally {
    await context.close();
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  return 0;
}

main(process.argv.slice(2)).then(
  (c) => (process.exitCode = c),
  (e) => {
    process.stderr.write(`render-figures: ${e.message}\n`);
    process.exitCode = 1;
  },
);
