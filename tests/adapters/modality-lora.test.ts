import * as tf from '@tensorflow/tfjs';
import { useBackend, maxAbsDiff } from '../helpers/backend';
import { defaultMoEConfig, headDim } from '../../kernel-lib/model/config';
import { sequenceContext } from '../../kernel-lib/model/adapter-seam';
import { MODALITY_CODES, positionMeta, PositionVocab } from '../../kernel-lib/model/positions';
import { MoELoRAAdapter } from '../../kernel-lib/adapters/moe-lora';
import { SAMConvLoRAAdapter } from '../../kernel-lib/adapters/sam-conv-lora';
import { createModalityLoRA } from '../../kernel-lib/adapters/modality';
import { attachLoRA } from '../../kernel-lib/adapters';
import { MoEModel } from '../../kernel-lib/model/model';
import { mulberry32, normalArray } from '../../kernel-lib/util/random';

beforeAll(() => useBackend());

const cfg = defaultMoEConfig('tiny');
const grid = { height: 2, width: 2 };
const vocab: PositionVocab = {
  modalityOf: (id) => (id === 0 ? 'text' : id <= 2 ? 'special' : 'image'),
  image: { boi: 1, eoi: 2, codeStart: 3, numCodes: 4, grid },
};
const ids = [0, 0, 1, 3, 4, 5, 6, 2, 0];
const meta = positionMeta(ids, vocab);
const H = cfg.hiddenSize;
const qkvWidth = (cfg.numHeads + 2 * cfg.numKvHeads) * headDim(cfg);

test('MoE-LoRA: positions that output image codes get the image LoRA, every other position the text LoRA', () => {
  expect([...meta.outputModality]).toEqual([0, 0, 1, 1, 1, 1, 2, 0, 0]); // <boi> and the first three codes output image codes
  const ad = new MoELoRAAdapter(cfg, { kind: 'moe-lora', rank: 2, alpha: 4, layers: [0] });
  const rand = mulberry32(3);
  for (const v of ad.parameters().values()) v.assign(tf.tensor(normalArray(v.size, 0.5, rand), v.shape));
  const x = tf.tensor2d(normalArray(ids.length * H, 1, rand), [ids.length, H]);
  const d = ad.delta(0, 'attn.wqkv', x, sequenceContext(meta)).arraySync();
  expect([d.length, d[0].length]).toEqual([ids.length, qkvWidth]);
  const lowrank = (branch: 'text' | 'image'): number[][] =>
    (tf.concat((['q', 'k', 'v'] as const).map((t) => tf.matMul(tf.matMul(x, ad.parameters().get(ad.path(0, t, branch, 'A'))!), ad.parameters().get(ad.path(0, t, branch, 'B'))!)), 1).mul(ad.scaling) as tf.Tensor2D).arraySync();
  const img = lowrank('image');
  const txt = lowrank('text');
  for (let p = 0; p < ids.length; p++) {
    const want = meta.outputModality[p] === MODALITY_CODES.image ? img[p] : txt[p];
    expect(maxAbsDiff(d[p], want)).toBeLessThan(1e-5);
    expect(maxAbsDiff(img[p], txt[p])).toBeGreaterThan(1e-2); // the two branches differ, so the rule is tested
  }
  ad.dispose();
});

test('SAM-ConvLoRA: weight shapes (down, 2×2 and 4×4 rank-space convs, up) and delta shapes', () => {
  const r = 3;
  const ad = new SAMConvLoRAAdapter(cfg, { kind: 'sam-convlora', rank: r, alpha: 4, grid, layers: [1], targets: ['q', 'o'] });
  const shapes = Object.fromEntries([...ad.parameters()].map(([n, v]) => [n, v.shape]));
  const qIn = H;
  const qOut = cfg.numHeads * headDim(cfg);
  expect(shapes).toEqual({
    'adapters.sam-convlora.blocks.1.attn.q.text.A': [qIn, r], 'adapters.sam-convlora.blocks.1.attn.q.text.B': [r, qOut],
    'adapters.sam-convlora.blocks.1.attn.q.image.A': [qIn, r], 'adapters.sam-convlora.blocks.1.attn.q.image.conv2': [4 * r, r],
    'adapters.sam-convlora.blocks.1.attn.q.image.conv4': [16 * r, r], 'adapters.sam-convlora.blocks.1.attn.q.image.B': [r, qOut],
    'adapters.sam-convlora.blocks.1.attn.o.text.A': [qOut, r], 'adapters.sam-convlora.blocks.1.attn.o.text.B': [r, H],
    'adapters.sam-convlora.blocks.1.attn.o.image.A': [qOut, r], 'adapters.sam-convlora.blocks.1.attn.o.image.conv2': [4 * r, r],
    'adapters.sam-convlora.blocks.1.attn.o.image.conv4': [16 * r, r], 'adapters.sam-convlora.blocks.1.attn.o.image.B': [r, H],
  });
  const x = tf.zeros([ids.length, H]) as tf.Tensor2D;
  expect(ad.delta(1, 'attn.wqkv', x, sequenceContext(meta)).shape).toEqual([ids.length, qkvWidth]); // k, v: zero columns
  expect(ad.appliesTo(0, 'attn.wqkv')).toBe(false);
  ad.dispose();
});

test('dropout applies in training forwards only', () => {
  const ad = createModalityLoRA(cfg, { kind: 'moe-lora', rank: 2, alpha: 4, layers: [0], targets: ['o'], dropout: 0.5 });
  for (const v of ad.parameters().values()) v.assign(tf.onesLike(v));
  const x = tf.ones([ids.length, cfg.numHeads * headDim(cfg)]) as tf.Tensor2D;
  const ctx = sequenceContext(meta);
  const a = ad.delta(0, 'attn.wo', x, ctx).dataSync();
  expect(ad.delta(0, 'attn.wo', x, ctx).dataSync()).toEqual(a);
  const t = ad.delta(0, 'attn.wo', x, { ...ctx, training: true }).dataSync();
  expect(maxAbsDiff(t, a)).toBeGreaterThan(1e-3);
  ad.dispose();
});

test('bad options: exact messages', () => {
  const make = (o: object) => () => createModalityLoRA(cfg, { kind: 'convlora', rank: 2, alpha: 4, grid, ...o } as never);
  expect(make({ kind: 'conv' })).toThrow("kind must be 'moe-lora', 'convlora' or 'sam-convlora', got \"conv\"");
  expect(make({ grid: undefined })).toThrow("grid must be the image code grid {height, width} (positive integers) for kind 'convlora', got undefined");
  expect(make({ kind: 'sam-convlora', grid: { height: 0, width: 4 } })).toThrow("grid must be the image code grid {height, width} (positive integers) for kind 'sam-convlora', got {\"height\":0,\"width\":4}");
  expect(make({ rank: 0 })).toThrow('rank must be a positive integer, got 0');
  expect(make({ dropout: 1 })).toThrow('dropout must be a number in [0, 1), got 1');
  expect(make({ layers: [7] })).toThrow(`layers: 7 is not a layer of this ${cfg.numLayers}-layer model`);
  expect(make({ targets: ['x'] })).toThrow('targets: "x" is not one of q, k, v, o');
  const m = MoEModel.init(cfg, 1);
  expect(() => attachLoRA(m, { kind: 'dora', rank: 2, alpha: 4 } as never)).toThrow(
    'kind must be \'lora\' or \'plora\', got "dora"; the output-modality adapters are \'moe-lora\', \'convlora\' and \'sam-convlora\'',
  );
  m.dispose();
  expect(make({ name: 'a b' })).toThrow('name must be letters, digits, \'_\' or \'-\', got "a b"');
});
