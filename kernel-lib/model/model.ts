/**
 * The decoder-only MoE transformer (Mixtral family): token embedding → numLayers × [RMSNorm →
 * causal GQA attention with RoPE → residual → RMSNorm → sparse MoE → residual] → RMSNorm → LM head.
 *
 * Two paths share every weight and must agree to 1e-4: `forward` over whole sequences (training,
 * analysis, prefill) and `step` for one token through a KvCache (decode). Both report routing for
 * every layer. Hook points (see hooks.ts) are named from the module path.
 */
import * as tf from '@tensorflow/tfjs';
import { MoEConfig, headDim, validateMoEConfig } from './config';
import { ParamStore, HostTensor, initHostParams, toParamStore, toHostParams, internalParamShapes } from './params';
import { linear, embeddingLookup } from './linear';
import { rmsNorm, rmsNormUnit, RopeTables } from './layers';
import { DecodeWeights } from './decode-weights';
import { attentionForward, attentionStep, AttnShape, CausalMasks, LayerKv } from './attention';
import { moeForward, LayerRouting, MoEOptions, MoEWeights } from './moe';
import { HookContext, HookFn } from './hooks';
import { KvCache } from './kv-cache';
import { AdapterSet, ProjectionTarget } from './adapter-seam';

export type CaptureLevel = 'none' | 'routing' | 'full';

export interface ForwardOptions {
  /** 'routing' (default) returns experts/weights/probs per layer; 'full' adds router logits. */
  capture?: CaptureLevel;
  hooks?: ReadonlyMap<string, HookFn>;
  /** Names (or a predicate) of activations to copy to the host. */
  cacheNames?: (name: string) => boolean;
  /** Per-token modality codes [B·T] (0 text, 1 image, 2 special) for modality-aware adapters. */
  modalities?: Uint8Array;
}

export interface ForwardResult {
  /** [B, T, V] row-major. */
  logits: Float32Array;
  shape: [number, number, number];
  routing: LayerRouting[];
  /** Mean load-balancing loss over layers. */
  aux: number;
}

export interface StepResult {
  /** Next-token logits [V]. */
  logits: Float32Array;
  /** One entry per layer for the token just consumed (k experts). Empty when capture is 'none'. */
  routing: LayerRouting[];
}

export interface TensorForwardOptions {
  hooks?: HookContext;
  capture?: CaptureLevel;
  /** Return this sequence's keys/values for a KV cache (batch 1). */
  wantKv?: boolean;
  modalities?: Uint8Array;
  /** Gradients will be taken (custom-gradient linears, load-balancing loss). */
  training?: boolean;
}

interface TensorForward {
  logits: tf.Tensor2D; // [B·T, V]
  /** Mean load-balancing loss over layers (0 when not training). */
  aux: tf.Scalar;
  routing: LayerRouting[];
  kv: LayerKv[];
}

export class MoEModel {
  readonly config: MoEConfig;
  readonly params: ParamStore;
  readonly adapters = new AdapterSet();
  private rope: RopeTables;
  private readonly masks = new CausalMasks();
  private prepared: DecodeWeights | null = null;
  private readonly attnShape: AttnShape;

  constructor(config: MoEConfig, params: ParamStore) {
    this.config = validateMoEConfig({ ...config });
    const expected = internalParamShapes(this.config);
    for (const [name, shape] of expected) {
      const p = params.get(name);
      if (!p) throw new Error(`MoEModel: parameter '${name}' is missing`);
      if (p.shape.length !== shape.length || p.shape.some((d, i) => d !== shape[i])) {
        throw new Error(`MoEModel: parameter '${name}' has shape [${p.shape}], expected [${shape}]`);
      }
    }
    for (const name of params.keys()) {
      if (!expected.has(name)) throw new Error(`MoEModel: unexpected parameter '${name}'`);
    }
    this.params = params;
    this.attnShape = { numHeads: config.numHeads, numKvHeads: config.numKvHeads, headDim: headDim(config) };
    this.rope = new RopeTables(config.maxPositions, headDim(config), config.ropeTheta);
  }

  /** A freshly initialised model (deterministic per seed). */
  static init(config: MoEConfig, seed = 0): MoEModel {
    return new MoEModel(config, toParamStore(initHostParams(validateMoEConfig(config), seed)));
  }

  static fromHost(config: MoEConfig, host: Map<string, HostTensor>): MoEModel {
    return new MoEModel(config, toParamStore(host));
  }

  toHost(): Map<string, HostTensor> {
    return toHostParams(this.params);
  }

  /** Parameter by internal name. */
  p(name: string): tf.Variable {
    const v = this.params.get(name);
    if (!v) throw new Error(`MoEModel: no parameter '${name}'`);
    return v;
  }

  /** Every hook point name a forward pass visits, in order. */
  hookNames(): string[] {
    const ctx = new HookContext(new Map(), null, true);
    tf.tidy(() => {
      this.forwardTensors(tf.tensor2d([[0]], [1, 1], 'int32'), { hooks: ctx, capture: 'none', modalities: Uint8Array.of(0) });
    });
    return ctx.seen;
  }

  /** Base projection plus any adapters registered for (layer, target). */
  private project(layer: number, target: ProjectionTarget, x: tf.Tensor2D, w: tf.Tensor2D, training: boolean, modalities?: Uint8Array): tf.Tensor2D {
    const y: tf.Tensor2D = training ? linear(x, w) : tf.matMul(x, w);
    return this.adapters.isEmpty ? y : this.adapters.apply(layer, target, x, y, modalities);
  }

  private moeWeights(i: number): MoEWeights {
    const c = this.config;
    return {
      router: this.p(`blocks.${i}.moe.router`) as tf.Tensor as tf.Tensor2D,
      w13: this.p(`blocks.${i}.moe.w13`) as tf.Tensor as tf.Tensor2D,
      w2: this.p(`blocks.${i}.moe.w2`) as tf.Tensor as tf.Tensor2D,
      sharedW13: c.sharedExpertSize > 0 ? (this.p(`blocks.${i}.moe.shared.w13`) as tf.Tensor as tf.Tensor2D) : undefined,
      sharedW2: c.sharedExpertSize > 0 ? (this.p(`blocks.${i}.moe.shared.w2`) as tf.Tensor as tf.Tensor2D) : undefined,
    };
  }

  /** Decode weights, rebuilt when a parameter changed since they were prepared. */
  private decodeWeights(): DecodeWeights {
    if (!this.prepared || !this.prepared.fresh) {
      this.prepared?.dispose();
      this.prepared = new DecodeWeights(this.config, (n) => this.p(n));
    }
    return this.prepared;
  }

  private moeOptions(layer: number, capture: CaptureLevel, hooks: HookContext, training: boolean): MoEOptions {
    const c = this.config;
    return {
      layer,
      numExperts: c.numExperts,
      topK: c.topK,
      intermediateSize: c.intermediateSize,
      normTopKProb: c.normTopKProb,
      captureLogits: capture === 'full',
      hooks,
      training,
    };
  }

  private head(h: tf.Tensor2D, training: boolean): tf.Tensor2D {
    const c = this.config;
    const x = rmsNorm(h, this.p('final_norm') as tf.Tensor as tf.Tensor1D, c.rmsNormEps);
    const w = (c.tieWordEmbeddings ? tf.transpose(this.p('embed')) : this.p('lm_head')) as tf.Tensor2D;
    return training ? linear(x, w) : tf.matMul(x, w); // [N, V]
  }

  /**
   * The whole-sequence forward on tensors; call inside tf.tidy (or a gradient scope).
   * ids [B, T] int32 → logits [B·T, V].
   */
  forwardTensors(ids: tf.Tensor2D, o: TensorForwardOptions = {}): TensorForward {
    const c = this.config;
    const hooks = o.hooks ?? HookContext.none;
    const capture = o.capture ?? 'routing';
    const training = o.training ?? false;
    const modalities = o.modalities;
    const [B, T] = ids.shape;
    if (T > c.maxPositions) throw new Error(`Sequence length ${T} exceeds maxPositions ${c.maxPositions}`);
    let h = hooks.point('embed', embeddingLookup(tf.reshape(ids, [B * T]) as tf.Tensor1D, this.p('embed') as tf.Tensor as tf.Tensor2D)); // [B·T, H]
    const routing: LayerRouting[] = [];
    const kv: LayerKv[] = [];
    let aux: tf.Scalar = tf.scalar(0);
    for (let i = 0; i < c.numLayers; i++) {
      h = hooks.point(`blocks.${i}.hook_resid_pre`, h);
      const xn = rmsNorm(h, this.p(`blocks.${i}.input_norm`) as tf.Tensor as tf.Tensor1D, c.rmsNormEps);
      const qkv = this.project(i, 'attn.wqkv', xn, this.p(`blocks.${i}.attn.wqkv`) as tf.Tensor as tf.Tensor2D, training, modalities);
      const a = attentionForward(qkv, B, T, this.attnShape, this.rope, this.masks, o.wantKv ?? false);
      if (a.kv) kv.push(a.kv);
      const attnOut = hooks.point(`blocks.${i}.attn`, this.project(i, 'attn.wo', a.out, this.p(`blocks.${i}.attn.wo`) as tf.Tensor as tf.Tensor2D, training, modalities));
      h = hooks.point(`blocks.${i}.hook_resid_mid`, tf.add(h, attnOut));
      const mn = rmsNorm(h, this.p(`blocks.${i}.post_attn_norm`) as tf.Tensor as tf.Tensor1D, c.rmsNormEps);
      const m = moeForward(mn, this.moeWeights(i), this.moeOptions(i, capture, hooks, training));
      routing.push(m.routing);
      if (m.aux) aux = tf.add(aux, m.aux) as tf.Scalar;
      h = hooks.point(`blocks.${i}.hook_resid_post`, tf.add(h, m.out));
    }
    const logits = hooks.point('logits', this.head(h, training));
    return { logits, aux: tf.div(aux, c.numLayers) as tf.Scalar, routing: capture === 'none' ? [] : routing, kv };
  }

  /** Full forward on host ids (rows of equal length) → host logits and routing. No tensors escape. */
  forward(ids: number[][], opts: ForwardOptions = {}): ForwardResult {
    return this.run(ids, new HookContext(opts.hooks ?? new Map(), opts.cacheNames ?? null), opts);
  }

  /** One tidy forward with a given hook context, read back to the host. */
  private run(ids: number[][], ctx: HookContext, opts: ForwardOptions): ForwardResult {
    const { B, T, t } = this.checkIds(ids);
    let out!: ForwardResult;
    tf.tidy(() => {
      const r = this.forwardTensors(t(), { hooks: ctx, capture: opts.capture, modalities: opts.modalities });
      out = {
        logits: r.logits.dataSync() as Float32Array,
        shape: [B, T, this.config.vocabSize],
        routing: r.routing,
        aux: r.aux.dataSync()[0],
      };
    });
    return out;
  }

  /** TransformerLens-style: run and return named activations (host copies; nothing to dispose). */
  runWithCache(ids: number[][], names?: string[] | ((name: string) => boolean), opts: ForwardOptions = {}): ForwardResult & { cache: Map<string, HostTensor> } {
    const filter = names === undefined ? () => true : typeof names === 'function' ? names : (n: string) => names.includes(n);
    const ctx = new HookContext(opts.hooks ?? new Map(), filter);
    const out = this.run(ids, ctx, opts);
    if (Array.isArray(names)) {
      for (const n of names) if (!ctx.cache.has(n)) throw new Error(`runWithCache: no hook point named '${n}' (see model.hookNames())`);
    }
    return { ...out, cache: ctx.cache };
  }

  /** Run with hooks that may read or replace activations; the hooks are gone afterwards. */
  runWithHooks(ids: number[][], hooks: Record<string, HookFn>, opts: ForwardOptions = {}): ForwardResult {
    const known = new Set(this.hookNames());
    for (const n of Object.keys(hooks)) if (!known.has(n)) throw new Error(`runWithHooks: no hook point named '${n}' (see model.hookNames())`);
    return this.forward(ids, { ...opts, hooks: new Map(Object.entries(hooks)) });
  }

  /**
   * Prefill a fresh cache with `ids` (batch 1). Returns the next-token logits and the routing of every
   * prompt token. The cache is the caller's to dispose. `modalities` (codes per id) reach the adapters.
   */
  prefill(ids: number[], capture: CaptureLevel = 'routing', modalities?: Uint8Array): { cache: KvCache; logits: Float32Array; routing: LayerRouting[] } {
    if (ids.length === 0) throw new Error('prefill: the prompt has no tokens');
    const { t } = this.checkIds([ids]);
    const cache = new KvCache(this.config.numLayers, this.config.maxPositions);
    let logits!: Float32Array;
    let routing!: LayerRouting[];
    const kv = tf.tidy(() => {
      const r = this.forwardTensors(t(), { capture, wantKv: true, modalities });
      const V = this.config.vocabSize;
      logits = tf.slice(r.logits, [ids.length - 1, 0], [1, V]).dataSync() as Float32Array;
      routing = r.routing;
      return r.kv.flatMap((l) => [l.k, l.v]);
    });
    const layers: LayerKv[] = [];
    for (let i = 0; i < kv.length; i += 2) layers.push({ k: kv[i] as tf.Tensor3D, v: kv[i + 1] as tf.Tensor3D });
    cache.replace(layers, ids.length);
    return { cache, logits, routing };
  }

  /** Feed one token at position cache.length; grows the cache and returns next-token logits. */
  step(cache: KvCache, tokenId: number, capture: CaptureLevel = 'routing', modality?: number): StepResult {
    const c = this.config;
    if (cache.isDisposed) throw new Error('step: the KvCache was disposed');
    if (!Number.isInteger(tokenId) || tokenId < 0 || tokenId >= c.vocabSize) {
      throw new Error(`step: token id ${tokenId} is outside the vocabulary [0, ${c.vocabSize})`);
    }
    const pos = cache.length;
    if (pos >= c.maxPositions) throw new Error(`step: position ${pos} would exceed maxPositions ${c.maxPositions}`);
    const mods = modality === undefined ? undefined : Uint8Array.of(modality);
    let logits!: Float32Array;
    const routing: LayerRouting[] = [];
    // Without adapters, decode uses prepared weights (gains and the attention scale folded in).
    const dw = this.adapters.isEmpty ? this.decodeWeights() : null;
    const hd = this.attnShape.headDim;
    const nqk = (c.numHeads + c.numKvHeads) * hd;
    const next = tf.tidy(() => {
      let h = tf.gather(this.p('embed'), tf.tensor1d([tokenId], 'int32')) as tf.Tensor2D; // [1, H]
      const kvOut: tf.Tensor[] = [];
      const rot = this.rope.stepMatrix(pos); // [hd, hd], one upload per step for all layers
      for (let i = 0; i < c.numLayers; i++) {
        let a: { out: tf.Tensor2D; kv: LayerKv };
        let m: ReturnType<typeof moeForward>;
        const opts = this.moeOptions(i, capture, HookContext.none, false);
        if (dw) {
          const L = dw.layers[i];
          const xn = rmsNormUnit(h, c.rmsNormEps);
          a = attentionStep(tf.matMul(xn, L.wqk), tf.matMul(xn, L.wv), rot, cache.layers[i], this.attnShape, null);
          h = tf.add(h, tf.matMul(a.out, L.wo));
          m = moeForward(rmsNormUnit(h, c.rmsNormEps), L.moe, opts);
        } else {
          const xn = rmsNorm(h, this.p(`blocks.${i}.input_norm`) as tf.Tensor as tf.Tensor1D, c.rmsNormEps);
          const qkv = this.project(i, 'attn.wqkv', xn, this.p(`blocks.${i}.attn.wqkv`) as tf.Tensor as tf.Tensor2D, false, mods);
          a = attentionStep(tf.slice(qkv, [0, 0], [1, nqk]), tf.slice(qkv, [0, nqk], [1, -1]), rot, cache.layers[i], this.attnShape, 1 / Math.sqrt(hd));
          h = tf.add(h, this.project(i, 'attn.wo', a.out, this.p(`blocks.${i}.attn.wo`) as tf.Tensor as tf.Tensor2D, false, mods));
          m = moeForward(rmsNorm(h, this.p(`blocks.${i}.post_attn_norm`) as tf.Tensor as tf.Tensor1D, c.rmsNormEps), this.moeWeights(i), opts);
        }
        kvOut.push(a.kv.k, a.kv.v);
        if (capture !== 'none') routing.push(m.routing);
        h = tf.add(h, m.out);
      }
      logits = (dw ? tf.matMul(rmsNormUnit(h, c.rmsNormEps), dw.head) : this.head(h, false)).dataSync() as Float32Array;
      return kvOut;
    });
    const layers: LayerKv[] = [];
    for (let i = 0; i < next.length; i += 2) layers.push({ k: next[i] as tf.Tensor3D, v: next[i + 1] as tf.Tensor3D });
    cache.replace(layers, pos + 1);
    return { logits, routing };
  }

  private checkIds(ids: number[][]): { B: number; T: number; t: () => tf.Tensor2D } {
    const c = this.config;
    if (!Array.isArray(ids) || ids.length === 0) throw new Error('ids must be a non-empty array of rows');
    const T = ids[0]?.length ?? 0;
    if (T === 0) throw new Error('ids rows must be non-empty');
    if (T > c.maxPositions) throw new Error(`Sequence length ${T} exceeds the context (maxPositions ${c.maxPositions})`);
    const flat = new Int32Array(ids.length * T);
    ids.forEach((row, b) => {
      if (row.length !== T) throw new Error(`ids row ${b} has length ${row.length}, expected ${T} (rows must be equal length)`);
      row.forEach((id, j) => {
        if (!Number.isInteger(id) || id < 0 || id >= c.vocabSize) {
          throw new Error(`ids[${b}][${j}] = ${id} is outside the vocabulary [0, ${c.vocabSize})`);
        }
        flat[b * T + j] = id;
      });
    });
    return { B: ids.length, T, t: () => tf.tensor2d(flat, [ids.length, T], 'int32') };
  }

  dispose(): void {
    for (const v of this.params.values()) v.dispose();
    this.rope.dispose();
    this.masks.dispose();
    this.prepared?.dispose();
    this.prepared = null;
  }
}
