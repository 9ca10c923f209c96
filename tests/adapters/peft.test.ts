import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import * as tf from '@tensorflow/tfjs';
import { useBackend, maxAbsDiff } from '../helpers/backend';
import { tinySession } from '../helpers/fixtures';
import { PYTHON, describeTorch } from '../helpers/torch';
import { Session } from '../../kernel-lib/session';
import { headDim } from '../../kernel-lib/model/config';
import { sequenceContext } from '../../kernel-lib/model/adapter-seam';
import { readSafetensors } from '../../kernel-lib/checkpoint';
import { attachLoRA, loadAdapter, loadPeftAdapter, saveAdapter, savePeftAdapter, LoRAHandle, PEFT_CONFIG, PEFT_WEIGHTS } from '../../kernel-lib/adapters';
import type { ModalityKind } from '../../kernel-lib/adapters/modality-spec';
import { mulberry32, normalArray } from '../../kernel-lib/util/random';
import { mixedSequence, randomizeZeros } from './moss-helpers';

let s: Session;
let tmp: string;
const grid = { height: 4, width: 4 };
const codes = Array.from({ length: 16 }, (_, i) => (i * 5 + 1) % 32);
beforeAll(async () => {
  await useBackend();
  s = await tinySession();
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-peft-'));
});
afterAll(() => {
  s.dispose();
  fs.rmSync(tmp, { recursive: true, force: true });
});

const logits = (ids: number[]): Float32Array => s.model.forward([ids], { positions: s.positions(ids) }).logits;

/** The PEFT tensors a kind must write, written out by hand: name → shape. */
function expectedTensors(kind: 'lora' | 'plora' | ModalityKind, r: number, layers: number[]): Record<string, number[]> {
  const c = s.config;
  const hd = headDim(c);
  const io: Record<string, [number, number]> = { q: [c.hiddenSize, c.numHeads * hd], k: [c.hiddenSize, c.numKvHeads * hd], v: [c.hiddenSize, c.numKvHeads * hd], o: [c.numHeads * hd, c.hiddenSize] };
  const out: Record<string, number[]> = {};
  for (const l of layers) {
    for (const [t, [dIn, dOut]] of Object.entries(io)) {
      const m = `base_model.model.model.layers.${l}.self_attn.${t}_proj`;
      out[`${m}.lora_A.weight`] = [r, dIn];
      out[`${m}.lora_B.weight`] = [dOut, r];
      if (kind === 'lora' || kind === 'plora') continue;
      out[`${m}.image_lora_A.weight`] = kind === 'convlora' ? [r, dIn, 2, 2] : [r, dIn];
      out[`${m}.image_lora_B.weight`] = [dOut, r];
      if (kind === 'sam-convlora') (out[`${m}.image_lora_conv2.weight`] = [r, r, 2, 2]), (out[`${m}.image_lora_conv4.weight`] = [r, r, 4, 4]);
    }
  }
  return out;
}

describe.each<'lora' | 'plora' | ModalityKind>(['lora', 'plora', 'moe-lora', 'convlora', 'sam-convlora'])('%s', (kind) => {
  test('PEFT round trip: names, shapes, config, and the reloaded adapter computes the same logits', () => {
    const { ids } = mixedSequence(s, codes);
    const h = attachLoRA(s, { kind, rank: 2, alpha: 5, grid, layers: [1], seed: 3 } as never);
    randomizeZeros(h, 4);
    const dir = path.join(tmp, kind);
    savePeftAdapter(h, dir);
    expect(fs.readdirSync(dir).sort()).toEqual([PEFT_CONFIG, PEFT_WEIGHTS]);
    const st = readSafetensors(path.join(dir, PEFT_WEIGHTS));
    expect(Object.fromEntries([...st.tensors].map(([n, t]) => [n, t.shape]))).toEqual(expectedTensors(kind, 2, [1]));
    // values: lora_A is Aᵀ ([r, in] of our [in, r]); lora_B is Bᵀ
    const textA = h.parameters().get(kind === 'lora' || kind === 'plora' ? `adapters.${kind}.blocks.1.attn.k.A` : `adapters.${kind}.blocks.1.attn.k.text.A`)!.arraySync() as number[][];
    const peftA = st.tensors.get('base_model.model.model.layers.1.self_attn.k_proj.lora_A.weight')!;
    expect(peftA.data[1 * textA.length + 7]).toBe(textA[7][1]);
    const cfg = JSON.parse(fs.readFileSync(path.join(dir, PEFT_CONFIG), 'utf8'));
    expect(cfg).toMatchObject({ peft_type: 'LORA', r: 2, lora_alpha: 5, use_rslora: true, target_modules: ['q_proj', 'k_proj', 'v_proj', 'o_proj'], layers_to_transform: [1], switchboard: { kind, name: kind } });
    expect(cfg.lora_dropout).toBe(kind === 'lora' || kind === 'plora' ? 0 : 0.05);
    expect(typeof cfg.switchboard.position_rule).toBe('string');
    const want = logits(ids);
    h.enabled = false;
    const back = loadPeftAdapter(s, dir, { name: 'back' });
    expect(back.spec).toEqual({ ...h.spec, name: 'back' });
    expect(logits(ids)).toEqual(want);
    back.detach();
    h.detach();
  });
});

test('the fused q|k|v projection: PEFT q_proj, k_proj, v_proj deltas are its column blocks, in order', () => {
  const h = attachLoRA(s, { kind: 'lora', rank: 3, alpha: 4, layers: [1], seed: 2 });
  randomizeZeros(h, 6);
  const dir = path.join(tmp, 'fused');
  savePeftAdapter(h, dir);
  const st = readSafetensors(path.join(dir, PEFT_WEIGHTS));
  const N = 5;
  const x = tf.tensor2d(normalArray(N * s.config.hiddenSize, 1, mulberry32(1)), [N, s.config.hiddenSize]);
  const { ids } = mixedSequence(s, codes);
  const fused = h.adapter.delta(1, 'attn.wqkv', x, sequenceContext(s.positions(ids.slice(0, N)))).arraySync();
  const parts = ['q', 'k', 'v'].map((t) => {
    const a = st.tensors.get(`base_model.model.model.layers.1.self_attn.${t}_proj.lora_A.weight`)!;
    const b = st.tensors.get(`base_model.model.model.layers.1.self_attn.${t}_proj.lora_B.weight`)!;
    // PyTorch's y = x·Aᵀ·Bᵀ·s with A [r, in], B [out, r]
    return tf.mul(tf.matMul(tf.matMul(x, tf.tensor2d(a.data, a.shape as [number, number]), false, true), tf.tensor2d(b.data, b.shape as [number, number]), false, true), h.scaling);
  });
  expect(maxAbsDiff((tf.concat(parts, 1).arraySync() as number[][]).flat(), fused.flat())).toBeLessThan(1e-5);
  h.detach();
});

test("notebook 01's shipped adapters still load, and saveAdapter now writes their PEFT export beside them", async () => {
  const sh = await Session.load(path.resolve(__dirname, '../../data/checkpoints/s1-lora'));
  try {
    const h = loadAdapter(sh, path.resolve(__dirname, '../../data/checkpoints/s1-lora-adapters'), 'lora');
    const out = path.join(tmp, 's1');
    const files = saveAdapter(h, out);
    expect(files.peft).toBe(path.join(out, 'lora'));
    expect(fs.readdirSync(out).sort()).toEqual(['lora', 'lora.json', 'lora.safetensors']);
    const ids = sh.encode('a tiger to the left of an apple').ids;
    const want = sh.model.forward([ids], { positions: sh.positions(ids) }).logits;
    h.enabled = false;
    const p = loadPeftAdapter(sh, files.peft, { name: 'peft' });
    expect(sh.model.forward([ids], { positions: sh.positions(ids) }).logits).toEqual(want);
    p.enabled = false;
    expect(maxAbsDiff(sh.model.forward([ids], { positions: sh.positions(ids) }).logits, want)).toBeGreaterThan(1e-3); // the adapter mattered
  } finally {
    sh.dispose();
  }
});

test('a PEFT file with a wrong shape is refused before anything stays attached', () => {
  const h = attachLoRA(s, { kind: 'convlora', rank: 2, alpha: 4, grid, layers: [0] });
  const dir = path.join(tmp, 'bad');
  savePeftAdapter(h, dir);
  h.detach();
  const cfg = JSON.parse(fs.readFileSync(path.join(dir, PEFT_CONFIG), 'utf8'));
  fs.writeFileSync(path.join(dir, PEFT_CONFIG), JSON.stringify({ ...cfg, r: 3 }));
  expect(() => loadPeftAdapter(s, dir)).toThrow(
    `${path.join(dir, PEFT_WEIGHTS)}: tensor "base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight" has shape [2,${s.config.hiddenSize}], expected [3,${s.config.hiddenSize}]`,
  );
  expect(s.model.adapters.names).toEqual([]);
});

describeTorch('PyTorch reads the ConvLoRA file', () => {
  test('Conv2d with padding (1 left, 1 top) on the code grid, then lora_B, equals our image-position deltas (1e-5)', () => {
    const h: LoRAHandle = attachLoRA(s, { kind: 'convlora', rank: 3, alpha: 4, grid, layers: [0], targets: ['o'] });
    randomizeZeros(h, 8);
    const dir = path.join(tmp, 'torch');
    savePeftAdapter(h, dir);
    const { ids } = mixedSequence(s, codes);
    const meta = s.positions(ids);
    const dIn = s.config.numHeads * headDim(s.config);
    const x = normalArray(ids.length * dIn, 1, mulberry32(11));
    const delta = h.adapter.delta(0, 'attn.wo', tf.tensor2d(x, [ids.length, dIn]), sequenceContext(meta)).arraySync();
    // the grid input: the row that outputs cell (i, j) sits on (i, j)
    const I = Array.from({ length: dIn }, () => Array.from({ length: 4 }, () => new Array<number>(4).fill(0)));
    const rowOf: number[] = [];
    let k = 0;
    meta.outputModality.forEach((o, p) => {
      if (o !== 1) return;
      for (let c = 0; c < dIn; c++) I[c][Math.floor(k / 4)][k % 4] = x[p * dIn + c];
      rowOf[k++] = p;
    });
    expect(k).toBe(16);
    const r = spawnSync(PYTHON, [path.join(__dirname, 'peft_conv_check.py'), dir, 'base_model.model.model.layers.0.self_attn.o_proj'], { input: JSON.stringify(I), encoding: 'utf8', maxBuffer: 1 << 26 });
    if (r.status !== 0) throw new Error(`peft_conv_check.py failed: ${r.stderr}`);
    const ref = JSON.parse(r.stdout) as number[][][];
    let worst = 0;
    for (let c = 0; c < 16; c++) worst = Math.max(worst, maxAbsDiff(ref[Math.floor(c / 4)][c % 4], delta[rowOf[c]]));
    expect(worst).toBeLessThan(1e-5);
    h.detach();
  });
});
