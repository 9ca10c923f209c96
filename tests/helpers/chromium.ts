/**
 * Headless Chromium (Debian's /usr/bin/chromium through playwright-core) for tests that open a notebook's
 * HTML export: a fresh profile per run, no network, and what Plotly actually drew on the page — the
 * titles of each plot, of each of its axes and of each colour bar, as visible text, and which of them reach
 * past the plot's box (cut off on the page).
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { chromium, Page } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';
export const CHROMIUM_FLAGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
  '--disable-sync', '--no-first-run',
];
/** What Plotly draws data with: heatmap images, bar and line paths (inside the plot area, `.overplot`). */
export const MARKS = 'svg.main-svg .overplot image, svg.main-svg .overplot path';

/** Opens a page in a throw-away Chromium profile, runs `fn`, and closes everything. */
export async function withPage<T>(fn: (page: Page) => Promise<T>, o: { width?: number; height?: number } = {}): Promise<T> {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-chromium-'));
  // Playwright passes the profile to Chromium as --user-data-dir.
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    args: CHROMIUM_FLAGS,
    viewport: { width: o.width ?? 1100, height: o.height ?? 900 },
  });
  try {
    return await fn(await context.newPage());
  } finally {
    await context.close();
    fs.rmSync(profile, { recursive: true, force: true });
  }
}

/**
 * Opens a notebook's HTML export and waits for its figures. A paper notebook's export is several MB (plotly.js,
 * images) and `npm test` runs beside trainings: at load average 11 one took over 30 s to load, so both waits
 * get `timeoutMs` (default 120 s); the test's own timeout must cover it.
 */
export async function openExport(page: Page, htmlPath: string, timeoutMs = 120_000): Promise<void> {
  await page.goto(`file://${htmlPath}`, { waitUntil: 'load', timeout: timeoutMs });
  await waitForFigures(page, timeoutMs);
}

/** Waits until every `.switchboard-figure` on the page is a drawn Plotly plot with data marks. */
export async function waitForFigures(page: Page, timeoutMs = 30_000): Promise<void> {
  await page.waitForFunction(
    (marks) => {
      const plots = Array.from(document.querySelectorAll('.switchboard-figure'));
      return plots.length > 0 && plots.every((p) => p.classList.contains('js-plotly-plot') && p.querySelector(marks));
    },
    MARKS,
    { timeout: timeoutMs },
  );
}

/** The labels one drawn plot shows; empty strings where a label is missing or not visible. */
export interface PlotLabels {
  /** The plot's index on the page, for messages. */
  index: number;
  title: string;
  /** One entry per visible axis (`x`, `y`, `y2`, …): its drawn title. */
  axes: { id: string; title: string }[];
  /** One entry per colour bar drawn. */
  colorbars: string[];
  /** The labels above (title, axis and colour-bar titles) that reach past the plot's own box, where the page cuts them. */
  cut: string[];
}

/** Reads, for every Plotly plot on the page, the visible text of its title, axis titles and colour-bar titles. */
export async function plotLabels(page: Page): Promise<PlotLabels[]> {
  return page.$$eval('.js-plotly-plot', (els) => {
    const visibleText = (el: Element | null): string => {
      if (!el) return '';
      const r = el.getBoundingClientRect();
      return r.width > 0 && r.height > 0 ? (el.textContent ?? '').trim() : '';
    };
    return els.map((el, index) => {
      const gd = el as unknown as { _fullLayout: Record<string, { visible?: boolean }> & { _subplots: { xaxis: string[]; yaxis: string[] } } };
      const full = gd._fullLayout;
      const ids = [...full._subplots.xaxis, ...full._subplots.yaxis].filter((id) => {
        const name = id.replace(/^([xy])(\d*)$/, '$1axis$2');
        return full[name]?.visible !== false;
      });
      // a label's box (unclipped) against the plot's: a vertical axis title longer than the plot is cut at its edge
      const box = (el.querySelector('svg.main-svg') ?? el).getBoundingClientRect();
      const cut: string[] = [];
      const check = (what: string, t: Element | null) => {
        if (!t) return;
        const r = t.getBoundingClientRect();
        if (r.width > 0 && (r.left < box.left - 1 || r.right > box.right + 1 || r.top < box.top - 1 || r.bottom > box.bottom + 1)) {
          cut.push(`${what} "${(t.textContent ?? '').trim()}"`);
        }
      };
      check('title', el.querySelector('.g-gtitle .gtitle'));
      for (const id of ids) check(`axis ${id} title`, el.querySelector(`.g-${id}title text`));
      el.querySelectorAll('.colorbar .cbtitle text').forEach((t, i) => check(`colour bar ${i} title`, t));
      return {
        index,
        title: visibleText(el.querySelector('.g-gtitle .gtitle')),
        axes: ids.map((id) => ({ id, title: visibleText(el.querySelector(`.g-${id}title text`)) })),
        colorbars: Array.from(el.querySelectorAll('.colorbar')).map((cb) => visibleText(cb.querySelector('.cbtitle text'))),
        cut,
      };
    });
  });
}

/** Every missing label on the page, one line each ('plot 3: no title', 'plot 5: axis y2 has no title', …). */
export function missingLabels(plots: PlotLabels[]): string[] {
  const out: string[] = [];
  for (const p of plots) {
    if (!p.title) out.push(`plot ${p.index}: no title`);
    for (const a of p.axes) if (!a.title) out.push(`plot ${p.index} (${p.title || 'untitled'}): axis ${a.id} has no title`);
    p.colorbars.forEach((t, i) => {
      if (!t) out.push(`plot ${p.index} (${p.title || 'untitled'}): colour bar ${i} has no title`);
    });
  }
  return out;
}

/** Every label the page cuts, one line each ('plot 7 (…): axis y title "…" reaches past the plot'). */
export function cutLabels(plots: PlotLabels[]): string[] {
  return plots.flatMap((p) => p.cut.map((c) => `plot ${p.index} (${p.title || 'untitled'}): ${c} reaches past the plot`));
}
