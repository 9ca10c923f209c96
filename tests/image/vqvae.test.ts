/**
 * The VQVAE API on a small random model: shapes (32×32 → 8×8, 16×16 → 4×4), input validation, PNG in/out,
 * save/load, a training run that resumes exactly, and leaks.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../kernel-lib/backend/backend';
import { defaultVQVAEConfig, validateVQVAEConfig, vqvaeParamShapes, VQVAEConfig } from '../../kernel-lib/image/config';
import { VQVAE } from '../../kernel-lib/image/model';
import { imageGridPng, readPng, writePng } from '../../kernel-lib/image/png';
import { trainVQVAE, VQVAETrainOptions } from '../../kernel-lib/train/vqvae/train-vqvae';
import { readSafetensors } from '../../kernel-lib/checkpoint/safetensors';
import { synthImage } from '../helpers/images';

const SMALL: VQVAEConfig = defaultVQVAEConfig({ numCodes: 16, codeDim: 4, hidden1: 4, hidden2: 8 });

let tmp: string;
let model: VQVAE;

beforeAll(async () => {
  await initBackend('wasm');
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'vqvae-test-'));
  model = VQVAE.create(SMALL, 1);
});

afterAll(() => {
  model.dispose();
  fs.rmSync(tmp, { recursive: true, force: true });
});

describe('shapes', () => {
  test('32×32 images give 8×8 codes and decode to 32×32 RGB', () => {
    const imgs = [0, 1, 2].map((i) => synthImage(i));
    const pixels = new Uint8Array(3 * 32 * 32 * 3);
    imgs.forEach((im, i) => pixels.set(im.pixels, i * 3072));
    const codes = model.encode(pixels, 3, 32);
    expect(codes).toHaveLength(3);
    for (const c of codes) {
      expect([c.height, c.width, c.codes.length]).toEqual([8, 8, 64]);
      for (const k of c.codes) expect(Number.isInteger(k) && k >= 0 && k < 16).toBe(true);
    }
    const out = model.decode(codes);
    expect(out.map((o) => [o.height, o.width, o.pixels.length])).toEqual([[32, 32, 3072], [32, 32, 3072], [32, 32, 3072]]);
    expect(model.encodeImages(imgs)).toEqual(codes);
  });

  test('16×16 images give 4×4 codes and decode to 16×16 RGB; mixed sizes keep their order', () => {
    const codes16 = model.encode(new Float32Array(2 * 16 * 16 * 3).fill(0.5), 2, 16);
    expect(codes16.map((c) => [c.height, c.width, c.codes.length])).toEqual([[4, 4, 16], [4, 4, 16]]);
    const mixed = model.decode([codes16[0], model.encodeImages([synthImage(3)])[0], codes16[1]]);
    expect(mixed.map((m) => m.height)).toEqual([16, 32, 16]);
    expect(model.encodeImages([synthImage(4, 16), synthImage(5), synthImage(6, 16)]).map((c) => c.height)).toEqual([4, 8, 4]);
  });

  test('the encoder output and the reconstruction have the documented tensor shapes', () => {
    tf.tidy(() => {
      const x = tf.zeros([2, 32, 32, 3]) as tf.Tensor4D;
      expect(model.encoderForward(x).shape).toEqual([2, 8, 8, 4]);
      const out = model.forward(x);
      expect(out.z.shape).toEqual([128, 4]);
      expect(out.codes.shape).toEqual([128]);
      expect(out.e.shape).toEqual([128, 4]);
      expect(out.recon.shape).toEqual([2, 32, 32, 3]);
      expect(model.forward(tf.zeros([3, 16, 16, 3]) as tf.Tensor4D).recon.shape).toEqual([3, 16, 16, 3]);
    });
  });
});

describe('input validation', () => {
  test('encode: wrong size, wrong length, bad n, out-of-range floats', () => {
    expect(() => model.encode(new Uint8Array(24 * 24 * 3), 1, 24)).toThrow(
      'encode: image size must be one of 32, 16 (the sides this model was trained on), got 24',
    );
    expect(() => model.encode(new Uint8Array(100), 1, 32)).toThrow('encode: expected 1 × 32×32×3 = 3072 values, got 100');
    expect(() => model.encode(new Uint8Array(0), 0, 32)).toThrow('encode: n must be a positive integer, got 0');
    const f = new Float32Array(768).fill(0.5);
    f[5] = 255;
    expect(() => model.encode(f, 1, 16)).toThrow('encode: float pixels must be in [0, 1], got 255 at index 5 (pass a Uint8Array for 0–255 values)');
    f[5] = NaN;
    expect(() => model.encode(f, 1, 16)).toThrow('got NaN at index 5');
  });

  test('decode: non-square grid, unsupported grid, wrong code count, codes out of range', () => {
    const ok = { height: 4, width: 4, codes: new Array(16).fill(0) };
    expect(() => model.decode([ok, { height: 4, width: 8, codes: new Array(32).fill(0) }])).toThrow('decode: image 1 is a 4×8 grid; grids must be square');
    expect(() => model.decode([{ height: 6, width: 6, codes: new Array(36).fill(0) }])).toThrow(
      'decode: image 0: image size must be one of 32, 16 (the sides this model was trained on), got 24',
    );
    expect(() => model.decode([{ height: 4, width: 4, codes: [1, 2] }])).toThrow('decode: image 0 has 2 codes, but a 4×4 grid needs 16');
    expect(() => model.decode([{ ...ok, codes: [...ok.codes.slice(1), 16] }])).toThrow('decode: image 0 code 15 is 16, outside [0, 16)');
    expect(() => model.decode([{ ...ok, codes: [-1, ...ok.codes.slice(1)] }])).toThrow('decode: image 0 code 0 is -1, outside [0, 16)');
    expect(() => model.decode([{ ...ok, codes: [0.5, ...ok.codes.slice(1)] }])).toThrow('decode: image 0 code 0 is 0.5, outside [0, 16)');
    expect(model.decode([])).toEqual([]);
  });

  test('config validation names the field', () => {
    expect(() => validateVQVAEConfig({ ...SMALL, numCodes: 0 })).toThrow('VQVAEConfig.numCodes must be a positive integer, got 0');
    expect(() => validateVQVAEConfig({ ...SMALL, imageSizes: [30] })).toThrow('VQVAEConfig.imageSizes entries must be positive multiples of 4, got 30');
    expect(() => validateVQVAEConfig({ ...SMALL, resBlocks: -1 })).toThrow('VQVAEConfig.resBlocks must be a non-negative integer, got -1');
    expect(() => VQVAE.create({ ...SMALL, imageSizes: [] })).toThrow('VQVAEConfig.imageSizes must be a non-empty list');
  });
});

describe('PNG', () => {
  test('writePng → readPng is lossless; encodePng equals encode of the same pixels', async () => {
    const img = synthImage(9);
    const png = await writePng(img);
    expect(Array.from(png.slice(1, 4))).toEqual([0x50, 0x4e, 0x47]); // "PNG"
    const back = await readPng(png, { size: 32 });
    expect(Buffer.from(back.pixels).equals(Buffer.from(img.pixels))).toBe(true);
    expect(await model.encodePng(png)).toEqual(model.encode(img.pixels, 1, 32)[0]);
    expect(await model.encodePng(await writePng(synthImage(9, 16)), { size: 16 })).toEqual(model.encode(synthImage(9, 16).pixels, 1, 16)[0]);
  });

  test('other sizes are fitted on white, or rejected with resize: false; garbage is rejected', async () => {
    const big = await writePng(synthImage(2), { scale: 3 }); // 96×96
    expect((await readPng(big, { size: 32 })).pixels).toHaveLength(3072);
    expect((await model.encodePng(big)).codes).toHaveLength(64);
    await expect(model.encodePng(big, { resize: false })).rejects.toThrow('readPng: image is 96×96, expected 32×32');
    await expect(model.encodePng(new Uint8Array([1, 2, 3]))).rejects.toThrow(/^readPng: not a readable image/);
    await expect(model.encodePng(big, { size: 20 })).rejects.toThrow('encodePng: image size must be one of 32, 16');
  });

  test('decodeToPng and imageGridPng make PNGs of the right size', async () => {
    const codes = model.encodeImages([synthImage(1)])[0];
    const png = await model.decodeToPng(codes, { scale: 2 });
    const meta = await readPng(png, { size: 64, resize: false });
    expect(meta.height).toBe(64);
    const grid = await imageGridPng([synthImage(1), synthImage(2), synthImage(3, 16)], { columns: 2, padding: 1 });
    // 2 columns of 32 px + 3 gaps, 2 rows of 32 px + 3 gaps
    expect((await readPng(grid, { size: 67, resize: false })).pixels).toHaveLength(67 * 67 * 3);
  });

  test('patchRenderer() decodes code grids for liveDecode, pending codes (−1) in the pending colour', () => {
    const r = model.patchRenderer();
    expect(r.patchSize).toBe(4);
    const codes = model.encodeImages([synthImage(7)])[0].codes;
    expect(Buffer.from(r.render(codes, { height: 8, width: 8 })).equals(Buffer.from(model.decode([{ height: 8, width: 8, codes }])[0].pixels))).toBe(true);
    const partial = codes.map((c, i) => (i < 20 ? c : -1));
    const px = r.render(partial, { height: 8, width: 8 });
    expect(px).toHaveLength(32 * 32 * 3);
    expect(Array.from(px.slice((31 * 32 + 31) * 3, (31 * 32 + 31) * 3 + 3))).toEqual([236, 236, 236]);
    expect(() => r.render([1, 2], { height: 4, width: 4 })).toThrow('render: 2 codes for a 4×4 grid');
  });

  test('imageCoder() adapts the model to the widget server', async () => {
    const coder = model.imageCoder();
    const codes = await coder.encodePng(await writePng(synthImage(5)));
    const px = await coder.decode!(codes);
    expect([px.height, px.width, px.pixels.length]).toEqual([32, 32, 3072]);
  });
});

describe('checkpoints', () => {
  test('save/load round trip: float32 exact, float16 within half precision; config.json describes the grids', () => {
    const d32 = path.join(tmp, 'ck32');
    const d16 = path.join(tmp, 'ck16');
    model.save(d32, { dtype: 'float32', readme: '# test\n', metrics: { psnr: 1 } });
    model.save(d16);
    const cfg = JSON.parse(fs.readFileSync(path.join(d16, 'config.json'), 'utf8'));
    expect(cfg.format).toBe('switchboard-vqvae');
    expect(cfg.config).toEqual(SMALL);
    expect(cfg.gridSizes).toEqual({ 32: 8, 16: 4 });
    expect(cfg.dtype).toBe('float16');
    expect([...readSafetensors(path.join(d16, 'model.safetensors')).tensors.values()].every((t) => t.dtype === 'F16')).toBe(true);
    expect([...readSafetensors(path.join(d16, 'model.safetensors')).tensors.keys()]).toEqual([...vqvaeParamShapes(SMALL).keys()]);
    expect(fs.readFileSync(path.join(d32, 'README.md'), 'utf8')).toBe('# test\n');
    const a = VQVAE.load(d32);
    const b = VQVAE.load(d16);
    for (const [n, v] of model.params) {
      const ref = v.dataSync();
      expect([n, Buffer.from(a.params.get(n)!.dataSync().buffer).equals(Buffer.from(ref.buffer))]).toEqual([n, true]);
      const h = b.params.get(n)!.dataSync();
      let worst = 0;
      for (let i = 0; i < ref.length; i++) worst = Math.max(worst, Math.abs(h[i] - ref[i]) / Math.max(1e-4, Math.abs(ref[i])));
      expect([n, worst < 1e-3]).toEqual([n, true]);
    }
    const img = synthImage(4);
    expect(a.encode(img.pixels, 1, 32)).toEqual(model.encode(img.pixels, 1, 32));
    a.dispose();
    b.dispose();
  });

  test('loading rejects a missing directory, another format, a wrong shape', () => {
    expect(() => VQVAE.load(path.join(tmp, 'nope'))).toThrow(/nope: checkpoint directory not found/);
    const d = path.join(tmp, 'bad');
    model.save(d);
    const cfgFile = path.join(d, 'config.json');
    const cfg = JSON.parse(fs.readFileSync(cfgFile, 'utf8'));
    fs.writeFileSync(cfgFile, JSON.stringify({ ...cfg, format: 'mixtral' }));
    expect(() => VQVAE.load(d)).toThrow('"format" is "mixtral", expected "switchboard-vqvae" (is this a VQ-VAE checkpoint?)');
    fs.writeFileSync(cfgFile, JSON.stringify({ ...cfg, config: { ...cfg.config, codeDim: 5 } }));
    expect(() => VQVAE.load(d)).toThrow('tensor "encoder.conv_out.weight" has shape [8,4], the config needs [8,5]');
  });
});

describe('training', () => {
  const images = Array.from({ length: 24 }, (_, i) => synthImage(i));
  const base = (runDir?: string): VQVAETrainOptions => ({
    config: SMALL,
    train: images.slice(0, 20),
    val: images.slice(20),
    steps: 12,
    batchSize: 4,
    lowResBatchSize: 4,
    deadAfter: 3,
    evalEvery: 6,
    logEvery: 2,
    checkpointEvery: 4,
    runDir,
  });

  test('a short run lowers the loss, restarts dead codes, and resumes exactly where it stopped', async () => {
    const full = await trainVQVAE(base());
    expect(full.stopped).toBe('done');
    expect(full.curve.map((p) => p.step)).toEqual([2, 4, 6, 8, 10, 12]);
    expect(full.curve.at(-1)!.loss).toBeLessThan(full.curve[0].loss);
    expect(full.curve.reduce((s, p) => s + p.restarts, 0)).toBeGreaterThan(0);
    expect(full.evals.map((e) => e.step)).toEqual([6, 12]);
    expect(full.evals[0].results.map((r) => [r.size, r.grid])).toEqual([[32, 8], [16, 4]]);

    // Interrupt after step 4 (the abort lands before step 5 runs), then run again: same curve, same weights.
    const runDir = path.join(tmp, 'run');
    const abort = new AbortController();
    const first = await trainVQVAE({ ...base(runDir), signal: abort.signal, onEvent: (e) => e.kind === 'step' && e.step === 4 && abort.abort() });
    expect(first.stopped).toBe('aborted');
    first.model.dispose();
    const events: string[] = [];
    const second = await trainVQVAE({ ...base(runDir), onEvent: (e) => events.push(e.kind) });
    expect(second.resumedFrom).toBe(4);
    expect(events[0]).toBe('resume');
    expect(second.curve.map((p) => p.step)).toEqual([2, 4, 6, 8, 10, 12]);
    const strip = (c: typeof full.curve): unknown => c.map(({ msPerStep: _m, cpuMsPerStep: _c, ...rest }) => rest);
    expect(strip(second.curve)).toEqual(strip(full.curve));
    for (const [n, v] of full.model.params) expect([n, Buffer.from(second.model.params.get(n)!.dataSync().buffer).equals(Buffer.from(v.dataSync().buffer))]).toEqual([n, true]);
    expect(() => trainVQVAE({ ...base(runDir), steps: 13 })).rejects.toThrow('this run was started with steps = 12, now 13');
    full.model.dispose();
    second.model.dispose();
  });
});

test('public entry points leak no tensors', async () => {
  const img = synthImage(3);
  const png = await writePng(img);
  model.encode(img.pixels, 1, 32); // warm-up (backend caches)
  const before = tf.memory().numTensors;
  const codes = model.encode(img.pixels, 1, 32);
  model.decode(codes);
  model.reconstruct(img.pixels, 1, 32);
  await model.encodePng(png);
  await model.decodeToPng(codes[0]);
  tf.tidy(() => {
    model.forward(tf.zeros([1, 16, 16, 3]) as tf.Tensor4D);
  });
  expect(tf.memory().numTensors).toBe(before);
  const r = await trainVQVAE({ config: SMALL, train: [img, synthImage(4)], val: [img], steps: 2, batchSize: 2, lowResBatchSize: 2 });
  r.model.dispose();
  expect(tf.memory().numTensors).toBe(before);
});
