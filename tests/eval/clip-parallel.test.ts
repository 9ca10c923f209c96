/**
 * CLIP training on data-parallel workers (eval/clip-grads.ts through train/parallel): the contrastive
 * loss couples the batch's rows, so each worker embeds its rows, the workers all-gather the embeddings
 * and each takes the gradient through its own rows (logit_scale on rank 0 only). Checked: loss and every
 * gradient equal the single-thread step for 1–3 workers (captions repeated, an uneven split, a worker
 * with no rows); trainClip on 2 workers follows one thread, repeats bit for bit, reports threads, and
 * its run directory resumes on 2 workers exactly and on 1 within float tolerance. Workers run compiled
 * JS: needs dist/ (jest's global setup builds it).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { useBackend, maxAbsDiff } from '../helpers/backend';
import type { RGBImage } from '../../kernel-lib/image/types';
import { ByteLevelBPE } from '../../kernel-lib/tokenizer';
import { ClipModel } from '../../kernel-lib/eval/clip';
import { defaultClipConfig, patchGrid } from '../../kernel-lib/eval/clip-config';
import type { ClipExample } from '../../kernel-lib/eval/clip-data';
import { imagePatches, textBags } from '../../kernel-lib/eval/clip-inputs';
import { captionTargets, clipLoss } from '../../kernel-lib/eval/clip-loss';
import { ClipGradInit, clipShares } from '../../kernel-lib/eval/clip-grads';
import { trainClip, ClipTrainOptions } from '../../kernel-lib/eval/train-clip';
import { DataParallelPool, compiledModule } from '../../kernel-lib/train/parallel/pool';

/** Discs of 6 colours at 4 places; each caption names the colour only, so captions repeat within a batch. */
function examples(): ClipExample[] {
  const colours: Array<[string, [number, number, number]]> = [['red', [220, 30, 30]], ['green', [30, 180, 40]], ['blue', [30, 60, 220]], ['yellow', [240, 220, 20]], ['black', [10, 10, 10]], ['pink', [250, 120, 200]]];
  return colours.flatMap(([name, rgb], c) =>
    [0, 1, 2, 3].map((k): ClipExample => {
      const pixels = new Uint8Array(32 * 32 * 3).fill(255);
      const [cx, cy] = [6 + 20 * (k % 2), 6 + 20 * (k >> 1)];
      for (let y = 0; y < 32; y++) for (let x = 0; x < 32; x++) if ((x - cx) ** 2 + (y - cy) ** 2 <= 16 + c) pixels.set(rgb, (y * 32 + x) * 3);
      const image: RGBImage = { height: 32, width: 32, pixels };
      return { image, captions: [`a ${name} disc`, `${name} circle`], source: 'emoji' };
    }),
  );
}

let tokenizer: ByteLevelBPE;
const tiny = (seed = 0): ClipModel =>
  ClipModel.create(tokenizer, defaultClipConfig({ visionWidths: [8, 16, 16], visionHidden: 32, textEmbed: 16, textHidden: 32, embedDim: 16, vocabSize: tokenizer.vocabSize }), seed);

beforeAll(async () => {
  await useBackend('wasm');
  tokenizer = ByteLevelBPE.train(examples().flatMap((e) => e.captions), { vocabSize: 300 });
});

describe('gradients', () => {
  const ex = examples();
  const B = 7;
  const items = [0, 5, 9, 1, 13, 22, 4].map((i) => ex[i]);
  const captions = items.map((e, i) => e.captions[i % 2 === 0 ? 0 : 1]).map((c, i) => (i === 6 ? items[0].captions[0] : c)); // rows 0 and 6 share a caption
  const shifts = Int8Array.from({ length: 2 * B }, (_, i) => (i % 3) - 1);
  let model: ClipModel;
  let ref: { loss: number; grads: Map<string, Float32Array> };

  beforeAll(() => {
    model = tiny(3);
    const c = model.config;
    tf.tidy(() => {
      const names = [...model.params.keys()];
      const { value, grads } = tf.engine().gradients(() => {
        const x = tf.tensor2d(imagePatches(items.map((e) => e.image), c, shifts), [B * patchGrid(c) ** 2, c.patchSize * c.patchSize * 3]);
        const t = tf.tensor2d(textBags(captions.map((s) => model.tokenize(s)), c.vocabSize), [2 * B, c.vocabSize]);
        return clipLoss(model.imageTower(x, B), model.textTower(t, B), model.params.get('logit_scale') as tf.Variable, c.maxLogitScale, tf.tensor2d(captionTargets(captions), [B, B]));
      }, names.map((n) => model.params.get(n) as tf.Variable));
      ref = { loss: value.dataSync()[0], grads: new Map(names.map((n, i) => [n, grads[i].dataSync() as Float32Array])) };
    });
  });
  afterAll(() => model.dispose());

  async function pooled(workers: number, rows = B) {
    const specs = [...model.params].map(([name, v]) => ({ name, shape: v.shape.slice() }));
    const pool = await DataParallelPool.start({ workers, module: compiledModule('kernel-lib/eval/clip-grads'), init: { config: model.config } satisfies ClipGradInit, specs });
    try {
      const shares = clipShares(items.slice(0, rows).map((e) => e.image), shifts.slice(0, 2 * rows), captions.slice(0, rows).map((s) => model.tokenize(s)), captions.slice(0, rows), workers);
      return await pool.grads((n) => (model.params.get(n) as tf.Variable).dataSync() as Float32Array, shares);
    } finally {
      await pool.close();
    }
  }

  test.each([1, 2, 3])('%i worker(s): the loss and every gradient (logit_scale too) equal the single-thread step', async (workers) => {
    const r = await pooled(workers);
    expect(Math.abs(r.loss - ref.loss)).toBeLessThan(1e-5 * ref.loss);
    for (const [n, g] of ref.grads) {
      const scale = Math.max(1e-3, ...Array.from(g, Math.abs));
      expect({ n, ok: maxAbsDiff(r.grads.get(n) as Float32Array, g) / scale < 2e-4 }).toEqual({ n, ok: true });
    }
    expect(Math.abs((ref.grads.get('logit_scale') as Float32Array)[0])).toBeGreaterThan(1e-4); // counted once, not once per worker
  }, 120_000);

  test('a worker without rows still joins the all-gather (2 rows, 3 workers)', async () => {
    const r = await pooled(3, 2);
    expect(Number.isFinite(r.loss)).toBe(true);
    expect(r.loss).toBeGreaterThan(0);
  }, 120_000);
});

describe('trainClip with workers', () => {
  const data = { emoji: examples(), scenes: [] };
  const base: ClipTrainOptions = { steps: 4, batchSize: 9, lr: 5e-3, seed: 2, maxShift: 1 };
  const host = (m: ClipModel) => new Map([...m.hostParams()].map(([n, h]) => [n, Float32Array.from(h.data)]));
  async function run(workers: number, o: Partial<ClipTrainOptions> = {}, seed = 4) {
    const m = tiny(seed);
    const threads: number[] = [];
    try {
      const r = await trainClip(m, data, {
        ...base,
        workers,
        ...o,
        onEvent: (e) => {
          if (e.kind === 'step') threads.push(e.threads);
          o.onEvent?.(e);
        },
      });
      return { r, threads, losses: r.history.map((h) => h.loss), params: host(m) };
    } finally {
      m.dispose();
    }
  }

  test('2 workers follow one thread (losses, weights), repeat bit for bit and report threads', async () => {
    const one = await run(1);
    const two = await run(2);
    const again = await run(2);
    expect(one.threads).toEqual([1, 1, 1, 1]);
    expect(two.threads).toEqual([2, 2, 2, 2]);
    expect(two.r.threads).toBe(2);
    two.losses.forEach((l, i) => expect(Math.abs(l - one.losses[i])).toBeLessThan(1e-5 * one.losses[i]));
    const init = tiny(4);
    const start = host(init);
    init.dispose();
    expect(maxAbsDiff(two.params.get('vision.patch.weight') as Float32Array, start.get('vision.patch.weight') as Float32Array)).toBeGreaterThan(1e-3); // it trains
    for (const [n, x] of two.params) expect({ n, ok: maxAbsDiff(x, one.params.get(n) as Float32Array) < 2e-5 }).toEqual({ n, ok: true });
    expect(again.losses).toEqual(two.losses);
    for (const [n, x] of again.params) expect({ n, same: Buffer.compare(Buffer.from(x.buffer), Buffer.from((two.params.get(n) as Float32Array).buffer)) }).toEqual({ n, same: 0 });
  }, 300_000);

  test('a 2-worker run directory resumes on 2 workers exactly and on 1 within float tolerance', async () => {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-clip-par-'));
    try {
      const full = await run(2);
      const dir = path.join(tmp, 'run');
      const ctl = new AbortController();
      const part = await run(2, { runDir: dir, checkpointEvery: 2, signal: ctl.signal, onEvent: (e) => void (e.kind === 'checkpoint' && e.step === 2 && ctl.abort()) });
      expect(part.r.stopped).toBe('aborted');
      const copy = path.join(tmp, 'copy');
      fs.cpSync(dir, copy, { recursive: true });
      const on2 = await run(2, { runDir: dir, checkpointEvery: 2 }, 99);
      expect(on2.r.resumedFrom).toBe(2);
      expect(on2.losses).toEqual(full.losses);
      for (const [n, x] of on2.params) expect({ n, same: Buffer.compare(Buffer.from(x.buffer), Buffer.from((full.params.get(n) as Float32Array).buffer)) }).toEqual({ n, same: 0 });
      const on1 = await run(1, { runDir: copy, checkpointEvery: 2 }, 99);
      on1.losses.forEach((l, i) => expect(Math.abs(l - full.losses[i])).toBeLessThan(1e-5 * full.losses[i]));
      for (const [n, x] of on1.params) expect({ n, ok: maxAbsDiff(x, full.params.get(n) as Float32Array) < 2e-5 }).toEqual({ n, ok: true });
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  }, 300_000);

  test('bad worker counts are named', async () => {
    const m = tiny();
    await expect(trainClip(m, data, { ...base, workers: 0 })).rejects.toThrow('trainClip: workers must be a positive integer, got 0');
    m.dispose();
  });
});
