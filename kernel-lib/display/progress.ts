/**
 * Progress bars for long work (training, dataset builds). In a notebook the bar is one output updated in
 * place (`tslab.newDisplay()`), at most every `minIntervalMs` and always at the end; without a notebook
 * it prints a line at most every `textEveryPercent` percent or `textEverySeconds` seconds, and at the end.
 *
 *   const bar = progress(steps, { label: 'training' });
 *   await session.train({ steps, batches, onStep: bar.onStep });
 *
 * From synchronous code (an analysis looping over forwards) it asks for a redraw when `minIntervalMs` has
 * passed; in the notebook an area sends at most once per turn of the event loop (display/env.ts: a second
 * send in flight kills the tslab kernel), so a long synchronous stretch shows its first state and then its
 * last when the loop turns; async work (training) redraws as it goes.
 */
import type { DisplayArea, DisplayTarget } from './env';
import { resolveDisplay } from './env';
import { escapeHtml } from './html';

export interface ProgressOptions {
  label?: string;
  display?: DisplayTarget;
  /** Notebook: minimum time between two redraws (default 100 ms; the final state is always drawn). */
  minIntervalMs?: number;
  /** Text: print when this many more percent are done (default 10)… */
  textEveryPercent?: number;
  /** …or this many seconds have passed since the last line (default 10). */
  textEverySeconds?: number;
}

export type ProgressInfo = string | Record<string, string | number>;

export class Progress {
  private done = 0;
  private info = '';
  private readonly started = Date.now();
  private readonly target: DisplayTarget;
  private area: DisplayArea | null = null;
  private lastDraw = -Infinity;
  private lastTextPct = -Infinity;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private finished = false;
  /** Redraws sent (notebook) or lines printed (text). */
  draws = 0;

  constructor(
    readonly total: number,
    private readonly opts: ProgressOptions = {},
  ) {
    if (!Number.isFinite(total) || total < 0) throw new Error(`progress total must be a finite number ≥ 0, got ${total}`);
    this.target = resolveDisplay(opts.display);
  }

  /** Sets how much is done (0…total) and, optionally, a note such as `{loss: 2.31}`. */
  update(done: number, info?: ProgressInfo): void {
    if (this.finished) return;
    this.done = Math.max(0, Math.min(this.total, done));
    if (info !== undefined) this.info = formatInfo(info);
    if (this.done >= this.total) {
      this.finish();
      return;
    }
    this.maybeDraw();
  }

  tick(n = 1, info?: ProgressInfo): void {
    this.update(this.done + n, info);
  }

  /** `session.train`'s onStep: step/totalSteps, loss and learning rate. */
  readonly onStep = (e: { step: number; totalSteps?: number; loss?: number; lr?: number }): void => {
    const info: Record<string, number> = {};
    if (e.loss !== undefined) info.loss = e.loss;
    if (e.lr !== undefined) info.lr = e.lr;
    this.update(e.step, info);
  };

  /** Draws the final state (also when stopped early). Later updates are ignored. */
  finish(info?: ProgressInfo): void {
    if (this.finished) return;
    if (info !== undefined) this.info = formatInfo(info);
    this.finished = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.draw();
  }

  /** The text line for the current state. */
  text(): string {
    const pct = this.total > 0 ? (100 * this.done) / this.total : 100;
    const elapsed = (Date.now() - this.started) / 1000;
    const eta = this.done > 0 && this.done < this.total ? (elapsed * (this.total - this.done)) / this.done : null;
    const parts = [
      `${this.opts.label ? `${this.opts.label} ` : ''}${this.done}/${this.total} (${pct.toFixed(0)}%)`,
      `${formatSeconds(elapsed)}${eta !== null ? `, ETA ${formatSeconds(eta)}` : ''}`,
    ];
    if (this.info) parts.push(this.info);
    return parts.join(' · ');
  }

  html(): string {
    const pct = this.total > 0 ? (100 * this.done) / this.total : 100;
    const color = this.finished && this.done >= this.total ? '#2ca02c' : '#1f77b4';
    return `<div class="switchboard-progress" style="font-family:monospace;font-size:12px;display:flex;align-items:center;gap:8px">` +
      `<div style="width:240px;height:10px;background:#e6e6e6;border-radius:3px;overflow:hidden;flex:none">` +
      `<div style="width:${pct.toFixed(1)}%;height:100%;background:${color}"></div></div>` +
      `<span>${escapeHtml(this.text())}</span></div>`;
  }

  private maybeDraw(): void {
    if (!this.target.rich) {
      const pct = this.total > 0 ? (100 * this.done) / this.total : 100;
      const every = this.opts.textEveryPercent ?? 10;
      const seconds = (Date.now() - this.lastDraw) / 1000;
      if (pct >= this.lastTextPct + every || seconds >= (this.opts.textEverySeconds ?? 10)) this.draw();
      return;
    }
    const wait = this.lastDraw + (this.opts.minIntervalMs ?? 100) - Date.now();
    if (wait <= 0) this.draw();
    else if (!this.timer) {
      this.timer = setTimeout(() => {
        this.timer = null;
        if (!this.finished) this.draw();
      }, wait);
      this.timer.unref?.();
    }
  }

  private draw(): void {
    this.lastDraw = Date.now();
    this.draws++;
    if (!this.target.rich) {
      this.lastTextPct = this.total > 0 ? (100 * this.done) / this.total : 100;
      this.target.show({ text: this.text() });
      return;
    }
    this.area ??= this.target.area();
    this.area.update({ html: this.html(), text: this.text() });
  }
}

export function progress(total: number, opts: ProgressOptions = {}): Progress {
  return new Progress(total, opts);
}

/**
 * An `onProgress(done, total)` callback for analyses that learn their total as they start (the text
 * suite, perplexity, traces, CLIP scoring): the bar appears at the first call, sized by its total.
 *
 *   sb.textSuite(session, passages, { onProgress: sb.progressCallback('text suite') });
 */
export function progressCallback(label: string, opts: Omit<ProgressOptions, 'label'> = {}): (done: number, total: number) => void {
  let bar: Progress | null = null;
  return (done, total) => {
    bar ??= new Progress(total, { ...opts, label });
    bar.update(done);
  };
}

function formatInfo(info: ProgressInfo): string {
  if (typeof info === 'string') return info;
  return Object.entries(info)
    .map(([k, v]) => `${k} ${typeof v === 'number' && !Number.isInteger(v) ? Number(v.toPrecision(4)) : v}`)
    .join(' · ');
}

function formatSeconds(s: number): string {
  if (s < 60) return `${s.toFixed(s < 10 ? 1 : 0)}s`;
  const m = Math.floor(s / 60);
  return m < 60 ? `${m}m${String(Math.round(s % 60)).padStart(2, '0')}s` : `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
}
