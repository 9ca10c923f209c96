/**
 * Parameter layout. The model keeps its weights in a `ParamStore` (a Map from name to tf.Variable).
 * Internal layouts are chosen for the wasm backend: every linear weight is stored [in, out] so the
 * forward is a plain `matMul(x, W)` (transposed matMuls are 5–30x slower on wasm), q/k/v are fused into
 * one matrix, and all experts' w1|w3 are stacked into one [H, 2·E·I] matrix and w2 into [E·I, H], so a
 * MoE layer is three 2-D matMuls. Checkpoints use Hugging Face Mixtral names and [out, in] layouts;
 * `toMixtralTensors` / `fromMixtralTensors` are the only place that knows the mapping.
 */
import * as tf from '@tensorflow/tfjs';
import { MoEConfig, headDim } from './config';
import { mulberry32, normalArray } from '../util/random';

export type ParamStore = Map<string, tf.Variable>;

/** A host-side tensor: row-major float32 data with its shape. */
export interface HostTensor {
  shape: number[];
  data: Float32Array;
}

/** Internal parameter names and shapes, in a stable order. */
export function internalParamShapes(cfg: MoEConfig): Map<string, number[]> {
  const H = cfg.hiddenSize;
  const hd = headDim(cfg);
  const qkv = (cfg.numHeads + 2 * cfg.numKvHeads) * hd;
  const EI = cfg.numExperts * cfg.intermediateSize;
  const m = new Map<string, number[]>();
  m.set('embed', [cfg.vocabSize, H]);
  for (let i = 0; i < cfg.numLayers; i++) {
    m.set(`blocks.${i}.input_norm`, [H]);
    m.set(`blocks.${i}.attn.wqkv`, [H, qkv]);
    m.set(`blocks.${i}.attn.wo`, [cfg.numHeads * hd, H]);
    m.set(`blocks.${i}.post_attn_norm`, [H]);
    m.set(`blocks.${i}.moe.router`, [H, cfg.numExperts]);
    m.set(`blocks.${i}.moe.w13`, [H, 2 * EI]);
    m.set(`blocks.${i}.moe.w2`, [EI, H]);
    if (cfg.sharedExpertSize > 0) {
      m.set(`blocks.${i}.moe.shared.w13`, [H, 2 * cfg.sharedExpertSize]);
      m.set(`blocks.${i}.moe.shared.w2`, [cfg.sharedExpertSize, H]);
    }
  }
  m.set('final_norm', [H]);
  if (!cfg.tieWordEmbeddings) m.set('lm_head', [H, cfg.vocabSize]);
  return m;
}

/** Mixtral checkpoint tensor names and their [out, in] shapes, in a stable order. */
export function mixtralTensorShapes(cfg: MoEConfig): Map<string, number[]> {
  const H = cfg.hiddenSize;
  const hd = headDim(cfg);
  const I = cfg.intermediateSize;
  const m = new Map<string, number[]>();
  m.set('model.embed_tokens.weight', [cfg.vocabSize, H]);
  for (let i = 0; i < cfg.numLayers; i++) {
    const p = `model.layers.${i}`;
    m.set(`${p}.input_layernorm.weight`, [H]);
    m.set(`${p}.self_attn.q_proj.weight`, [cfg.numHeads * hd, H]);
    m.set(`${p}.self_attn.k_proj.weight`, [cfg.numKvHeads * hd, H]);
    m.set(`${p}.self_attn.v_proj.weight`, [cfg.numKvHeads * hd, H]);
    m.set(`${p}.self_attn.o_proj.weight`, [H, cfg.numHeads * hd]);
    m.set(`${p}.post_attention_layernorm.weight`, [H]);
    m.set(`${p}.block_sparse_moe.gate.weight`, [cfg.numExperts, H]);
    for (let e = 0; e < cfg.numExperts; e++) {
      m.set(`${p}.block_sparse_moe.experts.${e}.w1.weight`, [I, H]);
      m.set(`${p}.block_sparse_moe.experts.${e}.w2.weight`, [H, I]);
      m.set(`${p}.block_sparse_moe.experts.${e}.w3.weight`, [I, H]);
    }
    if (cfg.sharedExpertSize > 0) {
      const S = cfg.sharedExpertSize;
      m.set(`${p}.block_sparse_moe.shared_expert.w1.weight`, [S, H]);
      m.set(`${p}.block_sparse_moe.shared_expert.w2.weight`, [H, S]);
      m.set(`${p}.block_sparse_moe.shared_expert.w3.weight`, [S, H]);
    }
  }
  m.set('model.norm.weight', [H]);
  if (!cfg.tieWordEmbeddings) m.set('lm_head.weight', [cfg.vocabSize, H]);
  return m;
}

/** Transpose a row-major [r, c] matrix into dst (c×r) at column offset `colOff` of a dst with `dstCols` columns. */
function transposeInto(src: Float32Array, r: number, c: number, dst: Float32Array, dstCols: number, colOff: number): void {
  // src[i, j] -> dst[j, colOff + i]
  for (let i = 0; i < r; i++) {
    const row = i * c;
    for (let j = 0; j < c; j++) dst[j * dstCols + colOff + i] = src[row + j];
  }
}

/** dst = transpose of columns [colOff, colOff + r) of src (src has `srcCols` columns and c rows) -> [r, c]. */
function transposeOut(src: Float32Array, c: number, srcCols: number, colOff: number, r: number): Float32Array {
  const dst = new Float32Array(r * c);
  for (let j = 0; j < c; j++) {
    const row = j * srcCols + colOff;
    for (let i = 0; i < r; i++) dst[i * c + j] = src[row + i];
  }
  return dst;
}

/** Converts internal host tensors (by internal name) to Mixtral-named [out, in] tensors. */
export function toMixtralTensors(cfg: MoEConfig, internal: Map<string, HostTensor>): Map<string, HostTensor> {
  const H = cfg.hiddenSize;
  const hd = headDim(cfg);
  const I = cfg.intermediateSize;
  const E = cfg.numExperts;
  const get = (n: string): HostTensor => {
    const t = internal.get(n);
    if (!t) throw new Error(`Parameter '${n}' is missing`);
    return t;
  };
  const out = new Map<string, HostTensor>();
  out.set('model.embed_tokens.weight', get('embed'));
  for (let i = 0; i < cfg.numLayers; i++) {
    const p = `model.layers.${i}`;
    out.set(`${p}.input_layernorm.weight`, get(`blocks.${i}.input_norm`));
    const qkv = get(`blocks.${i}.attn.wqkv`);
    const qkvCols = qkv.shape[1];
    const nq = cfg.numHeads * hd;
    const nk = cfg.numKvHeads * hd;
    out.set(`${p}.self_attn.q_proj.weight`, { shape: [nq, H], data: transposeOut(qkv.data, H, qkvCols, 0, nq) });
    out.set(`${p}.self_attn.k_proj.weight`, { shape: [nk, H], data: transposeOut(qkv.data, H, qkvCols, nq, nk) });
    out.set(`${p}.self_attn.v_proj.weight`, { shape: [nk, H], data: transposeOut(qkv.data, H, qkvCols, nq + nk, nk) });
    const wo = get(`blocks.${i}.attn.wo`);
    out.set(`${p}.self_attn.o_proj.weight`, { shape: [H, nq], data: transposeOut(wo.data, nq, H, 0, H) });
    out.set(`${p}.post_attention_layernorm.weight`, get(`blocks.${i}.post_attn_norm`));
    const router = get(`blocks.${i}.moe.router`);
    out.set(`${p}.block_sparse_moe.gate.weight`, { shape: [E, H], data: transposeOut(router.data, H, E, 0, E) });
    const w13 = get(`blocks.${i}.moe.w13`);
    const w2 = get(`blocks.${i}.moe.w2`);
    for (let e = 0; e < E; e++) {
      const q = `${p}.block_sparse_moe.experts.${e}`;
      out.set(`${q}.w1.weight`, { shape: [I, H], data: transposeOut(w13.data, H, 2 * E * I, e * I, I) });
      out.set(`${q}.w3.weight`, { shape: [I, H], data: transposeOut(w13.data, H, 2 * E * I, E * I + e * I, I) });
      // w2 internal rows [e·I, (e+1)·I) are expert e's [I, H]; Mixtral stores [H, I].
      const rows = w2.data.subarray(e * I * H, (e + 1) * I * H);
      out.set(`${q}.w2.weight`, { shape: [H, I], data: transposeOut(rows, I, H, 0, H) });
    }
    if (cfg.sharedExpertSize > 0) {
      const S = cfg.sharedExpertSize;
      const s13 = get(`blocks.${i}.moe.shared.w13`);
      const s2 = get(`blocks.${i}.moe.shared.w2`);
      const q = `${p}.block_sparse_moe.shared_expert`;
      out.set(`${q}.w1.weight`, { shape: [S, H], data: transposeOut(s13.data, H, 2 * S, 0, S) });
      out.set(`${q}.w3.weight`, { shape: [S, H], data: transposeOut(s13.data, H, 2 * S, S, S) });
      out.set(`${q}.w2.weight`, { shape: [H, S], data: transposeOut(s2.data, S, H, 0, H) });
    }
  }
  out.set('model.norm.weight', get('final_norm'));
  if (!cfg.tieWordEmbeddings) {
    const head = get('lm_head');
    out.set('lm_head.weight', { shape: [cfg.vocabSize, H], data: transposeOut(head.data, H, cfg.vocabSize, 0, cfg.vocabSize) });
  }
  return out;
}

/** Converts Mixtral-named tensors (already validated against `mixtralTensorShapes`) to internal layout. */
export function fromMixtralTensors(cfg: MoEConfig, hf: Map<string, HostTensor>): Map<string, HostTensor> {
  const H = cfg.hiddenSize;
  const hd = headDim(cfg);
  const I = cfg.intermediateSize;
  const E = cfg.numExperts;
  const get = (n: string): HostTensor => {
    const t = hf.get(n);
    if (!t) throw new Error(`Tensor '${n}' is missing`);
    return t;
  };
  const out = new Map<string, HostTensor>();
  out.set('embed', get('model.embed_tokens.weight'));
  for (let i = 0; i < cfg.numLayers; i++) {
    const p = `model.layers.${i}`;
    out.set(`blocks.${i}.input_norm`, get(`${p}.input_layernorm.weight`));
    const nq = cfg.numHeads * hd;
    const nk = cfg.numKvHeads * hd;
    const cols = nq + 2 * nk;
    const qkv = new Float32Array(H * cols);
    transposeInto(get(`${p}.self_attn.q_proj.weight`).data, nq, H, qkv, cols, 0);
    transposeInto(get(`${p}.self_attn.k_proj.weight`).data, nk, H, qkv, cols, nq);
    transposeInto(get(`${p}.self_attn.v_proj.weight`).data, nk, H, qkv, cols, nq + nk);
    out.set(`blocks.${i}.attn.wqkv`, { shape: [H, cols], data: qkv });
    const wo = new Float32Array(nq * H);
    transposeInto(get(`${p}.self_attn.o_proj.weight`).data, H, nq, wo, H, 0);
    out.set(`blocks.${i}.attn.wo`, { shape: [nq, H], data: wo });
    out.set(`blocks.${i}.post_attn_norm`, get(`${p}.post_attention_layernorm.weight`));
    const router = new Float32Array(H * E);
    transposeInto(get(`${p}.block_sparse_moe.gate.weight`).data, E, H, router, E, 0);
    out.set(`blocks.${i}.moe.router`, { shape: [H, E], data: router });
    const w13 = new Float32Array(H * 2 * E * I);
    const w2 = new Float32Array(E * I * H);
    for (let e = 0; e < E; e++) {
      const q = `${p}.block_sparse_moe.experts.${e}`;
      transposeInto(get(`${q}.w1.weight`).data, I, H, w13, 2 * E * I, e * I);
      transposeInto(get(`${q}.w3.weight`).data, I, H, w13, 2 * E * I, E * I + e * I);
      const rows = new Float32Array(I * H);
      transposeInto(get(`${q}.w2.weight`).data, H, I, rows, H, 0);
      w2.set(rows, e * I * H);
    }
    out.set(`blocks.${i}.moe.w13`, { shape: [H, 2 * E * I], data: w13 });
    out.set(`blocks.${i}.moe.w2`, { shape: [E * I, H], data: w2 });
    if (cfg.sharedExpertSize > 0) {
      const S = cfg.sharedExpertSize;
      const q = `${p}.block_sparse_moe.shared_expert`;
      const s13 = new Float32Array(H * 2 * S);
      transposeInto(get(`${q}.w1.weight`).data, S, H, s13, 2 * S, 0);
      transposeInto(get(`${q}.w3.weight`).data, S, H, s13, 2 * S, S);
      const s2 = new Float32Array(S * H);
      transposeInto(get(`${q}.w2.weight`).data, H, S, s2, H, 0);
      out.set(`blocks.${i}.moe.shared.w13`, { shape: [H, 2 * S], data: s13 });
      out.set(`blocks.${i}.moe.shared.w2`, { shape: [S, H], data: s2 });
    }
  }
  out.set('final_norm', get('model.norm.weight'));
  if (!cfg.tieWordEmbeddings) {
    const head = new Float32Array(H * cfg.vocabSize);
    transposeInto(get('lm_head.weight').data, cfg.vocabSize, H, head, cfg.vocabSize, 0);
    out.set('lm_head', { shape: [H, cfg.vocabSize], data: head });
  }
  return out;
}

/**
 * Fresh host-side weights for a config: norms at 1, everything else N(0, initStd), output projections
 * (attn.wo, moe.w2) scaled by 1/sqrt(2·numLayers) as in GPT-2. Deterministic per seed.
 */
export function initHostParams(cfg: MoEConfig, seed = 0): Map<string, HostTensor> {
  const rand = mulberry32(seed);
  const out = new Map<string, HostTensor>();
  for (const [name, shape] of internalParamShapes(cfg)) {
    const n = shape.reduce((a, b) => a * b, 1);
    if (name.endsWith('norm')) {
      out.set(name, { shape, data: new Float32Array(n).fill(1) });
      continue;
    }
    const scaled = name.endsWith('.wo') || name.endsWith('.w2');
    const std = scaled ? cfg.initStd / Math.sqrt(2 * cfg.numLayers) : cfg.initStd;
    out.set(name, { shape, data: normalArray(n, std, rand) });
  }
  return out;
}

/** Uploads host tensors as trainable tf.Variables (names kept). */
export function toParamStore(host: Map<string, HostTensor>): ParamStore {
  const store: ParamStore = new Map();
  for (const [name, t] of host) store.set(name, tf.tidy(() => tf.variable(tf.tensor(t.data, t.shape, 'float32'), true)));
  return store;
}

/** Downloads a ParamStore to host tensors. */
export function toHostParams(store: ParamStore): Map<string, HostTensor> {
  const out = new Map<string, HostTensor>();
  for (const [name, v] of store) out.set(name, { shape: v.shape.slice(), data: v.dataSync() as Float32Array });
  return out;
}

/**
 * Variables for the named shapes from host tensors (a model's constructor): `<who>: missing parameter '<name>'`
 * or `<who>: parameter '<name>' has shape [..], expected [..]` when one does not fit (then none is made).
 * `trainable` (default all) picks the variables a gradient may update.
 */
export function variablesFromHost(shapes: ReadonlyMap<string, readonly number[]>, host: ReadonlyMap<string, HostTensor>, who: string, trainable: (name: string) => boolean = () => true): Map<string, tf.Variable> {
  for (const [name, shape] of shapes) {
    const t = host.get(name);
    if (!t) throw new Error(`${who}: missing parameter '${name}'`);
    if (t.shape.join(',') !== shape.join(',')) throw new Error(`${who}: parameter '${name}' has shape [${t.shape}], expected [${shape}]`);
  }
  // all checked first, so a bad tensor leaves no variables behind; auto-named (tf.js variable names are
  // global), and tidy frees each initial tensor
  const out = new Map<string, tf.Variable>();
  for (const [name, shape] of shapes) out.set(name, tf.tidy(() => tf.variable(tf.tensor((host.get(name) as HostTensor).data, shape as number[]), trainable(name))));
  return out;
}

/** Host copies of variables (data sliced: later assigns to the variables do not change them). */
export function copyToHost(vars: Iterable<[string, tf.Variable]>): Map<string, HostTensor> {
  return new Map([...vars].map(([n, v]): [string, HostTensor] => [n, { shape: v.shape.slice(), data: (v.dataSync() as Float32Array).slice() }]));
}

/**
 * Throws unless `host` holds every variable by name with its shape: `<where>: <what> '<name>' is missing or has
 * another shape` (`where` names the file or the caller). Check every source before assigning any, so a bad
 * file leaves the variables as they were.
 */
export function checkHostFits(vars: Iterable<[string, tf.Variable]>, host: ReadonlyMap<string, HostTensor>, where: string, what = 'parameter'): void {
  for (const [name, v] of vars) {
    const h = host.get(name);
    if (!h || h.shape.join(',') !== v.shape.join(',')) throw new Error(`${where}: ${what} '${name}' is missing or has another shape`);
  }
}

/** Assigns every variable from `host` in one tidy (checkHostFits first: this one does not check). */
export function assignFromHost(vars: Iterable<[string, tf.Variable]>, host: ReadonlyMap<string, HostTensor>): void {
  tf.tidy(() => {
    for (const [name, v] of vars) {
      const h = host.get(name) as HostTensor;
      v.assign(tf.tensor(h.data, h.shape));
    }
  });
}

/** checkHostFits, then assignFromHost: all checked before any is assigned. */
export function assignHostChecked(vars: Iterable<[string, tf.Variable]>, host: ReadonlyMap<string, HostTensor>, where: string, what = 'parameter'): void {
  const list = [...vars];
  checkHostFits(list, host, where, what);
  assignFromHost(list, host);
}

/** Total number of scalar parameters. */
export function countParams(cfg: MoEConfig): number {
  let n = 0;
  for (const s of internalParamShapes(cfg).values()) n += s.reduce((a, b) => a * b, 1);
  return n;
}

/** Parameters outside the token embedding and the LM head (the size scaling laws count). */
export function countNonEmbeddingParams(cfg: MoEConfig): number {
  return countParams(cfg) - cfg.vocabSize * cfg.hiddenSize * (cfg.tieWordEmbeddings ? 1 : 2);
}
