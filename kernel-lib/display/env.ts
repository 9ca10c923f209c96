/**
 * Where display output goes. Inside the tslab kernel it becomes notebook outputs (`tslab.display`, and
 * `tslab.newDisplay()` for areas updated in place); anywhere else (scripts, the CLI, jest) it falls back
 * to plain text on stdout. Every display function also takes a `display` option, so a test can pass its
 * own target and count what was sent.
 *
 * tslab sends one MIME type per output, so an Output is shown as the richest thing it has:
 * html, else png, else text.
 */

/** One output: what a rich front end shows (html or png) and what a terminal prints instead. */
export interface Output {
  html?: string;
  png?: Uint8Array;
  /** Plain-text stand-in; printed when there is no notebook. */
  text: string;
}

/** An output area that is replaced in place on every update (tslab `newDisplay()`). */
export interface DisplayArea {
  update(out: Output): void;
}

export interface DisplayTarget {
  /** 'tslab' in a notebook, 'text' on stdout; test sinks pick their own. */
  readonly kind: string;
  /** Whether html and png are rendered (false: only `text` is seen). */
  readonly rich: boolean;
  show(out: Output): void;
  /** A new output area; nothing appears until its first update. */
  area(): DisplayArea;
}

/** The subset of tslab's public `Display` used here. */
export interface TslabDisplay {
  html(s: string): void;
  png(b: Uint8Array): void;
  text(s: string): void;
}
export interface TslabModule {
  display: TslabDisplay;
  newDisplay(): TslabDisplay;
}

function sendTo(d: TslabDisplay, out: Output): void {
  if (out.html !== undefined) d.html(out.html);
  else if (out.png !== undefined) d.png(out.png);
  else d.text(out.text);
}

export class TslabTarget implements DisplayTarget {
  readonly kind = 'tslab';
  readonly rich = true;
  constructor(private readonly tslab: TslabModule) {}
  show(out: Output): void {
    sendTo(this.tslab.display, out);
  }
  area(): DisplayArea {
    const d = this.tslab.newDisplay();
    let latest: Output | null = null;
    let queued = false;
    // In-place updates go out at most once per turn of the event loop, across every area: tslab sends each
    // message without waiting for the previous one, and a send made while another is still in flight kills
    // the kernel (zeromq EBUSY, seen on notebook 01's long synchronous full-mode cells). Within a turn the
    // latest state of an area wins and is sent when the loop turns (an update of a finished cell's area by
    // its display id).
    const flush = (): void => {
      queued = false;
      if (latest === null) return;
      if (areaSentThisTurn) {
        queued = true;
        pendingAreas.push(flush);
        return;
      }
      const out = latest;
      latest = null;
      markAreaSend();
      sendTo(d, out);
    };
    return {
      update: (out) => {
        latest = out;
        if (!queued) flush();
      },
    };
  }
}

let areaSentThisTurn = false;
const pendingAreas: (() => void)[] = [];

function markAreaSend(): void {
  if (areaSentThisTurn) return;
  areaSentThisTurn = true;
  setImmediate(() => {
    areaSentThisTurn = false;
    const waiting = pendingAreas.splice(0);
    for (const f of waiting) f();
  });
}

/** Plain text on stdout: what scripts and the CLI see. An area prints every update it is given. */
export class TextTarget implements DisplayTarget {
  readonly kind = 'text';
  readonly rich = false;
  constructor(private readonly write: (s: string) => void = (s) => process.stdout.write(s)) {}
  show(out: Output): void {
    this.write(out.text.endsWith('\n') ? out.text : `${out.text}\n`);
  }
  area(): DisplayArea {
    return { update: (out) => this.show(out) };
  }
}

/**
 * True inside the tslab kernel. tslab's executor sets `globalThis.__tslab__` before running a cell; the
 * `tslab` package itself resolves anywhere it is installed (it is a dependency), so being able to
 * require it says nothing, and requiring it outside the kernel would load its TypeScript compiler.
 */
export function inTslab(): boolean {
  return (globalThis as { __tslab__?: unknown }).__tslab__ !== undefined;
}

let tslabTarget: DisplayTarget | null | undefined;

/** The display of this process: the notebook inside tslab, else stdout. */
export function defaultDisplay(): DisplayTarget {
  if (tslabTarget === undefined) {
    tslabTarget = null;
    if (inTslab()) {
      try {
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        tslabTarget = new TslabTarget(require('tslab') as TslabModule);
      } catch {
        tslabTarget = null;
      }
    }
  }
  return tslabTarget ?? new TextTarget();
}

/** `opts.display` when given, else the process default. */
export function resolveDisplay(display?: DisplayTarget): DisplayTarget {
  return display ?? defaultDisplay();
}
