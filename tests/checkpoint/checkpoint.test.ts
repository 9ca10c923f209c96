import { createHash } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import {
  SaveCheckpointOptions, float32ToFloat16Bits, loadCheckpoint, readSafetensors,
  roundToFloat16, saveCheckpoint, writeSafetensors,
} from '../../kernel-lib/checkpoint';
import { MoEConfig, defaultMoEConfig } from '../../kernel-lib/model/config';
import { HostTensor, initHostParams, mixtralTensorShapes } from '../../kernel-lib/model/params';
import { assemble, makeTempDir, rewriteHeader, sameBits, thrown } from './helpers';

// The real module object, so jest.spyOn reaches the calls checkpoint.ts makes.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const nodeFs: typeof import('fs') = require('fs');

const tiny = defaultMoEConfig('tiny');
const tokenizer = {
  version: '1.0',
  added_tokens: [{ id: 0, content: '<s>', special: true }],
  model: { type: 'BPE', vocab: { '<s>': 0, a: 1, b: 2 }, merges: ['a b'] },
};
const layout = { vocabSize: 512, textVocabSize: 256, imageCodes: 240, specials: 16 };

let root: string;
let ck: string;
beforeEach(() => {
  root = makeTempDir();
  ck = path.join(root, 'ck');
});
afterEach(() => {
  jest.restoreAllMocks();
  fs.rmSync(root, { recursive: true, force: true });
});

function save(dir: string, over: Partial<SaveCheckpointOptions> = {}): void {
  saveCheckpoint(dir, { config: tiny, params: initHostParams(tiny, 1), tokenizer, tokenizerLayout: layout, ...over });
}

/** Loading `dir` must fail with exactly `<dir>/<file>: <detail>` (or match a RegExp on the detail). */
function expectLoadError(file: string, detail: string | RegExp, tensor?: string): void {
  const err = thrown(() => loadCheckpoint(ck));
  const full = path.join(ck, file);
  expect(err.file).toBe(full);
  if (typeof detail === 'string') expect(err.message).toBe(`${full}: ${detail}`);
  else {
    expect(err.message.startsWith(`${full}: `)).toBe(true);
    expect(err.detail).toMatch(detail);
  }
  expect(err.tensor).toBe(tensor);
}

/** Every file of a directory with a digest of its bytes (cheap to compare, unlike a deep Buffer equality). */
function snapshot(dir: string): Map<string, string> {
  return new Map(fs.readdirSync(dir).sort().map((f) => [f, createHash('sha256').update(fs.readFileSync(path.join(dir, f))).digest('hex')]));
}

/** Rewrites model.safetensors (F32) after changing its tensors. */
function editTensors(edit: (t: Map<string, HostTensor>) => void): void {
  const file = path.join(ck, 'model.safetensors');
  const tensors: Map<string, HostTensor> = readSafetensors(file).tensors;
  edit(tensors);
  writeSafetensors(file, tensors, { metadata: { format: 'pt' } });
}

function editConfig(edit: (c: Record<string, any>) => void): void {
  const file = path.join(ck, 'config.json');
  const c = JSON.parse(fs.readFileSync(file, 'utf8'));
  edit(c);
  fs.writeFileSync(file, JSON.stringify(c));
}

/** model.safetensors with each tensor in a chosen dtype (F32 / F16 / BF16), assembled by hand. */
function writeMixedDtypes(dtypeOf: (name: string) => 'F32' | 'F16' | 'BF16'): void {
  const file = path.join(ck, 'model.safetensors');
  const { tensors } = readSafetensors(file);
  const header: Record<string, unknown> = {};
  const chunks: Uint8Array[] = [];
  let off = 0;
  for (const [name, t] of tensors) {
    const dtype = dtypeOf(name);
    let bytes: Uint8Array;
    if (dtype === 'F32') bytes = new Uint8Array(t.data.slice().buffer);
    else if (dtype === 'F16') bytes = new Uint8Array(Uint16Array.from(t.data, float32ToFloat16Bits).buffer);
    else bytes = new Uint8Array(Uint16Array.from(new Uint32Array(t.data.slice().buffer), (u) => u >>> 16).buffer); // bf16 by truncation
    header[name] = { dtype, shape: t.shape, data_offsets: [off, off + bytes.length] };
    chunks.push(bytes);
    off += bytes.length;
  }
  fs.writeFileSync(file, assemble(JSON.stringify(header), Buffer.concat(chunks)));
}

describe('save -> load round trip', () => {
  const configs: [string, MoEConfig][] = [
    ['tiny', tiny],
    ['tiny + shared expert 16', defaultMoEConfig('tiny', { sharedExpertSize: 16 })],
    ['tiny, tied embeddings, no top-k renormalisation', defaultMoEConfig('tiny', { tieWordEmbeddings: true, normTopKProb: false })],
  ];

  test.each(configs)('%s: float32 is bit-exact', (_, cfg) => {
    const params = initHostParams(cfg, 5);
    const extra = { training: { steps: 1200, loss: 2.5 }, note: 'run 3' };
    saveCheckpoint(ck, { config: cfg, params, tokenizer, tokenizerLayout: layout, extra });
    expect(fs.readdirSync(root)).toEqual(['ck']); // no temp directories left behind
    expect(fs.readdirSync(ck).sort()).toEqual(['config.json', 'model.safetensors', 'tokenizer.json']);

    const loaded = loadCheckpoint(ck);
    expect(loaded.config).toEqual(cfg);
    expect(loaded.tokenizer).toEqual(tokenizer);
    expect(loaded.tokenizerLayout).toEqual(layout);
    expect(loaded.extra).toEqual(extra);
    expect(loaded.dtype).toBe('float32');
    expect([...loaded.params.keys()]).toEqual([...params.keys()]);
    for (const [name, t] of params) {
      expect(loaded.params.get(name)!.shape).toEqual(t.shape);
      if (!sameBits(loaded.params.get(name)!.data, t.data)) throw new Error(`${name} differs after the round trip`);
    }
  });

  test.each(configs)('%s: float16 equals the float16-rounded params exactly', (_, cfg) => {
    const params = initHostParams(cfg, 6);
    saveCheckpoint(ck, { config: cfg, params, tokenizer, tokenizerLayout: layout, dtype: 'float16' });
    const loaded = loadCheckpoint(ck);
    expect(loaded.dtype).toBe('float16');
    for (const [name, t] of params) {
      if (!sameBits(loaded.params.get(name)!.data, roundToFloat16(t.data))) throw new Error(`${name} is not the float16 rounding`);
    }
  });

  test('the files are what Hugging Face expects', () => {
    const cfg = defaultMoEConfig('tiny', { sharedExpertSize: 16 });
    saveCheckpoint(ck, { config: cfg, params: initHostParams(cfg, 1), tokenizer, tokenizerLayout: layout, dtype: 'float16' });
    const { tensors, metadata } = readSafetensors(path.join(ck, 'model.safetensors'));
    expect(metadata).toEqual({ format: 'pt' });
    expect([...tensors.keys()]).toEqual([...mixtralTensorShapes(cfg).keys()]);
    for (const [name, shape] of mixtralTensorShapes(cfg)) {
      expect(tensors.get(name)!.shape).toEqual(shape);
      expect(tensors.get(name)!.dtype).toBe('F16');
    }
    const config = JSON.parse(fs.readFileSync(path.join(ck, 'config.json'), 'utf8'));
    expect(config).toMatchObject({ architectures: ['MixtralForCausalLM'], model_type: 'mixtral', torch_dtype: 'float16', num_local_experts: 4 });
    expect(config.switchboard).toEqual({ format_version: 1, norm_topk_prob: true, shared_expert_size: 16, tokenizer_layout: layout });
    expect(JSON.parse(fs.readFileSync(path.join(ck, 'tokenizer.json'), 'utf8'))).toEqual(tokenizer);
  });

  test('a bfloat16 checkpoint (as HF Mixtral ships) loads', () => {
    save(ck);
    writeMixedDtypes(() => 'BF16');
    editConfig((c) => { c.torch_dtype = 'bfloat16'; });
    const loaded = loadCheckpoint(ck);
    expect(loaded.dtype).toBe('bfloat16');
    const w = initHostParams(tiny, 1).get('blocks.0.input_norm')!;
    expect(loaded.params.get('blocks.0.input_norm')!.data).toEqual(w.data); // ones are exact in bf16
  });

  test('a stock Mixtral config (no switchboard block, no torch_dtype) loads', () => {
    save(ck);
    editConfig((c) => {
      delete c.switchboard;
      delete c.torch_dtype;
      c.transformers_version = '4.36.0';
      c.use_cache = true;
    });
    const loaded = loadCheckpoint(ck);
    expect(loaded.tokenizerLayout).toBeNull();
    expect(loaded.extra).toEqual({});
    expect(loaded.config).toEqual(tiny);
  });

  test('saving again replaces the checkpoint', () => {
    save(ck, { params: initHostParams(tiny, 1) });
    const second = initHostParams(tiny, 2);
    save(ck, { params: second, dtype: 'float32' });
    expect(fs.readdirSync(root)).toEqual(['ck']);
    expect(sameBits(loadCheckpoint(ck).params.get('embed')!.data, second.get('embed')!.data)).toBe(true);
  });

  test('creates missing parent directories', () => {
    const deep = path.join(root, 'a', 'b', 'ck');
    save(deep);
    expect(loadCheckpoint(deep).config).toEqual(tiny);
  });
});

describe('a failed save leaves the previous checkpoint intact', () => {
  function expectSaveError(over: Partial<SaveCheckpointOptions>, message: string, tensor?: string): void {
    save(ck);
    const before = snapshot(ck);
    const err = thrown(() => save(ck, over));
    expect(err.message).toBe(message);
    expect(err.tensor).toBe(tensor);
    expect(snapshot(ck)).toEqual(before);
    expect(fs.readdirSync(root)).toEqual(['ck']);
    expect(loadCheckpoint(ck).config).toEqual(tiny);
  }
  const withParam = (name: string, t: HostTensor | null): Map<string, HostTensor> => {
    const p = initHostParams(tiny, 3);
    if (t === null) p.delete(name);
    else p.set(name, t);
    return p;
  };
  const W = (): string => path.join(ck, 'model.safetensors');

  test('a params map missing a tensor', () => {
    expectSaveError({ params: withParam('blocks.1.moe.w2', null) }, `${W()}: missing parameter "blocks.1.moe.w2"`, 'blocks.1.moe.w2');
  });

  test('tensor data of the wrong length', () => {
    expectSaveError({ params: withParam('blocks.0.attn.wo', { shape: [32, 32], data: new Float32Array(1023) }) },
      `${W()}: parameter "blocks.0.attn.wo" has 1023 values, but shape [32,32] needs 1024`, 'blocks.0.attn.wo');
  });

  test('a tensor of the wrong shape, an unknown tensor', () => {
    expectSaveError({ params: withParam('embed', { shape: [32, 512], data: new Float32Array(512 * 32) }) },
      `${W()}: parameter "embed" has shape [32,512], expected [512,32] from the config`, 'embed');
    expectSaveError({ params: withParam('blocks.0.moe.bias', { shape: [4], data: new Float32Array(4) }) },
      `${W()}: unexpected parameter "blocks.0.moe.bias"`, 'blocks.0.moe.bias');
  });

  test('NaN in a tensor; a value float16 cannot hold', () => {
    const router = initHostParams(tiny, 3).get('blocks.1.moe.router')!;
    router.data[3] = NaN;
    expectSaveError({ params: withParam('blocks.1.moe.router', router) },
      `${W()}: parameter "blocks.1.moe.router" has 1 non-finite value (first: NaN at index 3)`, 'blocks.1.moe.router');
    const embed = initHostParams(tiny, 3).get('embed')!;
    embed.data[2] = 70000;
    expectSaveError({ params: withParam('embed', embed), dtype: 'float16' },
      `${W()}: parameter "embed" value 70000 at index 2 is beyond the float16 range (±65504) and would be saved as Infinity; save as float32`, 'embed');
  });

  test('a tokenizer or layout JSON cannot hold', () => {
    expectSaveError({ tokenizer: { model: { vocab: new Map() } } },
      `${path.join(ck, 'tokenizer.json')}: tokenizer.model.vocab is a Map, not a plain JSON object`);
    expectSaveError({ tokenizerLayout: { vocabSize: 600 } },
      `${path.join(ck, 'config.json')}: "vocab_size" is 512 but switchboard.tokenizer_layout.vocabSize is 600; the embedding and the tokenizer disagree`);
  });

  test('a disk error while writing the weights', () => {
    save(ck);
    const before = snapshot(ck);
    const real = nodeFs.writeFileSync;
    let calls = 0;
    jest.spyOn(nodeFs, 'writeFileSync').mockImplementation((...args: Parameters<typeof real>) => {
      if (typeof args[0] === 'number' && ++calls === 2) throw new Error('ENOSPC: no space left on device, write');
      return real(...args);
    });
    const err = thrown(() => save(ck, { params: initHostParams(tiny, 9) }));
    expect(err.message).toBe(`${W()}: cannot write (ENOSPC: no space left on device, write); the previous checkpoint is untouched`);
    jest.restoreAllMocks();
    expect(snapshot(ck)).toEqual(before);
    expect(fs.readdirSync(root)).toEqual(['ck']);
  });

  test('a failure renaming the new checkpoint into place puts the old one back', () => {
    save(ck);
    const before = snapshot(ck);
    const real = nodeFs.renameSync;
    let calls = 0;
    jest.spyOn(nodeFs, 'renameSync').mockImplementation((from, to) => {
      if (++calls === 2) throw new Error('EIO: i/o error, rename');
      real(from, to);
    });
    expect(() => save(ck, { params: initHostParams(tiny, 9) })).toThrow('EIO: i/o error, rename');
    jest.restoreAllMocks();
    expect(snapshot(ck)).toEqual(before);
    expect(fs.readdirSync(root)).toEqual(['ck']);
  });

  test('refuses to replace a directory holding other files, or a file', () => {
    fs.mkdirSync(ck);
    fs.writeFileSync(path.join(ck, 'notes.txt'), 'mine');
    fs.writeFileSync(path.join(ck, 'config.json'), '{}');
    expect(thrown(() => save(ck)).message)
      .toBe(`${ck}: exists and holds files that are not part of a checkpoint ("notes.txt"); refusing to replace it`);
    expect(fs.readFileSync(path.join(ck, 'notes.txt'), 'utf8')).toBe('mine');
    const file = path.join(root, 'file');
    fs.writeFileSync(file, 'x');
    expect(thrown(() => save(file)).message).toBe(`${file}: exists and is not a directory; refusing to replace it`);
    expect(fs.readdirSync(root).sort()).toEqual(['ck', 'file']);
  });
});

describe('load rejects every corruption with an exact message', () => {
  beforeEach(() => save(ck));
  const W = 'model.safetensors';
  const weights = (): string => path.join(ck, W);
  const headerLen = (): number => Number(fs.readFileSync(weights()).readBigUInt64LE(0));

  test('a missing directory or file', () => {
    fs.rmSync(ck, { recursive: true });
    expectLoadError('config.json', `file not found (there is no directory ${ck})`);
    save(ck);
    for (const f of ['model.safetensors', 'tokenizer.json', 'config.json']) {
      fs.rmSync(path.join(ck, f));
      expectLoadError(f, 'file not found');
      save(ck);
    }
  });

  test('tokenizer.json or config.json not JSON', () => {
    fs.writeFileSync(path.join(ck, 'tokenizer.json'), '{"model": ');
    expectLoadError('tokenizer.json', /^not valid JSON \(.+\)$/);
    fs.writeFileSync(path.join(ck, 'tokenizer.json'), '[1, 2]');
    expectLoadError('tokenizer.json', 'not a JSON object');
    fs.writeFileSync(path.join(ck, 'config.json'), 'hidden_size: 32');
    expectLoadError('config.json', /^not valid JSON \(.+\)$/);
  });

  test('model.safetensors truncated at several points', () => {
    const full = fs.readFileSync(weights());
    const n = headerLen();
    const cut = (len: number): void => fs.writeFileSync(weights(), full.subarray(0, len));
    cut(4);
    expectLoadError(W, 'file is 4 bytes, shorter than the 8-byte header length');
    cut(8 + 100);
    expectLoadError(W, `header length ${n} runs past the end of the file (108 bytes; the file may be truncated)`);
    cut(8 + n);
    expectLoadError(W, 'tensor "model.embed_tokens.weight": data_offsets [0,65536] run past the end of the byte buffer (0 bytes; the file may be truncated)',
      'model.embed_tokens.weight');
    cut(8 + n + 65536 + 10); // embed is [512, 32] F32 = 65536 bytes; then layer 0's input norm, 128 bytes
    expectLoadError(W, 'tensor "model.layers.0.input_layernorm.weight": data_offsets [65536,65664] run past the end of the byte buffer (65546 bytes; the file may be truncated)',
      'model.layers.0.input_layernorm.weight');
    cut(full.length - 1);
    expectLoadError(W, /^tensor "lm_head\.weight": data_offsets \[\d+,\d+\] run past the end of the byte buffer/, 'lm_head.weight');
  });

  test('header length flipped; header not JSON; trailing bytes', () => {
    const full = fs.readFileSync(weights());
    const flipped = Buffer.from(full);
    flipped[6] ^= 0x01;
    fs.writeFileSync(weights(), flipped);
    expectLoadError(W, `header length ${headerLen()} runs past the end of the file (${full.length} bytes; the file may be truncated)`);
    const garbled = Buffer.from(full);
    garbled[9] = 0x7b; // {"mo... -> {{mo...
    fs.writeFileSync(weights(), garbled);
    expectLoadError(W, /^header is not valid JSON \(.+\)$/);
    fs.writeFileSync(weights(), Buffer.concat([full, Buffer.from([0, 0, 0, 0])]));
    expectLoadError(W, `4 trailing bytes after the last tensor (the byte buffer is ${full.length - 8 - headerLen() + 4} bytes, the tensors cover ${full.length - 8 - headerLen()}; they must cover it exactly)`);
  });

  test('overlapping offsets', () => {
    rewriteHeader(weights(), (h) => {
      h['model.layers.0.input_layernorm.weight'].data_offsets = [65532, 65660];
    });
    expectLoadError(W, 'tensors "model.embed_tokens.weight" and "model.layers.0.input_layernorm.weight" overlap (data_offsets [0,65536] and [65532,65660])',
      'model.layers.0.input_layernorm.weight');
  });

  test('a missing tensor; an unexpected tensor', () => {
    editTensors((t) => t.delete('model.layers.1.block_sparse_moe.experts.3.w2.weight'));
    expectLoadError(W, 'missing tensor "model.layers.1.block_sparse_moe.experts.3.w2.weight"', 'model.layers.1.block_sparse_moe.experts.3.w2.weight');
    save(ck);
    editTensors((t) => t.set('model.layers.0.mlp.bias', { shape: [32], data: new Float32Array(32) }));
    expectLoadError(W, 'unexpected tensor "model.layers.0.mlp.bias"', 'model.layers.0.mlp.bias');
  });

  test('a tensor of the wrong shape', () => {
    editTensors((t) => { t.get('model.layers.0.self_attn.k_proj.weight')!.shape = [32, 16]; });
    expectLoadError(W, 'tensor "model.layers.0.self_attn.k_proj.weight" has shape [32,16], expected [16,32] from config.json',
      'model.layers.0.self_attn.k_proj.weight');
  });

  test('a tensor of the wrong dtype', () => {
    writeMixedDtypes(() => 'F16');
    expectLoadError(W, 'tensor "model.embed_tokens.weight" has dtype F16, expected F32 (config.json has torch_dtype "float32")', 'model.embed_tokens.weight');
    save(ck);
    editConfig((c) => { delete c.torch_dtype; });
    writeMixedDtypes((name) => (name === 'model.layers.1.self_attn.v_proj.weight' ? 'BF16' : 'F32'));
    expectLoadError(W, 'tensor "model.layers.1.self_attn.v_proj.weight" has dtype BF16, expected F32 (tensor "model.embed_tokens.weight" is F32; a checkpoint holds one dtype)',
      'model.layers.1.self_attn.v_proj.weight');
  });

  test('NaN or Inf inside a tensor', () => {
    editTensors((t) => { t.get('model.layers.0.block_sparse_moe.gate.weight')!.data[5] = NaN; });
    expectLoadError(W, 'tensor "model.layers.0.block_sparse_moe.gate.weight" has 1 non-finite value (first: NaN at index 5)',
      'model.layers.0.block_sparse_moe.gate.weight');
    save(ck);
    editTensors((t) => t.get('model.norm.weight')!.data.fill(-Infinity, 7, 9));
    expectLoadError(W, 'tensor "model.norm.weight" has 2 non-finite values (first: -Infinity at index 7)', 'model.norm.weight');
  });

  test('config.json: a missing key, a bad value, a config for other weights, a layout that disagrees', () => {
    editConfig((c) => { delete c.hidden_size; });
    expectLoadError('config.json', 'missing "hidden_size"');
    save(ck);
    editConfig((c) => { c.num_key_value_heads = 3; });
    expectLoadError('config.json', 'MoEConfig.numKvHeads (3) must divide numHeads (4) (key "num_key_value_heads")');
    save(ck);
    editConfig((c) => { c.num_local_experts = '4'; });
    expectLoadError('config.json', '"num_local_experts" must be a number, got "4"');
    save(ck);
    editConfig((c) => { c.num_local_experts = 3; });
    expectLoadError(W, 'unexpected tensor "model.layers.0.block_sparse_moe.experts.3.w1.weight" (and 5 more)',
      'model.layers.0.block_sparse_moe.experts.3.w1.weight');
    save(ck);
    editConfig((c) => { c.num_hidden_layers = 3; });
    expectLoadError(W, 'missing tensor "model.layers.2.input_layernorm.weight" (and 18 more)', 'model.layers.2.input_layernorm.weight');
    save(ck);
    editConfig((c) => { c.switchboard.tokenizer_layout.vocabSize = 500; });
    expectLoadError('config.json', '"vocab_size" is 512 but switchboard.tokenizer_layout.vocabSize is 500; the embedding and the tokenizer disagree');
  });

});

