import * as tf from '@tensorflow/tfjs';
import sharp from 'sharp';
import { useBackend } from '../helpers/backend';
import { tinySession } from '../helpers/fixtures';
import type { Session, SessionGenerateOptions } from '../../kernel-lib/session';
import type { Step } from '../../kernel-lib/decode/generate';
import type { Prompt } from '../../kernel-lib/tokenizer';
import { liveDecode, LiveDecodeSession } from '../../kernel-lib/display/live-decode';
import { CodePaletteRenderer, PatchRenderer } from '../../kernel-lib/display/patch-renderer';
import { codeColor } from '../../kernel-lib/display/colors';
import { TextTarget } from '../../kernel-lib/display/env';
import { RecordingTarget } from './sink';

let s: Session;
let G: number; // codes per image
const caption = 'an emoji of a tiger';

beforeAll(async () => {
  await useBackend();
  s = await tinySession();
  G = s.tokenizer.imageGrid.height * s.tokenizer.imageGrid.width;
});
afterAll(() => s.dispose());

/** The same session, with every step held back `ms` (a slow model) and a count of steps. */
function paced(ms: number): LiveDecodeSession & { steps: number } {
  const w = {
    steps: 0,
    tokenizer: s.tokenizer,
    config: s.config,
    encode: (p: Prompt) => s.encode(p),
    generate(p: Prompt, o: SessionGenerateOptions) {
      const g = s.generate(p, o);
      return {
        get stopReason() {
          return g.stopReason;
        },
        async *[Symbol.asyncIterator](): AsyncIterator<Step> {
          for await (const st of g) {
            await new Promise((r) => setTimeout(r, ms));
            w.steps++;
            yield st;
          }
        },
      };
    },
  };
  return w;
}

const pngsIn = (html: string): Buffer[] => [...html.matchAll(/data:image\/png;base64,([A-Za-z0-9+/=]+)/g)].map((m) => Buffer.from(m[1], 'base64'));

test('one area; with a long throttle only the prompt frame and the final frame are drawn', async () => {
  const sink = new RecordingTarget();
  const r = await liveDecode(s, caption, { startImage: true, maxNewTokens: G + 6, temperature: 1, throttleMs: 60_000, display: sink });
  expect(sink.shown).toHaveLength(0);
  expect(sink.areas).toHaveLength(1);
  const frames = sink.areas[0];
  expect(frames).toHaveLength(2);
  expect(r.updates).toBe(2);
  expect(frames[0].html).toContain('decoding… 0/');
  const last = frames[1].html as string;
  expect(last).toContain(`done: ${r.steps.length} tokens`);
  expect(last).toContain(`stop: ${r.stopReason}`);
  expect(last).not.toContain('<script');
  expect(last).toContain('title="#'); // hover titles on tokens
  expect(r.steps.length).toBeGreaterThan(G);
});

test('throttleMs 0 draws every step; a slow model with a throttle is capped and still ends on the final frame', async () => {
  const every = new RecordingTarget();
  const r0 = await liveDecode(s, caption, { maxNewTokens: 10, stopTokens: [], temperature: 1, throttleMs: 0, display: every });
  expect(r0.steps).toHaveLength(10);
  expect(every.areas[0]).toHaveLength(1 + 10 + 1);

  const sink = new RecordingTarget();
  const slow = paced(10);
  const t0 = Date.now();
  const r = await liveDecode(slow, caption, { maxNewTokens: 30, stopTokens: [], temperature: 1, throttleMs: 100, display: sink });
  const elapsed = Date.now() - t0;
  expect(slow.steps).toBe(30);
  const frames = sink.areas[0];
  // At most one frame per 100 ms (the trailing one included), plus the prompt frame and the final frame.
  expect(frames.length).toBeLessThanOrEqual(Math.ceil(elapsed / 100) + 2);
  expect(frames.length).toBeGreaterThanOrEqual(3);
  expect(frames.length).toBeLessThan(r.steps.length);
  expect(frames[frames.length - 1].html).toContain('done: 30 tokens');
});

test('caption → image: the result has the codes on their grid, the text, and no tensors are left behind', async () => {
  await liveDecode(s, caption, { startImage: true, maxNewTokens: 3, display: new RecordingTarget() }); // warm-up
  const before = tf.memory().numTensors;
  const sink = new RecordingTarget();
  const r = await liveDecode(s, caption, { startImage: true, maxNewTokens: G + 8, temperature: 1, seed: 5, display: sink });
  expect(tf.memory().numTensors).toBe(before);
  expect(r.images).toHaveLength(1);
  const img = r.images[0];
  expect(img).toMatchObject({ index: 0, height: 4, width: 4, complete: true });
  const codes = r.steps.filter((st) => st.modality === 'image');
  expect(codes).toHaveLength(G);
  for (const st of codes) expect(img.codes[st.grid!.row * 4 + st.grid!.col]).toBe(s.tokenizer.codeOf(st.tokenId));
  const textIds = r.steps.filter((st) => st.modality === 'text').map((st) => st.tokenId);
  const decoded = s.tokenizer.decodeIds(textIds).map((p) => ('text' in p ? p.text : '')).join('');
  expect(r.text).toBe(decoded);
  // The final frame's first PNG is the image: 4×4 patches of 4 px, upscaled to fit 192 px; each patch one colour.
  const [png] = pngsIn(sink.areas[0][sink.areas[0].length - 1].html as string);
  const { data, info } = await sharp(png).raw().toBuffer({ resolveWithObject: true });
  expect([info.width, info.height]).toEqual([192, 192]);
  const side = 192 / 4;
  for (let k = 0; k < G; k++) {
    const [row, col] = [Math.floor(k / 4), k % 4];
    const at = ((row * side + side / 2) * 192 + col * side + side / 2) * info.channels;
    expect(Array.from(data.subarray(at, at + 3))).toEqual(codeColor(img.codes[k]));
  }
});

test('an image cut short keeps −1 for missing codes; the current patch is outlined while decoding', async () => {
  const sink = new RecordingTarget();
  const r = await liveDecode(s, caption, { startImage: true, maxNewTokens: 5, throttleMs: 0, display: sink });
  expect(r.images[0].complete).toBe(false);
  expect(r.images[0].codes.filter((c) => c === -1)).toHaveLength(G - 5);
  expect(r.images[0].codes.slice(0, 5).every((c) => c >= 0)).toBe(true);
  // Frame after step 3 (prompt frame, then one per step): patch (0, 2) is current, its border drawn in the mark colour.
  const [png] = pngsIn(sink.areas[0][3].html as string);
  const { data, info } = await sharp(png).raw().toBuffer({ resolveWithObject: true });
  const side = info.width / 4;
  const at = (x: number, y: number) => Array.from(data.subarray((y * info.width + x) * info.channels, (y * info.width + x) * info.channels + 3));
  expect(at(2 * side, side / 2)).toEqual([255, 45, 85]); // left edge of patch (0, 2)
  expect(at(2 * side + side / 2, side / 2)).toEqual(codeColor(r.images[0].codes[2])); // its inside
  expect(at(side / 2, 3 * side + side / 2)).toEqual([236, 236, 236]); // not generated yet
});

test('a PatchRenderer plugs in: it gets the codes so far and sets the canvas size', async () => {
  const calls: number[][] = [];
  const renderer: PatchRenderer = {
    patchSize: 6,
    render(codes, grid) {
      calls.push(codes.slice());
      return new Uint8Array(grid.height * 6 * grid.width * 6 * 3).fill(77);
    },
  };
  const sink = new RecordingTarget();
  await liveDecode(s, caption, { startImage: true, maxNewTokens: G, renderer, throttleMs: 60_000, display: sink });
  expect(calls.length).toBeGreaterThanOrEqual(1);
  expect(calls[calls.length - 1].every((c) => c >= 0)).toBe(true);
  const [png] = pngsIn(sink.areas[0][sink.areas[0].length - 1].html as string);
  const meta = await sharp(png).metadata();
  expect(meta.width).toBe(Math.floor(192 / 24) * 24); // 4 patches × 6 px, upscaled ×8
  const bad: PatchRenderer = { patchSize: 4, render: () => new Uint8Array(3) };
  await expect(liveDecode(s, caption, { startImage: true, maxNewTokens: 2, renderer: bad, display: new RecordingTarget() })).rejects.toThrow(
    'PatchRenderer returned 3 bytes; a 16×16 RGB image has 768',
  );
});

test('CodePaletteRenderer: one flat colour per code, background for codes not generated', () => {
  const rgb = new CodePaletteRenderer(2).render([3, -1], { height: 1, width: 2 });
  expect(Array.from(rgb)).toEqual([...codeColor(3), ...codeColor(3), 236, 236, 236, 236, 236, 236, ...codeColor(3), ...codeColor(3), 236, 236, 236, 236, 236, 236]);
  expect(() => new CodePaletteRenderer(2).render([1], { height: 2, width: 2 })).toThrow('render: 1 codes for a 2×2 grid');
});

test('without a notebook it prints one summary at the end', async () => {
  const lines: string[] = [];
  const r = await liveDecode(s, caption, { startImage: true, maxNewTokens: G + 2, display: new TextTarget((x) => lines.push(x)) });
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(new RegExp(`^liveDecode: done: ${r.steps.length} tokens`));
  expect(lines[0]).toContain(`image 0: 4×4 codes: ${r.images[0].codes.join(' ')}`);
  expect(r.updates).toBe(0);
});

test('an abort ends with the final frame; bad input throws before anything is drawn', async () => {
  const ac = new AbortController();
  const sink = new RecordingTarget();
  const slow = paced(1);
  const p = liveDecode(slow, caption, { maxNewTokens: 50, stopTokens: [], signal: ac.signal, display: sink, throttleMs: 0 });
  setTimeout(() => ac.abort(), 30);
  const r = await p;
  expect(r.stopReason).toBe('aborted');
  expect(r.steps.length).toBeLessThan(50);
  expect(sink.areas[0][sink.areas[0].length - 1].html).toContain('stop: aborted');

  const none = new RecordingTarget();
  await expect(liveDecode(s, caption, { maxNewTokens: -1, display: none })).rejects.toThrow('maxNewTokens must be an integer ≥ 0, got -1');
  await expect(liveDecode(s, caption, { throttleMs: -5, display: none })).rejects.toThrow('throttleMs must be a number ≥ 0, got -5');
  await expect(liveDecode(s, caption, { maxHeatmapTokens: 0, display: none })).rejects.toThrow('maxHeatmapTokens must be a positive integer, got 0');
  expect(none.areas).toHaveLength(0);
});
