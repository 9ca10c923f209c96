/**
 * Offline Plotly in notebooks, the way plotly.py's `init_notebook_mode(connected=False)` does it.
 *
 * plotly.js (plotly.js-dist-min, ~4.8 MB) is sent once per kernel as an HTML output whose script defines
 * it in the page: as the AMD module 'plotly' where require.js is present (classic Notebook 6, and
 * nbconvert's HTML, which loads require.js), else as `window.Plotly` (JupyterLab, pages without
 * require.js). Each figure is then a small HTML output, a div plus a script that draws into it with
 * `require(['plotly'], …)` or `window.Plotly`. Because the injection is itself an output, it is saved in
 * the .ipynb ahead of the figures, so a reopened notebook (once trusted) and its nbconvert HTML draw
 * every figure with no network and no server.
 *
 * The injection happens automatically before the first figure a kernel shows; `initPlotly()` sends it
 * again on demand (call it in a notebook's first cell, so re-running a later cell never leaves the
 * saved notebook without it). A figure whose page has no plotly.js says so instead of staying blank.
 */
import * as fs from 'node:fs';
import { DisplayTarget, resolveDisplay } from './env';
import { domId, escapeHtml, scriptJson } from './html';

/** A Plotly trace: `type` plus whatever attributes that trace type takes. */
export interface PlotlyTrace {
  type: string;
  [attr: string]: unknown;
}

/** What `Plotly.newPlot` takes: plain JSON, so a figure can be tested, saved or sent over a socket. */
export interface Figure {
  data: PlotlyTrace[];
  layout: Record<string, unknown>;
  config?: Record<string, unknown>;
}

export interface ShowOptions {
  display?: DisplayTarget;
}

const DEFAULT_CONFIG = { responsive: true, displaylogo: false };

let plotlySource: string | undefined;

/** plotly.js as shipped by plotly.js-dist-min. */
export function plotlyJsSource(): string {
  plotlySource ??= fs.readFileSync(require.resolve('plotly.js-dist-min/plotly.min.js'), 'utf8');
  return plotlySource;
}

/** The version of the plotly.js that is injected. */
export function plotlyJsVersion(): string {
  return (/plotly\.js v(\d+\.\d+\.\d+)/.exec(plotlyJsSource().slice(0, 200)) ?? ['', 'unknown'])[1];
}

/**
 * The injection output. The library runs as a CommonJS factory in both cases, which sidesteps its UMD
 * wrapper; with require.js it is registered under the name 'plotly' with explicit dependencies (no
 * scan of 4.8 MB of source for `require(…)` calls) and requested at once, so `require.specified`
 * is true for the figures that follow.
 */
export function plotlyInjectionHtml(): string {
  const src = plotlyJsSource().replace(/<\/script/gi, '<\\/script');
  return `<script type="text/javascript">
window.PlotlyConfig = {MathJaxConfig: 'local'};
(function () {
var factory = function (require, exports, module) {
${src}
};
var req = window.requirejs || window.require;
if (typeof req === 'function' && typeof window.define === 'function' && window.define.amd) {
  if (typeof req.undef === 'function') req.undef('plotly');
  window.define('plotly', ['require', 'exports', 'module'], factory);
  req(['plotly'], function (Plotly) { window.Plotly = Plotly; });
} else {
  var module = { exports: {} };
  factory(undefined, module.exports, module);
  window.Plotly = module.exports;
}
})();
</script>
<div class="switchboard-plotly-init" style="display:none">plotly.js ${escapeHtml(plotlyJsVersion())}</div>`;
}

const injected = new WeakSet<DisplayTarget>();

/**
 * Sends plotly.js to the notebook page (see the file comment). Always sends when called; figures call
 * it themselves the first time a target shows one. Does nothing on a target that is not rich.
 */
export function initPlotly(opts: ShowOptions = {}): void {
  const target = resolveDisplay(opts.display);
  if (!target.rich) return;
  target.show({ html: plotlyInjectionHtml(), text: `plotly.js ${plotlyJsVersion()} loaded` });
  injected.add(target);
}

/** A title as plotly.js 2+ reads it: `{ text, … }` (a bare string is dropped without a word). */
function titleObject(t: unknown): unknown {
  return typeof t === 'string' ? { text: t } : t;
}

const AXIS_KEY = /^(xaxis|yaxis)\d*$/;

/** A colour bar (a trace's, or a colour axis's) with its title as an object. */
function withColorbarTitle<T extends Record<string, unknown>>(owner: T): T {
  const cb = owner.colorbar;
  if (cb === null || typeof cb !== 'object' || !('title' in cb)) return owner;
  return { ...owner, colorbar: { ...(cb as Record<string, unknown>), title: titleObject((cb as Record<string, unknown>).title) } };
}

/**
 * The figure with every string title written as `{ text }`: the layout's, each axis's (`xaxis`,
 * `yaxis2`, …), each colour bar's (on traces and colour axes). plotly.js 4 draws only the object form,
 * so a spec written as `title: 'Loss'` would otherwise lose its title silently.
 */
export function normalizeFigure(fig: Figure): Figure {
  const layout: Record<string, unknown> = { ...fig.layout };
  if ('title' in layout) layout.title = titleObject(layout.title);
  for (const [k, v] of Object.entries(layout)) {
    if (v === null || typeof v !== 'object') continue;
    if (AXIS_KEY.test(k) && 'title' in v) layout[k] = { ...(v as Record<string, unknown>), title: titleObject((v as Record<string, unknown>).title) };
    else if (/^coloraxis\d*$/.test(k)) layout[k] = withColorbarTitle(v as Record<string, unknown>);
  }
  return { ...fig, data: fig.data.map((t) => withColorbarTitle(t)), layout };
}

/** A figure as an HTML fragment: a div and the script that draws it (needs the injection earlier on the page). */
export function figureHtml(figure: Figure, opts: { id?: string } = {}): string {
  const fig = normalizeFigure(figure);
  const id = opts.id ?? domId('sb-plot');
  const height = typeof fig.layout.height === 'number' ? fig.layout.height : 420;
  const spec = { data: fig.data, layout: fig.layout, config: { ...DEFAULT_CONFIG, ...fig.config } };
  return `<div id="${escapeHtml(id)}" class="switchboard-figure" style="width:100%;height:${height}px;"></div>
<script type="text/javascript">
(function () {
  var el = document.getElementById(${scriptJson(id)});
  if (!el) return;
  var fig = ${scriptJson(spec)};
  function draw(Plotly) { Plotly.newPlot(el, fig.data, fig.layout, fig.config); }
  function missing() {
    el.style.height = 'auto';
    el.innerHTML = '<p style="color:#a00;font-family:sans-serif">plotly.js is not loaded on this page: ' +
      'run <code>initPlotly()</code> in an earlier cell, then this cell again.</p>';
  }
  var req = window.requirejs || window.require;
  if (typeof req === 'function' && typeof req.specified === 'function' && req.specified('plotly')) {
    req(['plotly'], draw, missing);
  } else if (window.Plotly && typeof window.Plotly.newPlot === 'function') {
    draw(window.Plotly);
  } else {
    missing();
  }
})();
</script>`;
}

/** A one-line description of a figure, for terminals. */
export function figureText(fig: Figure): string {
  const title = layoutTitle(fig.layout);
  const traces = fig.data.map((t) => `${t.type}${typeof t.name === 'string' ? ` "${t.name}"` : ''}${shapeOf(t)}`);
  return `[figure${title ? `: ${title}` : ''}] ${traces.join(', ')}`;
}

function layoutTitle(layout: Record<string, unknown>): string {
  const t = layout.title;
  if (typeof t === 'string') return t;
  if (t && typeof t === 'object' && typeof (t as { text?: unknown }).text === 'string') return (t as { text: string }).text;
  return '';
}

function shapeOf(t: PlotlyTrace): string {
  if (Array.isArray(t.z)) {
    const rows = t.z as unknown[];
    return ` ${rows.length}×${Array.isArray(rows[0]) ? (rows[0] as unknown[]).length : 0}`;
  }
  if (Array.isArray(t.y)) return ` (${(t.y as unknown[]).length} points)`;
  return '';
}

/** Shows a figure: injects plotly.js first if this target has not had it yet; a text line otherwise. */
export function showFigure(fig: Figure, opts: ShowOptions = {}): void {
  const target = resolveDisplay(opts.display);
  if (target.rich && !injected.has(target)) initPlotly({ display: target });
  target.show({ html: figureHtml(fig), text: figureText(fig) });
}
