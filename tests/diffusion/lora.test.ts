/**
 * The decoder's LoRA (diffusion/lora.ts) on a tiny random decoder: attached (B = 0), disabled or detached it
 * computes bit-for-bit what the decoder computes without it; trained it equals a decoder whose weights are
 * W + s·A·B merged on the host in float64; its gradient reaches every A and B and matches a finite difference;
 * its files read back and bad ones are refused by name; no tensor outlives it.
 */
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { useBackend } from '../helpers/backend';
import { maxAbsDiff, randomize, tinyConfig, tinyLdm } from './helpers';
import { tempDir } from '../data/helpers';
import type { LatentDiffusion } from '../../kernel-lib/diffusion/model';
import { DecoderLoRA, DECODER_LORA_TARGETS } from '../../kernel-lib/diffusion/lora';
import { clearAttentionCache } from '../../kernel-lib/diffusion/attention';
import { mulberry32, normalArray } from '../../kernel-lib/util/random';

let m: LatentDiffusion;
let root: string;
const per = 8 * 8 * 32;
beforeAll(async () => {
  await useBackend();
  m = tinyLdm({ seed: 3 });
  randomize(m, 0.15, 3);
  root = tempDir('decoder-lora');
});
afterAll(() => {
  m.dispose();
  fs.rmSync(root, { recursive: true, force: true });
});

const latents = (seed: number, B = 2) => normalArray(B * per, 1, mulberry32(seed));

/** ε̂ of fixed latents, timesteps and captions (host copy). */
function predict(ldm: LatentDiffusion): Float32Array {
  return tf.tidy(() => {
    const zt = tf.tensor4d(latents(7), [2, 8, 8, 32]);
    const cond = ldm.encodeCaption(['a cat to the left of a tree', 'a tiger face']);
    return ldm.denoiser.forward(zt, [150, 700], ldm.denoiser.prepareConditioning(cond)).dataSync() as Float32Array;
  });
}

const same = (a: Float32Array, b: Float32Array) => a.length === b.length && a.every((x, i) => Object.is(x, b[i]));

/** Sets every B of the adapter to N(0, std²) noise (a trained-looking adapter). */
function randomB(a: DecoderLoRA, std: number, seed: number): void {
  const rand = mulberry32(seed);
  tf.tidy(() => {
    for (const [n, v] of a.params) if (n.endsWith('.B')) v.assign(tf.tensor(normalArray(v.size, std, rand), v.shape));
  });
}

function settle(): void {
  clearAttentionCache();
  m.denoiser.dispose();
}

test('off is bit-identical: attached with B = 0, disabled, and detached; trained it is the float64-merged decoder', () => {
  settle();
  const n0 = tf.memory().numTensors;
  const base = predict(m);
  const a = DecoderLoRA.attach(m, { rank: 4, alpha: 8, seed: 1 });
  expect(a.params.size).toBe(2 * DECODER_LORA_TARGETS.length * m.config.denoiser.depth);
  const { dim: d } = m.config.denoiser;
  const dc = m.config.caption.dim;
  expect(a.params.get('lora.denoiser.blocks.0.attn.qkv.A')?.shape).toEqual([d, 4]);
  expect(a.params.get('lora.denoiser.blocks.1.cross.kv.A')?.shape).toEqual([dc, 4]);
  expect(a.params.get('lora.denoiser.blocks.1.cross.kv.B')?.shape).toEqual([4, 2 * d]);
  expect(a.numParams).toBe(m.config.denoiser.depth * 4 * (d + 3 * d + d + d + d + d + dc + 2 * d + d + d));
  expect(same(predict(m), base)).toBe(true); // B = 0: W + s·A·0 = W exactly
  randomB(a, 0.05, 2);
  const on = predict(m);
  expect(maxAbsDiff(on, base)).toBeGreaterThan(1e-3);
  a.enabled = false;
  expect(same(predict(m), base)).toBe(true);
  a.enabled = true;
  // Reference: W + (α/√r)·A·B merged on the host in float64 into a second decoder with the same weights.
  const ref = tinyLdm({ seed: 3 });
  const host = a.hostParams();
  tf.tidy(() => {
    for (const [n, v] of ref.params) {
      const w = m.params.get(n)!.dataSync() as Float32Array;
      const stem = n.replace(/\.weight$/, '');
      const A = host.get(`lora.${stem}.A`);
      const B = host.get(`lora.${stem}.B`);
      if (!A || !B) {
        v.assign(tf.tensor(w, v.shape));
        continue;
      }
      const [i, o] = v.shape as [number, number];
      const r = A.shape[1];
      const merged = new Float32Array(i * o);
      for (let x = 0; x < i; x++) for (let y = 0; y < o; y++) {
        let s = 0;
        for (let k = 0; k < r; k++) s += A.data[x * r + k] * B.data[k * o + y];
        merged[x * o + y] = w[x * o + y] + (8 / Math.sqrt(4)) * s;
      }
      v.assign(tf.tensor(merged, v.shape));
    }
  });
  expect(maxAbsDiff(predict(ref), on)).toBeLessThan(1e-4);
  ref.dispose();
  a.detach();
  expect(m.denoiser.weightOverlay).toBeNull();
  expect(same(predict(m), base)).toBe(true);
  settle();
  expect(tf.memory().numTensors).toBe(n0);
});

test('the gradient reaches every A and B, and matches a central finite difference', () => {
  const a = DecoderLoRA.attach(m, { rank: 2, alpha: 2, seed: 4, targets: ['cross.kv', 'attn.out'] });
  randomB(a, 0.1, 5);
  const z0 = latents(9);
  const loss = () => m.loss(z0, m.encodeCaption(['a red apple', 'a blue whale']), { seed: 3, t: [300, 600] });
  const vars = [...a.params.values()];
  const { value, grads } = tf.engine().gradients(loss, vars, undefined, true);
  value.dispose();
  const names = [...a.params.keys()];
  names.forEach((n, i) => expect([n, Math.max(...Array.from(grads[i].dataSync()).map(Math.abs)) > 0]).toEqual([n, true]));
  // finite difference on one entry of one B (float32: a step of 1e-2 on a smooth loss)
  const b = a.params.get('lora.denoiser.blocks.1.cross.kv.B')!;
  const g = grads[names.indexOf('lora.denoiser.blocks.1.cross.kv.B')].dataSync()[5];
  const at = (h: number) => {
    const d = b.dataSync().slice() as Float32Array;
    d[5] += h;
    b.assign(tf.tensor(d, b.shape));
    const l = tf.tidy(() => loss().dataSync()[0]);
    d[5] -= h;
    b.assign(tf.tensor(d, b.shape));
    return l;
  };
  const fd = (at(1e-2) - at(-1e-2)) / 2e-2;
  expect(Math.abs(fd - g)).toBeLessThan(2e-3 + 0.02 * Math.abs(g));
  tf.dispose(grads);
  a.detach();
});

test('files read back; a decoder of another shape, a missing tensor and bad options are refused by name', () => {
  const a = DecoderLoRA.attach(m, { rank: 3, alpha: 6, seed: 6 });
  randomB(a, 0.2, 7);
  const out = predict(m);
  const dir = path.join(root, 'lora');
  a.save(dir);
  a.detach();
  expect(() => DecoderLoRA.attach(m, { rank: 0, alpha: 8 })).toThrow('decoder LoRA: rank must be a positive integer, got 0');
  expect(() => DecoderLoRA.attach(m, { rank: 8, alpha: -1 })).toThrow('decoder LoRA: alpha must be a finite number > 0, got -1');
  expect(() => DecoderLoRA.attach(m, { rank: 8, alpha: 8, targets: ['mlp.fc1' as never] })).toThrow("decoder LoRA: unknown target 'mlp.fc1' (targets: attn.qkv, attn.out, cross.q, cross.kv, cross.out)");
  const back = DecoderLoRA.load(m, dir);
  expect(back.spec).toEqual({ rank: 3, alpha: 6, targets: [...DECODER_LORA_TARGETS], seed: 6 });
  expect(same(predict(m), out)).toBe(true);
  expect(() => DecoderLoRA.attach(m, { rank: 8, alpha: 8 })).toThrow('decoder LoRA: this decoder already has an adapter attached; detach it first');
  back.detach();
  const deeper = tinyLdm({ config: tinyConfig({ denoiser: { ...tinyConfig().denoiser, depth: 3 } }) });
  expect(() => DecoderLoRA.load(deeper, dir)).toThrow(`${path.join(dir, 'decoder-lora.json')}: the adapter is for a denoiser of {"dim":48,"depth":2,"captionDim":16}, this decoder has {"dim":48,"depth":3,"captionDim":16}`);
  deeper.dispose();
  const json = JSON.parse(fs.readFileSync(path.join(dir, 'decoder-lora.json'), 'utf8'));
  fs.writeFileSync(path.join(dir, 'decoder-lora.json'), JSON.stringify({ ...json, spec: { ...json.spec, rank: 4 } }));
  expect(() => DecoderLoRA.load(m, dir)).toThrow(`${path.join(dir, 'decoder-lora.safetensors')}: tensor "lora.denoiser.blocks.0.attn.qkv.A" has shape [48,3], the spec needs [48,4]`);
  expect(m.denoiser.weightOverlay).toBeNull();
});
