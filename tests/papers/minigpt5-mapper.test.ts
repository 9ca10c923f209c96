/**
 * The feature mapper (MiniGPT-5 Eq. 2; papers/minigpt5-…/mapper.ts): its output against a float64 loop
 * written from the formula (enc-dec and decoder-only), shapes and the decoder-only padding mask (which the
 * denoiser really ignores), the CFG zero-voken path ĥ_0 = mapper(0), fixed queries, parameter counts,
 * save/load round trip and bad files named, config errors, and no tensor leaks.
 */
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { minigpt5 } from '../../kernel-lib';
import type { HostTensor } from '../../kernel-lib/model/params';
import { writeSafetensors, readSafetensors } from '../../kernel-lib/checkpoint/safetensors';
import { clearAttentionCache } from '../../kernel-lib/diffusion/attention';
import { useBackend, maxAbsDiff } from '../helpers/backend';
import { tempDir } from '../data/helpers';
import { mulberry32, normalArray } from '../../kernel-lib/util/random';
import { tinyLdm, randomize } from '../diffusion/helpers';

beforeAll(() => useBackend());

type Rows = number[][];
const shape = { hiddenSize: 12, numVokens: 3, length: 5, dim: 8 };

/** A mapper whose every weight is random (biases, norms and queries too), so no term is trivially zero. */
function randomMapper(c: minigpt5.MapperConfig, seed = 3): minigpt5.FeatureMapper {
  const rand = mulberry32(seed);
  const host = new Map([...minigpt5.mapperParamShapes(c)].map(([n, s]): [string, HostTensor] => {
    const data = normalArray(s.reduce((a, b) => a * b, 1), 0.4, rand);
    if (/norm\d?\.weight$/.test(n)) data.forEach((x, i) => (data[i] = 1 + x));
    return [n, { shape: s, data }];
  }));
  return minigpt5.FeatureMapper.fromHost(c, host);
}

// ---- float64 reference, written from the formula ----
function ref(host: Map<string, HostTensor>, c: minigpt5.MapperConfig, h: Rows[]): { seq: Rows[]; mask: number[][] } {
  const P = (n: string) => host.get(n)!;
  const lin = (x: Rows, n: string): Rows => {
    const W = P(`${n}.weight`);
    const b = P(`${n}.bias`).data;
    const [i, o] = W.shape;
    return x.map((r) => Array.from({ length: o }, (_, k) => b[k] + r.reduce((s, v, j) => s + v * W.data[j * o + k], 0) + 0 * i));
  };
  const ln = (x: Rows, n: string): Rows =>
    x.map((r) => {
      const m = r.reduce((a, b) => a + b, 0) / r.length;
      const v = r.reduce((a, b) => a + (b - m) ** 2, 0) / r.length;
      return r.map((y, k) => ((y - m) / Math.sqrt(v + 1e-6)) * P(`${n}.weight`).data[k] + P(`${n}.bias`).data[k]);
    });
  const silu = (x: Rows): Rows => x.map((r) => r.map((v) => v / (1 + Math.exp(-v))));
  const add = (a: Rows, b: Rows): Rows => a.map((r, i) => r.map((v, k) => v + b[i][k]));
  const split = (x: Rows, parts: number): Rows[] => Array.from({ length: parts }, (_, p) => x.map((r) => r.slice((p * r.length) / parts, ((p + 1) * r.length) / parts)));
  const mha = (q: Rows, k: Rows, v: Rows): Rows => {
    const hd = c.dim / c.heads;
    return q.map((qr) => {
      const out: number[] = [];
      for (let hh = 0; hh < c.heads; hh++) {
        const sl = (r: number[]) => r.slice(hh * hd, (hh + 1) * hd);
        const s = k.map((kr) => sl(qr).reduce((a, x, j) => a + x * sl(kr)[j], 0) / Math.sqrt(hd));
        const mx = Math.max(...s);
        const e = s.map((x) => Math.exp(x - mx));
        const z = e.reduce((a, b) => a + b, 0);
        for (let j = 0; j < hd; j++) out.push(v.reduce((a, vr, t) => a + (e[t] / z) * sl(vr)[j], 0));
      }
      return out;
    });
  };
  const selfBlock = (x: Rows, b: string): Rows => {
    const [q, k, v] = split(lin(ln(x, `${b}.norm1`), `${b}.attn.qkv`), 3);
    x = add(x, lin(mha(q, k, v), `${b}.attn.out`));
    return add(x, lin(silu(lin(ln(x, `${b}.norm2`), `${b}.ff.fc1`)), `${b}.ff.fc2`));
  };
  const seq: Rows[] = [];
  const mask: number[][] = [];
  for (const hb of h) {
    let x = lin(silu(lin(hb, 'mapper.mlp.fc1')), 'mapper.mlp.fc2');
    if (c.kind === 'decoder-only') {
      for (let i = 0; i < c.encoderLayers + c.decoderLayers; i++) x = selfBlock(x, `mapper.blocks.${i}`);
      const y = ln(x, 'mapper.norm');
      seq.push([...y, ...Array.from({ length: c.length - c.numVokens }, () => new Array(c.dim).fill(0))]);
      mask.push(Array.from({ length: c.length }, (_, i) => (i < c.numVokens ? 1 : 0)));
      continue;
    }
    for (let i = 0; i < c.encoderLayers; i++) x = selfBlock(x, `mapper.encoder.layers.${i}`);
    const mem = ln(x, 'mapper.encoder.norm');
    const q0 = P('mapper.queries');
    let y: Rows = Array.from({ length: c.length }, (_, i) => Array.from(q0.data.slice(i * c.dim, (i + 1) * c.dim)));
    for (let i = 0; i < c.decoderLayers; i++) {
      const b = `mapper.decoder.layers.${i}`;
      const [q, k, v] = split(lin(ln(y, `${b}.norm1`), `${b}.attn.qkv`), 3);
      y = add(y, lin(mha(q, k, v), `${b}.attn.out`));
      const cq = lin(ln(y, `${b}.norm2`), `${b}.cross.q`);
      const [ck, cv] = split(lin(mem, `${b}.cross.kv`), 2);
      y = add(y, lin(mha(cq, ck, cv), `${b}.cross.out`));
      y = add(y, lin(silu(lin(ln(y, `${b}.norm3`), `${b}.ff.fc1`)), `${b}.ff.fc2`));
    }
    seq.push(ln(y, 'mapper.decoder.norm'));
    mask.push(new Array(c.length).fill(1));
  }
  return { seq, mask };
}

const flat = (x: Rows[]) => x.flat(2);

test.each([
  ['enc-dec, 2 + 1 layers', { kind: 'enc-dec', encoderLayers: 2, decoderLayers: 1 }],
  ['enc-dec, no encoder layers', { kind: 'enc-dec', encoderLayers: 0, decoderLayers: 2 }],
  ['decoder-only, 1 + 1 blocks (padded to L and masked)', { kind: 'decoder-only', encoderLayers: 1, decoderLayers: 1 }],
] as const)('%s: ĥ against a float64 loop (≤ 1e-4), shapes and mask', (_name, o) => {
  clearAttentionCache();
  const n0 = tf.memory().numTensors;
  const c = minigpt5.defaultMapperConfig(shape, { ...o, heads: 2, mlpRatio: 2 });
  const m = randomMapper(c);
  const B = 2;
  const h = normalArray(B * 3 * 12, 1, mulberry32(9));
  const out = m.map(h, B);
  expect(out.seq.shape).toEqual([B, 5, 8]);
  expect(out.mask.shape).toEqual([B, 5]);
  const rows: Rows[] = [0, 1].map((b) => [0, 1, 2].map((t) => Array.from(h.slice((b * 3 + t) * 12, (b * 3 + t + 1) * 12))));
  const want = ref(m.hostParams(), c, rows);
  expect(maxAbsDiff(out.seq.dataSync(), flat(want.seq))).toBeLessThan(1e-4);
  expect(Array.from(out.mask.dataSync())).toEqual(want.mask.flat());
  tf.dispose([out.seq, out.mask]);
  m.dispose();
  clearAttentionCache();
  expect(tf.memory().numTensors).toBe(n0);
});

test('the decoder-only padding is masked: the denoiser output does not change when the padded positions do', () => {
  const ldm = tinyLdm({ seed: 2 });
  randomize(ldm, 0.3, 2);
  const c = minigpt5.defaultMapperConfig({ hiddenSize: 12, numVokens: 3, length: ldm.config.caption.maxTokens, dim: ldm.config.caption.dim }, { kind: 'decoder-only', heads: 2 });
  const m = randomMapper(c, 4);
  const x = normalArray(ldm.config.latentSize ** 2 * ldm.config.latentChannels, 1, mulberry32(1));
  const h = normalArray(3 * 12, 1, mulberry32(2));
  const lossOf = (garbage: boolean) =>
    tf.tidy(() => {
      const cond = m.forward(tf.tensor3d(h, [1, 3, 12]));
      const seq = garbage ? tf.add(cond.seq, tf.mul(tf.sub(1, tf.reshape(cond.mask, [1, -1, 1])), 7)) : cond.seq;
      return ldm.loss(x, { seq: seq as tf.Tensor3D, mask: cond.mask }, { seed: 3, t: [500] }).dataSync()[0];
    });
  expect(lossOf(true)).toBe(lossOf(false));
  m.dispose();
  ldm.dispose();
});

test('ĥ_0 = mapper(0): the CFG negative is the mapper of zero voken states, the same for every row', () => {
  const c = minigpt5.defaultMapperConfig(shape, { heads: 2 });
  const m = randomMapper(c, 5);
  const z = m.zeroConditioning(3);
  const direct = m.map(new Float32Array(3 * 12));
  const byRows = z.seq.arraySync() as number[][][];
  // equal up to float32 rounding (the batched attention sums in another order per row)
  expect(maxAbsDiff(byRows[1].flat(), byRows[0].flat())).toBeLessThan(1e-5);
  expect(maxAbsDiff(byRows[2].flat(), byRows[0].flat())).toBeLessThan(1e-5);
  expect(maxAbsDiff(direct.seq.dataSync(), byRows[0].flat())).toBeLessThan(1e-5);
  // it is not the zero sequence (the MLP's biases and the queries make it something) nor a state's image
  expect(Math.max(...Array.from(direct.seq.dataSync()).map(Math.abs))).toBeGreaterThan(0.1);
  const other = m.map(Float32Array.from({ length: 36 }, (_, i) => Math.sin(i)));
  expect(maxAbsDiff(other.seq.dataSync(), direct.seq.dataSync())).toBeGreaterThan(1e-3);
  tf.dispose([z.seq, z.mask, direct.seq, direct.mask, other.seq, other.mask]);
  m.dispose();
});

test('parameter counts: the formula matches the made parameters; Table 7’s variants; config errors name the field', () => {
  for (const o of [{}, { kind: 'decoder-only' as const }, { encoderLayers: 4, decoderLayers: 4 }]) {
    const c = minigpt5.defaultMapperConfig(shape, o);
    const m = minigpt5.FeatureMapper.create(c, 1);
    const made = [...m.params.values()].reduce((a, v) => a + v.size, 0);
    expect(m.numParams.total).toBe(made);
    expect(m.numParams.queries).toBe(c.kind === 'enc-dec' ? 5 * 8 : 0);
    m.dispose();
  }
  // the shipped sizes: mm-moe-small's H = 128, 8 vokens, the small decoder's 24 × 128
  const big = minigpt5.countMapperParams(minigpt5.defaultMapperConfig({ hiddenSize: 128, numVokens: 8, length: 24, dim: 128 }));
  expect(big.mlp).toBe(2 * (128 * 128 + 128));
  expect(big.queries).toBe(24 * 128);
  const bad: [Partial<minigpt5.MapperConfig>, string][] = [
    [{ dim: 10, heads: 4 }, 'MapperConfig.dim (10) must be divisible by heads (4)'],
    [{ kind: 'mlp' as never }, 'MapperConfig.kind must be one of enc-dec, decoder-only, got "mlp"'],
    [{ decoderLayers: 0 }, 'MapperConfig.decoderLayers must be at least 1 for an enc-dec mapper (the queries are read out by the decoder)'],
    [{ kind: 'decoder-only', numVokens: 9, length: 5 }, 'MapperConfig: a decoder-only mapper outputs one position per voken, so numVokens (9) must be at most length (5)'],
    [{ encoderLayers: -1 }, 'MapperConfig.encoderLayers must be a non-negative integer, got -1'],
    [{ length: 0 }, 'MapperConfig.length must be a positive integer, got 0'],
  ];
  for (const [o, msg] of bad) expect(() => minigpt5.validateMapperConfig(minigpt5.defaultMapperConfig(shape, o))).toThrow(msg);
  const m = minigpt5.FeatureMapper.create(minigpt5.defaultMapperConfig(shape), 0);
  expect(() => m.map(new Float32Array(5))).toThrow('mapper.map: expected 1 × 3 × 12 voken state values, got 5');
  expect(() => tf.tidy(() => void m.forward(tf.zeros([1, 2, 12]) as tf.Tensor3D))).toThrow('mapper: voken states must have shape [B, 3, 12], got [1,2,12]');
  m.dispose();
});

test('save/load: a bit-exact round trip through the atomic directory writer; bad files are named', () => {
  const dir = tempDir('minigpt5-mapper');
  try {
    const m = randomMapper(minigpt5.defaultMapperConfig(shape, { learnableQueries: false }), 8);
    m.save(path.join(dir, 'mapper'));
    expect(fs.readdirSync(dir)).toEqual(['mapper']); // no temporary leftovers
    const back = minigpt5.FeatureMapper.load(path.join(dir, 'mapper'));
    expect(back.config).toEqual(m.config);
    for (const [n, v] of m.params) expect(back.params.get(n)!.dataSync()).toEqual(v.dataSync());
    back.dispose();
    // a missing tensor is named with its file
    const w = path.join(dir, 'mapper', 'mapper.safetensors');
    const t = readSafetensors(w).tensors;
    t.delete('mapper.queries');
    writeSafetensors(w, t);
    expect(() => minigpt5.FeatureMapper.load(path.join(dir, 'mapper'))).toThrow(`${w}: missing tensor "mapper.queries"`);
    fs.writeFileSync(path.join(dir, 'mapper', 'config.json'), JSON.stringify({ format: 'switchboard-ldm' }));
    expect(() => minigpt5.FeatureMapper.load(path.join(dir, 'mapper'))).toThrow('"format" is "switchboard-ldm", expected "switchboard-voken-mapper" (is this a feature mapper?)');
    expect(() => minigpt5.FeatureMapper.load(path.join(dir, 'nothing'))).toThrow('mapper directory not found');
    m.dispose();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
