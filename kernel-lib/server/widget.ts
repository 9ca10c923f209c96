/**
 * `await promptWidget(session)`: shows the prompt widget in a tslab notebook. The kernel runs one
 * WidgetServer (started on first use); each widget registers its session there. The browser bundle
 * is inlined in the first widget's output only; later outputs reuse the code already in the page.
 * Outside tslab there is nothing to display into, so it prints the URL of a stand-alone page.
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Session } from '../session';
import { widgetHtml } from './page';
import type { GenerateParams } from './protocol';
import { WidgetServer, WidgetServerOptions } from './server';
import { repoRoot } from '../paths';
import type { WidgetSessionOptions } from './types';

export interface PromptWidgetOptions extends WidgetSessionOptions {
  /** Initial prompt text and sampling parameters shown in the controls. */
  prompt?: string;
  params?: GenerateParams;
  /** Options for the kernel's server; only used when this call starts it. */
  server?: WidgetServerOptions;
  /** Where the HTML goes (default: tslab's display.html). Outputs that share a page share one inlined bundle. */
  display?: (html: string) => void;
}

export interface PromptWidget {
  server: WidgetServer;
  /** The key the widget's hello names the session by. */
  session: string;
  /** A stand-alone page for a browser on this machine (the fragment carries session and token). */
  pageUrl: string;
  /** Stops the session's generation and disconnects its widgets. */
  close(): void;
}

let shared: Promise<WidgetServer> | null = null;
/** Display targets that already hold the bundle (tslab's display is one page; tests bring their own). */
const inlined = new WeakSet<object>();

/** The kernel's server, started on first use (and again if someone closed it). */
export async function widgetServer(opts: WidgetServerOptions = {}): Promise<WidgetServer> {
  const current = shared ? await shared.catch(() => null) : null;
  if (current && !current.closed) return current;
  shared = WidgetServer.start({ bundlePath: bundlePath(), ...opts });
  shared.catch(() => (shared = null)); // a failed start is retried by the next call
  return shared;
}

export async function promptWidget(session: Session, opts: PromptWidgetOptions = {}): Promise<PromptWidget> {
  const bundle = loadBundle(); // fail before anything starts if the widget code cannot be had
  const server = await widgetServer(opts.server);
  const key = server.register(session, { images: opts.images, coder: opts.coder });
  const pageUrl = `http://127.0.0.1:${server.port}/#session=${key}&token=${server.token}`;
  const handle: PromptWidget = { server, session: key, pageUrl, close: () => server.unregister(key) };
  const target = opts.display ?? tslabDisplay();
  if (target === null) {
    console.log(
      'Switchboard prompt widget: not running in a tslab notebook, so there is nothing to display here.\n' +
        `Open this page in a browser on this machine:\n  ${pageUrl}`,
    );
    return handle;
  }
  const cfg = { port: server.port, token: server.token, session: key, defaults: { prompt: opts.prompt, ...opts.params } };
  const first = !inlined.has(target);
  target(widgetHtml(`sbw-${randomBytes(6).toString('hex')}`, cfg, first ? bundle : undefined));
  inlined.add(target);
  return handle;
}

let tslabHtml: ((html: string) => void) | undefined;

/** tslab's display.html when this process is a tslab kernel executing a cell, else null. */
function tslabDisplay(): ((html: string) => void) | null {
  try {
    // Only look at tslab if the kernel already loaded it: requiring it elsewhere would load a TypeScript compiler for nothing.
    const jupyter = require.cache[require.resolve('tslab/dist/jupyter')];
    if (!jupyter || (jupyter.exports as { lastWriteDisplayData?: unknown }).lastWriteDisplayData == null) return null;
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    const tslab = require('tslab') as { display: { html(s: string): void } };
    tslabHtml ??= (html: string) => tslab.display.html(html);
    return tslabHtml;
  } catch {
    return null;
  }
}

export function bundlePath(): string {
  return path.join(repoRoot(), 'widgets', 'dist', 'widget.js');
}

/**
 * The browser bundle's source. Set-up builds it; when it is missing or older than its sources, it is
 * (re)built here with esbuild if that is installed; when it cannot be had, the error says what to run.
 */
export function loadBundle(): string {
  const file = bundlePath();
  const script = path.join(repoRoot(), 'scripts', 'build-widgets.js');
  let buildError: unknown = null;
  try {
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    (require(script) as { buildWidgets(o?: { quiet?: boolean }): unknown }).buildWidgets({ quiet: true });
  } catch (e) {
    buildError = e;
  }
  if (!fs.existsSync(file)) {
    const why = buildError instanceof Error ? buildError.message : String(buildError);
    throw new Error(`The prompt widget's browser bundle ${file} is missing and could not be built (${why}). Run \`npm run setup\`, which builds it.`);
  }
  return fs.readFileSync(file, 'utf8');
}
