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
import { attentionForward, attentionStep, AttnShape, CausalMasks } from './attention';
import { moeForward, LayerRouting, MoEOptions, MoEWeights } from './moe';
import { HookContext, HookFn } from './hooks';
import { KvCache, LayerKv } from './kv-cache';
import { AdapterSet, ProjectionCall, ProjectionTarget } from './adapter-seam';
import { metaFromModalities } from './positions';
import { HiddenCapture, HiddenRequest, HiddenStates } from './hidden';
import {
  BatchStepResult, CaptureLevel, ForwardOptions, ForwardResult, HiddenForwardOptions, HiddenForwardResult, PrefillOptions, RowsForwardResult,
  StepOptions, StepResult, TensorForward, TensorForwardOptions, TensorStates, positionsOf,
} from './forward-options';

export type {
  CaptureLevel, PositionOptions, ForwardOptions, ForwardResult, StepResult, StepOptions, BatchStepResult, PrefillOptions,
  TensorForwardOptions, TensorForward, TensorStates, HiddenForwardOptions, HiddenForwardResult, RowsForwardResult,
} from './forward-options';

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
  private project(layer: number, target: ProjectionTarget, x: tf.Tensor2D, w: tf.Tensor2D, training: boolean, call: ProjectionCall): tf.Tensor2D {
    const y: tf.Tensor2D = training ? linear(x, w) : tf.matMul(x, w);
    return this.adapters.isEmpty ? y : this.adapters.apply(layer, target, x, y, call);
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

  private finalNorm(h: tf.Tensor2D): tf.Tensor2D {
    return rmsNorm(h, this.p('final_norm') as tf.Tensor as tf.Tensor1D, this.config.rmsNormEps); // [N, H]
  }

  private headOf(x: tf.Tensor2D, training: boolean): tf.Tensor2D {
    const c = this.config;
    const w = (c.tieWordEmbeddings ? tf.transpose(this.p('embed')) : this.p('lm_head')) as tf.Tensor2D;
    return training ? linear(x, w) : tf.matMul(x, w); // [N, V]
  }

  /**
   * The LM head on final-norm states x [N, H] → logits [N, V] (`training`: the custom-gradient linear of the
   * training forward). Rows are independent, so a loss may pass only the rows it reads: forwardTensors's
   * logits row r is head(states)[r] (tests/model/forward-states.test.ts: bit for bit).
   */
  head(x: tf.Tensor2D, training = false): tf.Tensor2D {
    if (x.rank !== 2 || x.shape[1] !== this.config.hiddenSize) throw new Error(`head: states must be [N, ${this.config.hiddenSize}], got [${x.shape}]`);
    return this.headOf(x, training);
  }

  /**
   * The whole-sequence forward on tensors; call inside tf.tidy (or a gradient scope).
   * ids [B, T] int32 → logits [B·T, V]. This is the training forward too: `positions` (or the legacy
   * `modalities`) reach the adapters as in every other path. It is forwardStates, then the head.
   */
  forwardTensors(ids: tf.Tensor2D, o: TensorForwardOptions = {}): TensorForward {
    const s = this.trunk(ids, o);
    const logits = (o.hooks ?? HookContext.none).point('logits', this.headOf(s.states, o.training ?? false)); // [B·T, V]
    return { ...s, logits };
  }

  /**
   * forwardTensors without the LM head: the final norm's output [B·T, H] with aux, routing and kv. For users
   * of the states alone (MUMU's encoder) and for losses that apply `head` to the rows they read (the head
   * costs about as much per token as mm-moe-small's four layers, its backward twice that). Hooks fire at
   * every point up to 'final_norm'; one at 'logits', or a cache that would take it, is refused.
   */
  forwardStates(ids: tf.Tensor2D, o: TensorForwardOptions = {}): TensorStates {
    if (o.hooks?.names('logits')) throw new Error("forwardStates: a hook or cache names 'logits', which this forward never computes (it stops at final_norm); use forwardTensors");
    return this.trunk(ids, o);
  }

  /** Embedding, the blocks and the final norm (the shared body of forwardTensors and forwardStates). */
  private trunk(ids: tf.Tensor2D, o: TensorForwardOptions): TensorStates {
    const c = this.config;
    const hooks = o.hooks ?? HookContext.none;
    const capture = o.capture ?? 'routing';
    const training = o.training ?? false;
    const [B, T] = ids.shape;
    if (T > c.maxPositions) throw new Error(`Sequence length ${T} exceeds maxPositions ${c.maxPositions}`);
    const call: ProjectionCall = { batch: B, seqLen: T, start: new Array<number>(B).fill(0), positions: positionsOf(o, B * T, 'forward'), cache: o.cache, training, dropoutSeed: o.dropoutSeed };
    const point = <X extends tf.Tensor2D>(name: string, t: X): X => {
      const out = hooks.point(name, t);
      o.hidden?.take(name, out);
      return out;
    };
    let h = point('embed', embeddingLookup(tf.reshape(ids, [B * T]) as tf.Tensor1D, this.p('embed') as tf.Tensor as tf.Tensor2D)); // [B·T, H]
    const routing: LayerRouting[] = [];
    const kv: LayerKv[] = [];
    let aux: tf.Scalar = tf.scalar(0);
    for (let i = 0; i < c.numLayers; i++) {
      h = point(`blocks.${i}.hook_resid_pre`, h);
      const xn = rmsNorm(h, this.p(`blocks.${i}.input_norm`) as tf.Tensor as tf.Tensor1D, c.rmsNormEps);
      const qkv = this.project(i, 'attn.wqkv', xn, this.p(`blocks.${i}.attn.wqkv`) as tf.Tensor as tf.Tensor2D, training, call);
      const a = attentionForward(qkv, B, T, this.attnShape, this.rope, this.masks, o.wantKv ?? false);
      if (a.kv) kv.push(a.kv);
      const attnOut = hooks.point(`blocks.${i}.attn`, this.project(i, 'attn.wo', a.out, this.p(`blocks.${i}.attn.wo`) as tf.Tensor as tf.Tensor2D, training, call));
      h = point(`blocks.${i}.hook_resid_mid`, tf.add(h, attnOut));
      const mn = rmsNorm(h, this.p(`blocks.${i}.post_attn_norm`) as tf.Tensor as tf.Tensor1D, c.rmsNormEps);
      const m = moeForward(mn, this.moeWeights(i), this.moeOptions(i, capture, hooks, training));
      routing.push(m.routing);
      if (m.aux) aux = tf.add(aux, m.aux) as tf.Scalar;
      h = point(`blocks.${i}.hook_resid_post`, tf.add(h, m.out));
    }
    const states = point('final_norm', this.finalNorm(h)); // [B·T, H]
    return { states, aux: tf.div(aux, c.numLayers) as tf.Scalar, routing: capture === 'none' ? [] : routing, kv };
  }

  /** Full forward on host ids (rows of equal length) → host logits and routing. No tensors escape but requested hidden tensors. */
  forward(ids: number[][], opts: ForwardOptions = {}): ForwardResult {
    return this.run(ids, new HookContext(opts.hooks ?? new Map(), opts.cacheNames ?? null), opts);
  }

  /**
   * The host forward without the LM head: the requested hidden states (as forward's `hidden` gives them),
   * routing and aux, no logits. For callers that read states only (MUMU's prompt states); a hook at
   * 'logits' is refused (see forwardStates), and `hidden` may name only residual-stream points.
   */
  forwardHidden(ids: number[][], opts: HiddenForwardOptions): HiddenForwardResult {
    if (!opts?.hidden) throw new Error('forwardHidden: opts.hidden must name the states to return (e.g. { names: [\'final_norm\'] })');
    const ctx = new HookContext(opts.hooks ?? new Map());
    if (ctx.names('logits')) throw new Error("forwardHidden: a hook names 'logits', which this forward never computes (it stops at final_norm); use forward");
    return this.hostPass(ids, opts.hidden, (t, hidden) => {
      const r = this.forwardStates(t, { hooks: ctx, capture: opts.capture, positions: opts.positions, modalities: opts.modalities, hidden });
      return { routing: r.routing, aux: r.aux.dataSync()[0] };
    }) as HiddenForwardResult;
  }

  /**
   * The host forward with the LM head on chosen rows only: `rows` are flat positions b·T + t of `ids`, and
   * logits row i is forward's row rows[i] bit for bit (a GEMM's rows do not depend on the others;
   * tests/model/forward-rows.test.ts). No rows: routing, aux and hidden states without any head (what a routing
   * trace reads). For callers that read some rows of the logits (the next token after a prompt, a candidate's
   * or a target's positions): the head has about as many multiply-adds per row as mm-moe-small's four layers. A hook or
   * cache naming 'logits' still sees every row, as in forward: the whole head runs then, and the rows are read
   * from the hook's output.
   */
  forwardRows(ids: number[][], rows: readonly number[], opts: ForwardOptions = {}): RowsForwardResult {
    if (!Array.isArray(rows)) throw new Error(`forwardRows: rows must be an array of positions b·T + t, got ${JSON.stringify(rows)}`);
    const ctx = new HookContext(opts.hooks ?? new Map(), opts.cacheNames ?? null);
    return this.hostPass(ids, opts.hidden, (t, hidden, B, T) => {
      rows.forEach((r, i) => {
        if (!Number.isInteger(r) || r < 0 || r >= B * T) throw new Error(`forwardRows: rows[${i}] = ${JSON.stringify(r)} is not a position of ids (0..${B * T - 1}, b·T + t for ${B} rows of ${T})`);
      });
      const r = this.trunk(t, { hooks: ctx, capture: opts.capture, positions: opts.positions, modalities: opts.modalities, hidden });
      const logits = this.headAt(r.states, rows, ctx);
      return { logits: logits ? (logits.dataSync() as Float32Array) : new Float32Array(0), routing: r.routing, aux: r.aux.dataSync()[0] };
    });
  }

  /**
   * The logits of `rows` of final-norm states [N, H] → [R, V] (null for no rows and no 'logits' hook): the head
   * on those rows alone, unless `hooks` name 'logits' — then it runs on every row, the hook sees (and may
   * replace) them all as in forwardTensors, and the rows are taken from its output.
   */
  private headAt(states: tf.Tensor2D, rows: readonly number[], hooks: HookContext): tf.Tensor2D | null {
    const idx = () => tf.tensor1d(rows as number[], 'int32');
    if (hooks.names('logits')) {
      const all = hooks.point('logits', this.headOf(states, false)); // [N, V]
      return rows.length === 0 ? null : (tf.gather(all, idx()) as tf.Tensor2D); // [R, V]
    }
    return rows.length === 0 ? null : this.headOf(tf.gather(states, idx()) as tf.Tensor2D, false); // [R, V]
  }

  /** One tidy forward with a given hook context, read back to the host. */
  private run(ids: number[][], ctx: HookContext, opts: ForwardOptions): ForwardResult {
    const V = this.config.vocabSize;
    return this.hostPass(ids, opts.hidden, (t, hidden, B, T) => {
      const r = this.forwardTensors(t, { hooks: ctx, capture: opts.capture, positions: opts.positions, modalities: opts.modalities, hidden });
      return { logits: r.logits.dataSync() as Float32Array, shape: [B, T, V] as [number, number, number], routing: r.routing, aux: r.aux.dataSync()[0] };
    });
  }

  /**
   * Checks host ids, runs `body` in one tf.tidy with the hidden capture of `request`, and adds the captured
   * states to its (host) result; kept hidden tensors are freed when the body fails.
   */
  private hostPass<R extends object>(ids: number[][], request: HiddenRequest | undefined, body: (t: tf.Tensor2D, hidden: HiddenCapture | undefined, B: number, T: number) => R): R & { hidden?: HiddenStates } {
    const { B, T, t } = this.checkIds(ids);
    const hidden = request ? new HiddenCapture(request, this.config.numLayers, B * T) : undefined;
    let out!: R & { hidden?: HiddenStates };
    try {
      tf.tidy(() => {
        out = body(t(), hidden, B, T);
      });
    } catch (err) {
      hidden?.discard();
      throw err;
    }
    if (hidden) out.hidden = hidden.result();
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
   * prompt token. The cache is the caller's to dispose. Position metadata (or the legacy modality
   * codes, as a Uint8Array third argument) reach the adapters, which may start their decode state.
   * The LM head runs on the last position only, the one row read (over every position it cost mm-moe-small
   * ~2.5 ms CPU of a 64-token prefill, ~14 ms of a 200-token one): its logits equal forward's last row bit for
   * bit. Prefill takes no hooks; for hooks (at 'logits' or anywhere) or every position's logits use forward /
   * runWithHooks.
   */
  prefill(ids: number[], capture: CaptureLevel = 'routing', opts: Uint8Array | Omit<PrefillOptions, 'capture'> = {}): { cache: KvCache; logits: Float32Array; routing: LayerRouting[]; hidden?: HiddenStates } {
    if (ids.length === 0) throw new Error('prefill: the prompt has no tokens');
    const o: PrefillOptions = opts instanceof Uint8Array ? { modalities: opts } : opts;
    const { t } = this.checkIds([ids]);
    if (o.cache && (o.cache.isDisposed || o.cache.batch !== 1 || o.cache.capacity !== 0 || o.cache.numLayers !== this.config.numLayers)) {
      throw new Error('prefill: the cache given must be an empty batch-1 cache of this model (new, or reset)');
    }
    const cache = o.cache ?? new KvCache(this.config.numLayers, this.config.maxPositions);
    const hidden = o.hidden ? new HiddenCapture(o.hidden, this.config.numLayers, ids.length) : undefined;
    let logits!: Float32Array;
    let routing!: LayerRouting[];
    try {
      tf.tidy(() => {
        const r = this.trunk(t(), { capture, wantKv: true, positions: o.positions, modalities: o.modalities, hidden, cache });
        logits = this.headAt(r.states, [ids.length - 1], HookContext.none)!.dataSync() as Float32Array; // [1, V]: the last row's head only
        routing = r.routing;
        cache.fill(r.kv, ids.length);
      });
    } catch (err) {
      hidden?.discard();
      if (o.cache) cache.reset();
      else cache.dispose();
      throw err;
    }
    return { cache, logits, routing, ...(hidden ? { hidden: hidden.result() } : {}) };
  }

  /**
   * Feed one token at position cache.length (batch-1 cache); returns next-token logits. The fourth
   * argument is the token's metadata options, or (legacy) its modality code.
   */
  step(cache: KvCache, tokenId: number, capture: CaptureLevel = 'routing', opts?: number | Omit<StepOptions, 'capture'>): StepResult {
    if (cache.isDisposed) throw new Error('step: the KvCache was disposed');
    if (cache.batch !== 1) throw new Error(`step: the cache holds ${cache.batch} sequences; use stepBatch`);
    const o: StepOptions = typeof opts === 'number' ? { positions: metaFromModalities(Uint8Array.of(opts)) } : { ...opts };
    const r = this.stepBatch(cache, [tokenId], { ...o, capture });
    return { logits: r.logits[0], routing: r.routing, ...(r.hidden ? { hidden: r.hidden } : {}) };
  }

  /**
   * One token for each sequence of a (possibly batched, KvCache.stack) cache, each at its own next
   * position. Rows are independent: row b's logits equal a batch-1 step of sequence b.
   */
  stepBatch(cache: KvCache, tokenIds: readonly number[], o: StepOptions = {}): BatchStepResult {
    const c = this.config;
    const capture = o.capture ?? 'routing';
    if (cache.isDisposed) throw new Error('step: the KvCache was disposed');
    const B = cache.batch;
    if (tokenIds.length !== B) throw new Error(`step: ${tokenIds.length} token ids for a cache of ${B} sequences`);
    for (const id of tokenIds) {
      if (!Number.isInteger(id) || id < 0 || id >= c.vocabSize) throw new Error(`step: token id ${id} is outside the vocabulary [0, ${c.vocabSize})`);
    }
    const pos = cache.lengths.slice();
    for (const p of pos) if (p >= c.maxPositions) throw new Error(`step: position ${p} would exceed maxPositions ${c.maxPositions}`);
    const positions = positionsOf(o, B, 'step');
    const mix = o.mixRows === undefined ? null : mixMatrix(o.mixRows, B);
    const hidden = o.hidden ? new HiddenCapture(o.hidden, c.numLayers, B) : undefined;
    cache.reserve(1);
    const call: ProjectionCall = { batch: B, seqLen: 1, start: pos, positions, cache };
    const routing: LayerRouting[] = [];
    let flat!: Float32Array;
    // Without adapters, decode uses prepared weights (gains and the attention scale folded in).
    const dw = this.adapters.isEmpty ? this.decodeWeights() : null;
    const hd = this.attnShape.headDim;
    try {
      tf.tidy(() => {
        let h = tf.gather(this.p('embed'), tf.tensor1d(tokenIds as number[], 'int32')) as tf.Tensor2D; // [B, H]
        hidden?.take('embed', h);
        for (let i = 0; i < c.numLayers; i++) {
          hidden?.take(`blocks.${i}.hook_resid_pre`, h);
          let m: ReturnType<typeof moeForward>;
          const mo = this.moeOptions(i, capture, HookContext.none, false);
          if (dw) {
            const L = dw.layers[i];
            const xn = rmsNormUnit(h, c.rmsNormEps);
            const a = attentionStep(tf.matMul(xn, L.wqkv), this.rope, cache, i, this.attnShape, null);
            h = tf.add(h, tf.matMul(a, L.wo));
            hidden?.take(`blocks.${i}.hook_resid_mid`, h);
            m = moeForward(rmsNormUnit(h, c.rmsNormEps), B > 1 ? dw.batchedMoe(i) : L.moe, mo);
          } else {
            const xn = rmsNorm(h, this.p(`blocks.${i}.input_norm`) as tf.Tensor as tf.Tensor1D, c.rmsNormEps);
            const qkv = this.project(i, 'attn.wqkv', xn, this.p(`blocks.${i}.attn.wqkv`) as tf.Tensor as tf.Tensor2D, false, call);
            const a = attentionStep(qkv, this.rope, cache, i, this.attnShape, 1 / Math.sqrt(hd));
            h = tf.add(h, this.project(i, 'attn.wo', a, this.p(`blocks.${i}.attn.wo`) as tf.Tensor as tf.Tensor2D, false, call));
            hidden?.take(`blocks.${i}.hook_resid_mid`, h);
            m = moeForward(rmsNorm(h, this.p(`blocks.${i}.post_attn_norm`) as tf.Tensor as tf.Tensor1D, c.rmsNormEps), this.moeWeights(i), mo);
          }
          if (capture !== 'none') routing.push(m.routing);
          h = tf.add(h, m.out);
          hidden?.take(`blocks.${i}.hook_resid_post`, h);
        }
        if (hidden?.wants('final_norm')) hidden.take('final_norm', this.finalNorm(h));
        let z = dw ? rmsNormUnit(h, c.rmsNormEps) : this.finalNorm(h); // [B, H]
        if (mix) z = tf.matMul(tf.tensor2d(mix, [mix.length / B, B]), z); // [M, H]
        const logits = dw ? tf.matMul(z, dw.head) : this.headOf(z, false); // [B or M, V]
        flat = logits.dataSync() as Float32Array;
      });
    } catch (err) {
      hidden?.discard();
      throw err;
    }
    cache.advance();
    const V = c.vocabSize;
    const logits = Array.from({ length: flat.length / V }, (_, b) => flat.subarray(b * V, (b + 1) * V));
    return { logits, routing, ...(hidden ? { hidden: hidden.result() } : {}) };
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
    this.adapters.disposeAll();
    this.rope.dispose();
    this.masks.dispose();
    this.prepared?.dispose();
    this.prepared = null;
  }
}

/** StepOptions.mixRows as a row-major [M, B] matrix, checked. */
function mixMatrix(rows: readonly (readonly number[])[], B: number): Float32Array {
  if (!Array.isArray(rows) || rows.length === 0) throw new Error('step: mixRows must be a non-empty list of coefficient rows');
  const out = new Float32Array(rows.length * B);
  rows.forEach((r, i) => {
    if (!Array.isArray(r) || r.length !== B) throw new Error(`step: mixRows[${i}] must hold ${B} coefficients (one per sequence), got ${Array.isArray(r) ? r.length : JSON.stringify(r)}`);
    r.forEach((x, b) => {
      if (typeof x !== 'number' || !Number.isFinite(x)) throw new Error(`step: mixRows[${i}][${b}] must be a finite number, got ${JSON.stringify(x)}`);
      out[i * B + b] = x;
    });
  });
  return out;
}
