/**
 * The CLIP model on synthetic data (coloured squares with captions, a tiny tokenizer and a tiny
 * config): host inputs against direct extraction, tower shapes, the loss against a JS reference,
 * learning, resume, save/load, error texts and leaks.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { useBackend } from '../helpers/backend';
import type { RGBImage } from '../../kernel-lib/image/types';
import { ByteLevelBPE } from '../../kernel-lib/tokenizer';
import { ClipModel } from '../../kernel-lib/eval/clip';
import { ClipConfig, defaultClipConfig, validateClipConfig } from '../../kernel-lib/eval/clip-config';
import { ClipExample } from '../../kernel-lib/eval/clip-data';
import { imagePatches, mortonToGrid, textBags } from '../../kernel-lib/eval/clip-inputs';
import { clipFid } from '../../kernel-lib/eval/fid';
import { clipRetrieval } from '../../kernel-lib/eval/retrieval';
import { captionTargets, clipBatch, clipLoss, trainClip } from '../../kernel-lib/eval/train-clip';

const COLORS: Record<string, [number, number, number]> = { red: [220, 30, 30], green: [30, 180, 40], blue: [30, 60, 220], yellow: [240, 220, 20] };
const SIDES = ['left', 'right'] as const;

/** A white 32×32 image with a size×size square of `rgb` at (x, y). */
function square(rgb: [number, number, number], x: number, y: number, size = 10): RGBImage {
  const pixels = new Uint8Array(32 * 32 * 3).fill(255);
  for (let r = y; r < y + size; r++) for (let c = x; c < x + size; c++) pixels.set(rgb, (r * 32 + c) * 3);
  return { height: 32, width: 32, pixels };
}

/** Every colour × side, at a few positions: captions "a red square on the left" (and a variant). */
function syntheticExamples(): ClipExample[] {
  const out: ClipExample[] = [];
  for (const [name, rgb] of Object.entries(COLORS)) {
    for (const side of SIDES) {
      for (const y of [3, 11, 19]) {
        const x = side === 'left' ? 3 : 19;
        out.push({ image: square(rgb, x, y), captions: [`a ${name} square on the ${side}`, `${name} box, ${side} side`], source: 'emoji' });
      }
    }
  }
  return out;
}

const TINY: Partial<ClipConfig> = { visionWidths: [8, 16, 16], visionHidden: 32, textEmbed: 16, textHidden: 32, embedDim: 16 };

let tokenizer: ByteLevelBPE;
const tiny = (seed = 0): ClipModel => ClipModel.create(tokenizer, defaultClipConfig({ ...TINY, vocabSize: tokenizer.vocabSize }), seed);

beforeAll(async () => {
  await useBackend();
  const texts = syntheticExamples().flatMap((e) => e.captions);
  tokenizer = ByteLevelBPE.train(texts, { vocabSize: 300 });
});

function tempDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'switchboard-clip-'));
}

describe('host inputs', () => {
  test('Morton order: every 4 consecutive rows are a 2×2 block, and every 16 a 2×2 block of blocks', () => {
    for (let m = 0; m < 64; m++) {
      const [y, x] = mortonToGrid(m);
      const [y0, x0] = mortonToGrid(m - (m % 4));
      expect([y >> 1, x >> 1]).toEqual([y0 >> 1, x0 >> 1]);
      const [y1, x1] = mortonToGrid(m - (m % 16));
      expect([y >> 2, x >> 2]).toEqual([y1 >> 2, x1 >> 2]);
    }
    expect(new Set(Array.from({ length: 64 }, (_, m) => mortonToGrid(m).join(','))).size).toBe(64);
  });

  test('imagePatches rows equal a direct extraction of each padded 8×8 patch (with a shift)', () => {
    const c = defaultClipConfig();
    const img: RGBImage = { height: 32, width: 32, pixels: Uint8Array.from({ length: 32 * 32 * 3 }, (_, i) => (i * 37) % 256) };
    const [dy, dx] = [1, -2];
    const rows = imagePatches([img], c, [dy, dx]);
    const inkAt = (y: number, x: number, ch: number): number => {
      const sy = y - dy;
      const sx = x - dx;
      return sy < 0 || sy >= 32 || sx < 0 || sx >= 32 ? 0 : 1 - img.pixels[(sy * 32 + sx) * 3 + ch] / 255;
    };
    for (const m of [0, 5, 27, 63]) {
      const [gy, gx] = mortonToGrid(m);
      for (let py = 0; py < 8; py++) {
        for (let px = 0; px < 8; px++) {
          for (let ch = 0; ch < 3; ch++) {
            const want = inkAt(gy * 4 - 2 + py, gx * 4 - 2 + px, ch);
            expect(rows[m * 192 + (py * 8 + px) * 3 + ch]).toBeCloseTo(want, 6);
          }
        }
      }
    }
  });

  test('textBags: front and back rows each sum to 1, average to the plain mean, and see word order', () => {
    const V = 10;
    const bags = textBags([[1, 2, 3], [3, 2, 1], [7]], V);
    const row = (r: number): number[] => Array.from(bags.subarray(r * V, (r + 1) * V));
    for (let r = 0; r < 6; r++) expect(row(r).reduce((a, b) => a + b, 0)).toBeCloseTo(1, 6);
    const mean = row(0).map((v, i) => (v + row(1)[i]) / 2);
    expect(mean[1]).toBeCloseTo(1 / 3, 6);
    expect(mean[3]).toBeCloseTo(1 / 3, 6);
    expect(row(0)).not.toEqual(row(2)); // [1,2,3] and [3,2,1] differ at the front
    expect(row(0)).toEqual(row(3)); // the front of one is the back of the other
    expect(row(4)[7]).toBeCloseTo(1, 6);
    expect(() => textBags([[1, 10]], V)).toThrow('textBags: caption 0 has token id 10, outside [0, 10)');
  });
});

describe('model', () => {
  test('towers give unit rows of [B, d]', () => {
    const model = tiny();
    const ex = syntheticExamples().slice(0, 5);
    const img = model.imageEmbeddings(ex.map((e) => e.image));
    const txt = model.textEmbeddings(ex.map((e) => e.captions[0]));
    const d = model.config.embedDim;
    expect(img.length).toBe(5 * d);
    expect(txt.length).toBe(5 * d);
    for (let i = 0; i < 5; i++) {
      let a = 0;
      let b = 0;
      for (let k = 0; k < d; k++) (a += img[i * d + k] ** 2), (b += txt[i * d + k] ** 2);
      expect(a).toBeCloseTo(1, 5);
      expect(b).toBeCloseTo(1, 5);
    }
    model.dispose();
  });

  test('clipLoss equals a JS reference of symmetric InfoNCE with soft targets', () => {
    const B = 5;
    const d = 3;
    const captions = ['a', 'b', 'a', 'c', 'd']; // 0 and 2 share a caption
    const raw = Array.from({ length: 2 * B * d }, (_, i) => Math.sin(i * 1.7) + 0.3);
    const norm = (v: number[]): number[] => v.map((x) => x / Math.hypot(...v));
    const I = Array.from({ length: B }, (_, i) => norm(raw.slice(i * d, (i + 1) * d)));
    const T = Array.from({ length: B }, (_, i) => norm(raw.slice((B + i) * d, (B + i + 1) * d)));
    const logScale = 2;
    const s = Math.exp(logScale);
    const y = captionTargets(captions);
    const logits = I.map((a) => T.map((b) => s * a.reduce((acc, v, k) => acc + v * b[k], 0)));
    const lse = (xs: number[]): number => Math.log(xs.reduce((a, x) => a + Math.exp(x), 0));
    let ref = 0;
    for (let i = 0; i < B; i++) {
      const row = logits[i];
      const col = logits.map((r) => r[i]);
      for (let j = 0; j < B; j++) {
        ref -= y[i * B + j] * (row[j] - lse(row));
        ref -= y[i * B + j] * (col[j] - lse(col));
      }
    }
    ref /= 2 * B;
    const got = tf.tidy(() =>
      clipLoss(tf.tensor2d(I), tf.tensor2d(T), tf.tensor1d([logScale]), Math.log(100), tf.tensor2d(y, [B, B])).dataSync()[0],
    );
    expect(got).toBeCloseTo(ref, 4);
    expect(y[0 * B + 2]).toBe(0.5);
    expect(y[1 * B + 1]).toBe(1);
  });

  test('the batch of a step is a pure function of (seed, step), with every example once per epoch', () => {
    const data = { emoji: syntheticExamples(), scenes: [] };
    const o = { batchSize: 8, emojiShare: 1, maxShift: 2, seed: 3 };
    const a = clipBatch(data, o, 2);
    const b = clipBatch(data, o, 2);
    expect(a.captions).toEqual(b.captions);
    expect(Array.from(a.shifts)).toEqual(Array.from(b.shifts));
    const seen = new Set<ClipExample>();
    for (let s = 0; s < 3; s++) for (const it of clipBatch(data, o, s).items) seen.add(it); // 24 examples = one epoch
    expect(seen.size).toBe(24);
    expect(Math.max(...Array.from(a.shifts).map(Math.abs))).toBeLessThanOrEqual(2);
  });

  test('learns the synthetic task: loss falls and retrieval beats chance', async () => {
    const model = tiny(1);
    const ex = syntheticExamples();
    const res = await trainClip(model, { emoji: ex, scenes: [] }, { steps: 80, batchSize: 24, lr: 5e-3, maxShift: 1, evalSets: { all: ex.map((e) => ({ image: e.image, caption: e.captions[0] })) } });
    const first = res.history.slice(0, 5).reduce((a, h) => a + h.loss, 0) / 5;
    const last = res.history.slice(-5).reduce((a, h) => a + h.loss, 0) / 5;
    expect(last).toBeLessThan(first * 0.8);
    const m = res.evals.at(-1)!.sets.all; // 8 distinct captions over 24 images
    expect(m.imageToText.top1).toBeGreaterThan(3 * m.chance.imageToText.top1);
    model.dispose();
  });

  test('an interrupted run resumes to the same losses and weights as an uninterrupted one', async () => {
    const data = { emoji: syntheticExamples(), scenes: [] };
    const base = { steps: 6, batchSize: 8, lr: 5e-3, seed: 2 };
    const straight = tiny(4);
    const full = await trainClip(straight, data, base);

    const dir = tempDir();
    const first = tiny(4);
    const ctl = new AbortController();
    const part = await trainClip(first, data, {
      ...base, runDir: dir, checkpointEvery: 3, signal: ctl.signal,
      onEvent: (e) => {
        if (e.kind === 'checkpoint' && e.step === 3) ctl.abort();
      },
    });
    expect(part.stopped).toBe('aborted');
    expect(part.history.length).toBe(3);
    first.dispose();

    const second = tiny(99); // different init: everything must come from the run directory
    const events: string[] = [];
    const rest = await trainClip(second, data, { ...base, runDir: dir, checkpointEvery: 3, onEvent: (e) => events.push(e.kind) });
    expect(rest.resumedFrom).toBe(3);
    expect(events[0]).toBe('resume');
    expect(rest.history.length).toBe(6);
    for (let i = 0; i < 6; i++) expect(rest.history[i].loss).toBeCloseTo(full.history[i].loss, 5);
    const a = straight.hostParams();
    for (const [name, h] of second.hostParams()) {
      const want = a.get(name)!.data;
      let diff = 0;
      for (let k = 0; k < want.length; k++) diff = Math.max(diff, Math.abs(want[k] - h.data[k]));
      expect(diff).toBeLessThan(1e-5);
    }
    await expect(trainClip(tiny(), data, { ...base, lr: 1e-3, runDir: dir })).rejects.toThrow('this run was started with lr = 0.005, now 0.001');
    straight.dispose();
    second.dispose();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('save/load: float32 exactly, float16 within rounding; config and tokenizer travel along', () => {
    const model = tiny(5);
    const dir = tempDir();
    model.save(path.join(dir, 'f32'), { dtype: 'float32', extra: { note: 'x' } });
    model.save(path.join(dir, 'f16'));
    const a = ClipModel.load(path.join(dir, 'f32'));
    const b = ClipModel.load(path.join(dir, 'f16'));
    expect(a.config).toEqual(model.config);
    expect(a.extra.note).toBe('x');
    expect(a.tokenizer.encode('a red square')).toEqual(tokenizer.encode('a red square'));
    const orig = model.hostParams();
    for (const [name, h] of a.hostParams()) expect(Array.from(h.data)).toEqual(Array.from(orig.get(name)!.data));
    for (const [name, h] of b.hostParams()) {
      const o = orig.get(name)!.data;
      for (let k = 0; k < o.length; k++) expect(Math.abs(h.data[k] - o[k])).toBeLessThanOrEqual(Math.abs(o[k]) * 2 ** -11 + 1e-7);
    }
    [model, a, b].forEach((m) => m.dispose());
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('load names what is wrong', () => {
    const model = tiny();
    const dir = tempDir();
    model.save(dir);
    model.dispose();
    const cfgFile = path.join(dir, 'config.json');
    const cfg = JSON.parse(fs.readFileSync(cfgFile, 'utf8'));
    fs.writeFileSync(cfgFile, JSON.stringify({ ...cfg, model_type: 'mixtral' }));
    expect(() => ClipModel.load(dir)).toThrow(`${cfgFile}: model_type is "mixtral", expected "switchboard-clip"`);
    fs.writeFileSync(cfgFile, JSON.stringify({ ...cfg, config: { ...cfg.config, embedDim: 0 } }));
    expect(() => ClipModel.load(dir)).toThrow(`${cfgFile}: ClipConfig.embedDim must be a positive integer, got 0`);
    fs.writeFileSync(cfgFile, JSON.stringify({ ...cfg, config: { ...cfg.config, embedDim: 8 } }));
    expect(() => ClipModel.load(dir)).toThrow(`model.safetensors: tensor "vision.proj.weight" has shape [32,16], expected [32,8]`);
    expect(() => ClipModel.load(path.join(dir, 'nope'))).toThrow(`${path.join(dir, 'nope', 'config.json')}: file not found`);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('config validation names the field', () => {
    expect(() => defaultClipConfig({ patchStride: 3 })).toThrow('must give an 8×8 patch grid');
    expect(() => defaultClipConfig({ visionWidths: [8, 8] as unknown as [number, number, number] })).toThrow('ClipConfig.visionWidths must list 3 widths, got [8,8]');
    expect(() => validateClipConfig({ ...defaultClipConfig(), initLogitScale: 9 })).toThrow('ClipConfig.initLogitScale (9) exceeds maxLogitScale');
    expect(() => ClipModel.create(tokenizer, defaultClipConfig())).toThrow(`ClipModel: the tokenizer has ${tokenizer.vocabSize} tokens but ClipConfig.vocabSize is 4096`);
  });

  test('no tensor leaks from inference, metrics and training', async () => {
    const model = tiny();
    const ex = syntheticExamples();
    const imgs = ex.map((e) => e.image);
    const caps = ex.map((e) => e.captions[0]);
    const before = tf.memory().numTensors;
    model.clipT(imgs, caps);
    model.clipI(imgs, imgs.slice().reverse());
    model.similarity(model.imageEmbeddings(imgs), model.textEmbeddings(caps));
    clipRetrieval(model, ex.map((e) => ({ image: e.image, caption: e.captions[0] })));
    clipFid(model, imgs.slice(0, 12), imgs.slice(12));
    void model.logitScale;
    await trainClip(model, { emoji: ex, scenes: [] }, { steps: 2, batchSize: 8 });
    expect(tf.memory().numTensors).toBe(before);
    model.dispose();
  });

  test('clipT and clipI say when the lists differ in length', () => {
    const model = tiny();
    const img = syntheticExamples()[0].image;
    expect(() => model.clipT([img], [])).toThrow('clipT: 1 images but 0 captions');
    expect(() => model.clipI([img], [img, img])).toThrow('clipI: 1 images vs 2 images');
    model.dispose();
  });
});
