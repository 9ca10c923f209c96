/**
 * End to end in headless Chromium: the HTML promptWidget displays (bundle inlined) is served from a
 * second loopback port, as Jupyter would serve it, and talks to a real WidgetServer with a real tiny
 * model. Type a prompt, insert an image, Run: tokens stream, the heatmap changes per token, the image
 * canvas fills patch by patch; Stop halts within one step. The defaults draw one whole image; what the
 * widget shows after an error, a stop, one token, and a hover over a 16-expert top-4 model is checked in
 * the DOM (geometry included) and in screenshots: test-artifacts/widget*.png.
 */
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { chromium, BrowserContext, Page } from 'playwright-core';
import { useBackend } from '../helpers/backend';
import { tinySession } from '../helpers/fixtures';
import type { Session } from '../../kernel-lib/session';
import { promptWidget, PromptWidget, widgetServer } from '../../kernel-lib/server/widget';
import { countStepsAfterAbort } from '../server/fixtures';

const ARTIFACTS = path.resolve(__dirname, '..', '..', 'test-artifacts');
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];

let s: Session;
let wide: Session;
let textOnly: Session;
let widget: PromptWidget;
let notebook: http.Server;
let notebookUrl: string;
let context: BrowserContext;
let page: Page;
let profile: string;

beforeAll(async () => {
  await useBackend();
  s = await tinySession();
  // Like mm-moe-small's routing (16 experts, top-4, 4 layers): long per-layer expert lists in the hover.
  wide = await tinySession({ config: { numLayers: 4, numExperts: 16, topK: 4 } });
  textOnly = await tinySession({ images: false });
  const outputs: string[] = [];
  const wideOut: string[] = [];
  const textOut: string[] = [];
  const tiger = { height: 4, width: 4, codes: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16] };
  widget = await promptWidget(s, { display: (h) => outputs.push(h), images: [{ name: 'tiger', image: tiger }], params: { seed: 7 } });
  // A page at another loopback port, standing in for the Jupyter page that holds the output.
  const unreachable = outputs[0].replace(new RegExp(`"port":${widget.server.port}`, 'g'), '"port":9');
  await promptWidget(wide, { display: (h) => wideOut.push(h), prompt: 'an emoji of a tiger', params: { seed: 3 } });
  await promptWidget(textOnly, { display: (h) => textOut.push(h), prompt: 'the flag of' });
  const pages: Record<string, string> = { '/': outputs[0], '/unreachable': unreachable, '/wide': wideOut[0], '/text': textOut[0] };
  notebook = http.createServer((req, res) => {
    const body = pages[req.url ?? ''];
    res.writeHead(body ? 200 : 404, { 'Content-Type': 'text/html; charset=utf-8' });
    // The classic notebook's Bootstrap 3 sets `input[type="file"] { display: block }`, which beats the
    // `hidden` attribute; the page carries that rule so the test sees what a notebook user sees.
    const head = '<meta charset="utf-8"><style>input[type="file"]{display:block}</style>';
    res.end(body ? `<!doctype html><html><head>${head}</head><body style="margin:20px;background:#fff">${body}</body></html>` : '');
  });
  await new Promise<void>((r) => notebook.listen(0, '127.0.0.1', r));
  notebookUrl = `http://127.0.0.1:${(notebook.address() as { port: number }).port}`;
  profile = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-chromium-'));
  context = await chromium.launchPersistentContext(profile, {
    executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS, headless: true, viewport: { width: 1040, height: 900 }, deviceScaleFactor: 1,
  });
  // Keep a handle on every WebSocket the page opens, so a test can drop one.
  await context.addInitScript(() => {
    const Native = window.WebSocket;
    const sockets: WebSocket[] = [];
    (window as unknown as { sockets: WebSocket[] }).sockets = sockets;
    window.WebSocket = class extends Native {
      constructor(url: string | URL, protocols?: string | string[]) {
        super(url, protocols);
        sockets.push(this);
      }
    };
  });
  page = context.pages()[0] ?? (await context.newPage());
}, 60_000);

afterAll(async () => {
  await context?.close();
  fs.rmSync(profile, { recursive: true, force: true });
  await new Promise((r) => notebook?.close(r));
  await (await widgetServer()).close();
  s.dispose();
  wide.dispose();
  textOnly.dispose();
});

/** A hash of a canvas's pixels, to see that it changed. */
const canvasHash = (sel: string) =>
  page.evaluate((q) => {
    const c = document.querySelector(q) as HTMLCanvasElement;
    const d = (c.getContext('2d') as CanvasRenderingContext2D).getImageData(0, 0, c.width, c.height).data;
    let h = 0;
    for (let i = 0; i < d.length; i++) h = (h * 31 + d[i]) | 0;
    return h;
  }, sel);

const steps = async () => Number(await page.getAttribute('.sbw', 'data-steps'));

test('type, insert an image, run: tokens stream, the heatmap changes per token, the canvas fills; hover shows routing', async () => {
  await page.goto(`${notebookUrl}/`);
  await page.waitForSelector('.sbw[data-state=idle]', { timeout: 15_000 });
  expect(await page.textContent('.sbw-info')).toContain('2 layers × 4 experts, top-2');
  // The file input behind "Upload PNG" stays hidden even under the notebook's `input[type=file]{display:block}`.
  expect(await page.locator('.sbw input[type=file]').evaluate((el) => getComputedStyle(el).display)).toBe('none');
  expect(await page.locator('.sbw input[type=file]').isVisible()).toBe(false);
  // Defaults: a multimodal model starts with an image; max tokens empty = the library's budget (4×4 codes + <eoi>).
  expect(await page.isChecked('input[data-param=startImage]')).toBe(true);
  expect(await page.inputValue('input[data-param=maxNewTokens]')).toBe('');
  expect(await page.getAttribute('input[data-param=maxNewTokens]', 'placeholder')).toBe('auto: 17');
  const prompt = page.locator('.sbw-prompt');
  await prompt.click();
  await prompt.pressSequentially('a red heart next to ');
  await page.selectOption('.sbw-picker', 'tiger');
  await prompt.pressSequentially(' and then');
  expect(await prompt.inputValue()).toBe('a red heart next to ⟦tiger⟧ and then');
  expect(await page.locator('.sbw-part').allTextContents()).toEqual(['a red heart next to ', '▣ tiger', ' and then']);
  expect(await page.getAttribute('.sbw-prompt-tools .sbw-btn', 'title')).toContain('needs an image encoder');
  await page.fill('input[data-param=maxNewTokens]', '24');
  await page.fill('input[data-param=paceMs]', '60');
  await page.check('input[data-param=startImage]');

  const blankHeatmap = await canvasHash('.sbw-heatmap');
  // Record the heatmap's pixels every time it moves to a new token.
  await page.evaluate(() => {
    const c = document.querySelector('.sbw-heatmap') as HTMLCanvasElement;
    const seen: number[] = [];
    (window as unknown as { heatmaps: number[] }).heatmaps = seen;
    new MutationObserver(() => {
      const d = (c.getContext('2d') as CanvasRenderingContext2D).getImageData(0, 0, c.width, c.height).data;
      let h = 0;
      for (let i = 0; i < d.length; i++) h = (h * 31 + d[i]) | 0;
      seen.push(h);
    }).observe(c, { attributes: true, attributeFilter: ['data-step'] });
  });
  await page.click('.sbw-run');
  await page.waitForFunction(() => Number(document.querySelector('.sbw')?.getAttribute('data-steps')) >= 4);
  const midPatches = Number(await page.getAttribute('.sbw-image', 'data-patches'));
  await page.waitForSelector('.sbw[data-state=idle]', { timeout: 30_000 });

  const n = await steps();
  expect(n).toBe(24);
  expect(await page.locator('.sbw-tok').count()).toBe(24);
  expect(await page.textContent('.sbw-status')).toMatch(/^Done · 24 tokens in .* · max-new-tokens$/);
  // The first record is the reset when the run starts; then one picture per token.
  const heatmaps = (await page.evaluate(() => (window as unknown as { heatmaps: number[] }).heatmaps)).filter((h) => h !== blankHeatmap);
  expect(heatmaps.length).toBe(24);
  expect(new Set(heatmaps).size).toBeGreaterThan(12); // a different picture for (nearly) every token
  expect(midPatches).toBeGreaterThan(0);
  expect(midPatches).toBeLessThan(16); // caught filling
  expect(await page.getAttribute('.sbw-image', 'data-patches')).toBe('16');
  expect(await page.locator('.sbw-tok-image').count()).toBe(16);
  expect(Number(await page.getAttribute('.sbw-usage', 'data-image'))).toBe(16);

  fs.mkdirSync(ARTIFACTS, { recursive: true });
  await page.locator('.sbw').screenshot({ path: path.join(ARTIFACTS, 'widget.png') });
  await page.hover('.sbw-tok-image >> nth=5');
  await page.waitForSelector('.sbw-tip:not([hidden])');
  expect(await page.locator('.sbw-tip-row').count()).toBe(2); // one row per layer
  expect(await page.textContent('.sbw-heatmap + .sbw-caption')).toMatch(/^hovered: #5 /);
  await page.locator('.sbw').screenshot({ path: path.join(ARTIFACTS, 'widget-hover.png') });
}, 90_000);

test('Stop halts within one step', async () => {
  const counter = countStepsAfterAbort(s);
  try {
    await page.mouse.move(0, 0);
    await page.fill('input[data-param=maxNewTokens]', '100');
    await page.fill('input[data-param=paceMs]', '50');
    await page.click('.sbw-run');
    await page.waitForFunction(() => Number(document.querySelector('.sbw')?.getAttribute('data-steps')) >= 5);
    // Read the count and press Stop in one synchronous turn of the page, so nothing arrives in between.
    const atStop = await page.evaluate(() => {
      const n = document.querySelectorAll('.sbw-tok').length;
      (document.querySelector('.sbw-stop') as HTMLButtonElement).click();
      return n;
    });
    await page.waitForSelector('.sbw[data-state=idle]', { timeout: 10_000 });
    const after = (await steps()) - atStop;
    expect(after).toBeLessThanOrEqual(1);
    expect(await page.textContent('.sbw-status')).toMatch(/^Stopped · \d+ tokens in \d+\.\d\d s$/);
    await page.locator('.sbw').screenshot({ path: path.join(ARTIFACTS, 'widget-stopped.png') });
    expect(counter.after[counter.after.length - 1]).toBeLessThanOrEqual(1);
    expect(widget.server.isBusy(widget.session)).toBe(false);
  } finally {
    counter.restore();
  }
}, 60_000);

test('a dropped socket reconnects with backoff and the widget works again', async () => {
  await page.evaluate(() => (window as unknown as { sockets: WebSocket[] }).sockets.slice(-1)[0].close(4999, 'test drop'));
  await page.waitForSelector('.sbw-pill[data-kind=reconnecting]', { timeout: 5_000 });
  expect(await page.textContent('.sbw-pill')).toMatch(/^reconnecting in \d\.\d s$/);
  await page.waitForSelector('.sbw[data-state=idle] .sbw-pill[data-kind=connected]', { timeout: 10_000 });
  expect(await page.evaluate(() => (window as unknown as { sockets: WebSocket[] }).sockets.length)).toBe(2);
  await page.fill('input[data-param=maxNewTokens]', '3');
  await page.fill('input[data-param=paceMs]', '0');
  await page.click('.sbw-run');
  await page.waitForFunction(() => /^Done · 3 tokens/.test(document.querySelector('.sbw-status')?.textContent ?? ''));
}, 30_000);

test('when the kernel cannot be reached the widget says so and points to liveDecode', async () => {
  const p = await context.newPage();
  await p.goto(`${notebookUrl}/unreachable`);
  await p.waitForSelector('.sbw-banner:not([hidden])', { timeout: 15_000 });
  expect(await p.textContent('.sbw-pill')).toBe('cannot reach kernel');
  expect(await p.textContent('.sbw-banner')).toContain('liveDecode(session, prompt)');
  expect(await p.isDisabled('.sbw-run')).toBe(true);
  await p.locator('.sbw').screenshot({ path: path.join(ARTIFACTS, 'widget-unreachable.png') });
  await p.close();
}, 30_000);

test('defaults: the ticked box and an empty max tokens draw one whole image; unticked, the text budget', async () => {
  await page.goto(`${notebookUrl}/`);
  await page.waitForSelector('.sbw[data-state=idle]', { timeout: 15_000 });
  await page.fill('.sbw-prompt', 'an emoji of a tiger');
  await page.click('.sbw-run');
  await page.waitForSelector('.sbw[data-state=idle]', { timeout: 30_000 });
  expect(await steps()).toBe(17);
  expect(await page.getAttribute('.sbw-image', 'data-patches')).toBe('16');
  expect(await page.locator('.sbw-tok-image').count()).toBe(16);
  expect(await page.textContent('.sbw-status')).toMatch(/^Done · 17 tokens in \d+\.\d\d s · max-new-tokens$/);
  await page.locator('.sbw').screenshot({ path: path.join(ARTIFACTS, 'widget-defaults.png') });
  await page.uncheck('input[data-param=startImage]');
  expect(await page.getAttribute('input[data-param=maxNewTokens]', 'placeholder')).toBe('auto: 32');
  await page.check('input[data-param=startImage]');
  expect(await page.getAttribute('input[data-param=maxNewTokens]', 'placeholder')).toBe('auto: 17');
}, 60_000);

test('one token reads "1 token"', async () => {
  await page.fill('input[data-param=maxNewTokens]', '1');
  await page.click('.sbw-run');
  await page.waitForFunction(() => /^Done/.test(document.querySelector('.sbw-status')?.textContent ?? ''));
  expect(await page.textContent('.sbw-status')).toMatch(/^Done · 1 token in \d+\.\d\d s · max-new-tokens$/);
  expect(await page.locator('.sbw-tok').count()).toBe(1);
}, 30_000);

test('after an error the previous run\'s output is gone and the stream says why it is empty', async () => {
  await page.fill('input[data-param=maxNewTokens]', '8');
  await page.click('.sbw-run');
  await page.waitForFunction(() => /^Done · 8 tokens/.test(document.querySelector('.sbw-status')?.textContent ?? ''));
  expect(await page.locator('.sbw-tok').count()).toBe(8);
  // A prompt longer than the model's context: the kernel refuses it before any compute.
  await page.fill('.sbw-prompt', 'zq'.repeat(3000));
  await page.click('.sbw-run');
  await page.waitForSelector('.sbw-status[data-error]');
  await page.waitForSelector('.sbw[data-state=idle]');
  expect(await page.textContent('.sbw-status')).toMatch(/^bad-request: The prompt is \d+ tokens, longer than the model's context of \d+ tokens$/);
  expect(await page.locator('.sbw-tok').count()).toBe(0);
  expect(await page.getAttribute('.sbw', 'data-steps')).toBe('0');
  expect(await page.getAttribute('.sbw-image', 'data-patches')).toBe('0');
  expect(await page.textContent('.sbw-tokens')).toBe('Nothing was generated: the kernel refused the request (the reason is above).');
  await page.locator('.sbw').screenshot({ path: path.join(ARTIFACTS, 'widget-error.png') });
  await page.fill('.sbw-prompt', 'an emoji of a tiger');
}, 30_000);

test('hover on a 16-expert top-4 model: every layer\'s expert list on its own line, no row overlaps another', async () => {
  const p = await context.newPage();
  await p.setViewportSize({ width: 1040, height: 900 });
  await p.goto(`${notebookUrl}/wide`);
  await p.waitForSelector('.sbw[data-state=idle]', { timeout: 15_000 });
  expect(await p.textContent('.sbw-info')).toContain('4 layers × 16 experts, top-4');
  await p.fill('input[data-param=maxNewTokens]', '6');
  await p.uncheck('input[data-param=startImage]');
  await p.click('.sbw-run');
  await p.waitForFunction(() => /^Done/.test(document.querySelector('.sbw-status')?.textContent ?? ''));
  await p.hover('.sbw-tok >> nth=3');
  await p.waitForSelector('.sbw-tip:not([hidden]) .sbw-tip-row');
  const geo = await p.evaluate(() => {
    const rect = (e: Element) => e.getBoundingClientRect();
    const tip = document.querySelector('.sbw-tip') as HTMLElement;
    const rows = Array.from(tip.querySelectorAll('.sbw-tip-row'));
    return {
      tip: rect(tip).toJSON() as DOMRect,
      rows: rows.map((r) => ({
        box: rect(r).toJSON() as DOMRect,
        experts: Array.from(r.querySelectorAll('.sbw-tip-expert')).map((e) => ({ text: e.textContent ?? '', box: rect(e).toJSON() as DOMRect, lines: e.getClientRects().length })),
        parts: Array.from(r.children).map((c) => rect(c).toJSON() as DOMRect),
      })),
    };
  });
  expect(geo.rows).toHaveLength(4);
  for (const [i, row] of geo.rows.entries()) {
    expect(row.experts.map((e) => e.text)).toHaveLength(4);
    for (const e of row.experts) {
      expect(e.text).toMatch(/^e\d+ \d+%$/);
      expect(e.lines).toBe(1); // "e12 31%" never breaks inside
      expect(e.box.top).toBeGreaterThanOrEqual(row.box.top - 0.5); // inside its row…
      expect(e.box.bottom).toBeLessThanOrEqual(row.box.bottom + 0.5);
      expect(e.box.right).toBeLessThanOrEqual(geo.tip.right + 0.5); // …and inside the tooltip
    }
    // The four entries fit on one line at this width.
    expect(new Set(row.experts.map((e) => Math.round(e.box.top))).size).toBe(1);
    for (const part of row.parts) expect(part.bottom).toBeLessThanOrEqual(row.box.bottom + 0.5);
    if (i > 0) expect(row.box.top).toBeGreaterThanOrEqual(geo.rows[i - 1].box.bottom - 0.5);
  }
  expect(geo.rows[3].box.bottom).toBeLessThanOrEqual(geo.tip.bottom + 0.5);
  expect(geo.tip.right).toBeLessThanOrEqual(1040);
  await p.locator('.sbw').screenshot({ path: path.join(ARTIFACTS, 'widget-hover-wide.png') });
  await p.close();
}, 60_000);

test('a text-only model: "start with image" is unticked and disabled, max tokens defaults to the text budget', async () => {
  const p = await context.newPage();
  await p.goto(`${notebookUrl}/text`);
  await p.waitForSelector('.sbw[data-state=idle]', { timeout: 15_000 });
  expect(await p.isChecked('input[data-param=startImage]')).toBe(false);
  expect(await p.isDisabled('input[data-param=startImage]')).toBe(true);
  expect(await p.getAttribute('input[data-param=maxNewTokens]', 'placeholder')).toBe('auto: 32');
  await p.close();
}, 30_000);
