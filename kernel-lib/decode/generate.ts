/**
 * Step decoding as an async iterator. Prefill the prompt once, then per step: choose a token from the
 * current logits (grammar mask, CFG, sampling), feed it through the KV cache — which yields that
 * token's routing at every layer and the logits for the next step — and yield a Step.
 *
 * Between steps the iterator yields to the event loop, so an AbortSignal (a Stop button, a websocket
 * cancel) is seen before the next step starts: cancellation takes effect within one step.
 */
import type { MoEModel, CaptureLevel } from '../model/model';
import { KvCache } from '../model/kv-cache';
import type { LayerRouting } from '../model/moe';
import { mulberry32 } from '../util/random';
import { rowLogSumExp } from '../util/stats';
import { PositionEntry, PositionTracker, metaOf } from '../model/positions';
import { HiddenCapture } from '../model/hidden';
import { chooseToken, SamplingOptions, validateSampling } from './sampling';
import { DecodeVocab, ImageGrammar } from './grammar';
import { checkSeed } from './seed';
import { guideLogits } from './cfg';
import type { GridPos, Modality } from '../tokenizer/prompt';

export interface StepRouting {
  layer: number;
  /** Chosen experts, best first. */
  experts: number[];
  /** Their gate weights. */
  weights: number[];
  /** Router probabilities over all experts. */
  probs: number[];
  /** Router logits over all experts (capture 'full' only). */
  logits?: number[];
}

/** One decoded token. */
export interface Step {
  /** 0-based index among generated tokens. */
  index: number;
  /** Position in the sequence (prompt tokens come first). */
  position: number;
  tokenId: number;
  piece: string;
  modality: Modality;
  /**
   * log p(token) at temperature 1 AFTER the image grammar's mask, i.e. renormalised over the tokens the
   * grammar allowed here (inside an image: the image codes; outside: everything but codes, <eoi>,
   * <bos>, <pad>, <unconditional>). With CFG it is read from the guided logits. A token the grammar forced (<eoi>) has
   * the unmasked value, since the mask leaves it alone in the support.
   */
  logprob: number;
  /** log p(token) at temperature 1 under the model's full, unmasked distribution (same logits as logprob). */
  rawLogprob: number;
  /** The most likely tokens after the mask (probabilities as for logprob). */
  top: { tokenId: number; prob: number; piece: string }[];
  /** This token's routing at every layer (empty when capture is 'none'). */
  routing: StepRouting[];
  /** For image codes: which image and where on its grid. */
  grid?: GridPos;
  /** True when the token was forced: by the grammar (<eoi>) or by forceFirst / a forceAfter run. */
  forced?: boolean;
  /** Hidden states at this position by point name ([H] each), when GenerateOptions.hidden asked. */
  hidden?: Record<string, Float32Array>;
}

export type StopReason = 'eos' | 'stop-token' | 'max-new-tokens' | 'context-full' | 'aborted';

export interface GenerateOptions extends SamplingOptions {
  /** Default 32. */
  maxNewTokens?: number;
  /** Same seed → same tokens: an integer in [0, 2^32) (decode/seed.ts). Default 0. */
  seed?: number;
  /** Token ids that end generation (emitted as the last step). Default [eos]. */
  stopTokens?: number[];
  signal?: AbortSignal;
  /** Image grammar: true (default when the vocabulary has images), false, or a grid. */
  imageGrammar?: boolean | { height: number; width: number };
  /** Classifier-free guidance scale for image codes (1 = off). */
  cfgScale?: number;
  /** 'routing' (default), 'full' (adds router logits), 'none'. */
  capture?: CaptureLevel;
  /** Residual-stream points whose state at each step's position goes into Step.hidden (host copies). */
  hidden?: string[];
  /**
   * Forced runs: when the model emits a key id, the ids of its value follow, forced (Step.forced), before
   * sampling resumes. MiniGPT-5 forces [IMG2] … [IMGn] after a sampled [IMG1]. Ids of a value are never
   * sampled on their own.
   */
  forceAfter?: ReadonlyMap<number, readonly number[]>;
  /** Ids forced as the first steps, before anything is sampled (e.g. a whole voken run to draw an image at once). */
  forceFirst?: readonly number[];
  /** Ids never sampled (e.g. <boi> for a model that draws its images through vokens instead). */
  neverSample?: readonly number[];
}

export function stepRoutingOf(r: LayerRouting[], k: number, E: number, row: number): StepRouting[] {
  return r.map((l) => {
    const s: StepRouting = {
      layer: l.layer,
      experts: Array.from(l.experts.subarray(row * k, (row + 1) * k)),
      weights: Array.from(l.weights.subarray(row * k, (row + 1) * k)),
      probs: Array.from(l.probs.subarray(row * E, (row + 1) * E)),
    };
    if (l.logits.length > 0) s.logits = Array.from(l.logits.subarray(row * E, (row + 1) * E));
    return s;
  });
}

/** maxNewTokens when none is given (a session opening an image draws the whole image instead). */
export const DEFAULT_MAX_NEW_TOKENS = 32;

export function validateGenerate(o: GenerateOptions): void {
  const n = o.maxNewTokens ?? DEFAULT_MAX_NEW_TOKENS;
  if (!Number.isInteger(n) || n < 0) throw new Error(`maxNewTokens must be an integer ≥ 0, got ${JSON.stringify(o.maxNewTokens)}`);
  if (o.seed !== undefined) checkSeed(o.seed);
  const s = o.cfgScale ?? 1;
  if (typeof s !== 'number' || !Number.isFinite(s) || s < 0) throw new Error(`cfgScale must be a finite number ≥ 0, got ${JSON.stringify(o.cfgScale)}`);
  if (o.capture !== undefined && !['none', 'routing', 'full'].includes(o.capture)) {
    throw new Error(`capture must be 'none', 'routing' or 'full', got ${JSON.stringify(o.capture)}`);
  }
  if (o.forceAfter !== undefined) {
    if (!(o.forceAfter instanceof Map)) throw new Error('forceAfter must be a Map from a token id to the ids forced after it');
    for (const [k, v] of o.forceAfter) {
      if (!Array.isArray(v) || v.length === 0) throw new Error(`forceAfter: the run after ${k} must be a non-empty list of token ids`);
    }
  }
  if (o.neverSample !== undefined && !Array.isArray(o.neverSample)) throw new Error('neverSample must be a list of token ids');
  if (o.forceFirst !== undefined && !Array.isArray(o.forceFirst)) throw new Error('forceFirst must be a list of token ids');
}

/** The ids a generation may never sample: neverSample and every id of a forced run (all checked against the vocabulary). */
function unsampledIds(o: GenerateOptions, V: number): number[] {
  const check = (id: number): number => {
    if (!Number.isInteger(id) || id < 0 || id >= V) throw new Error(`forceAfter/forceFirst/neverSample: token id ${id} is outside the vocabulary [0, ${V})`);
    return id;
  };
  const runs = [...(o.forceAfter ?? new Map<number, readonly number[]>())];
  runs.forEach(([key]) => check(key));
  (o.forceFirst ?? []).forEach(check);
  return [...(o.neverSample ?? []), ...runs.flatMap(([, run]) => run)].map(check);
}

/**
 * A running generation: iterate it for Steps; `stopReason` is set when it ends. Caches are freed when
 * the iteration ends for any reason (completion, break, abort, error).
 */
export class Generation implements AsyncIterable<Step> {
  stopReason: StopReason | null = null;
  readonly steps: Step[] = [];
  private started = false;
  /** Ids masked before every sampled choice (neverSample and the forced runs' ids). */
  private readonly unsampled: number[];

  constructor(
    private readonly model: MoEModel,
    private readonly vocab: DecodeVocab,
    readonly promptIds: number[],
    /** The unconditional prompt for CFG (decode/cfg.ts unconditionalPrompt), or null. */
    private readonly uncondIds: number[] | null,
    private readonly opts: GenerateOptions,
  ) {
    validateGenerate(opts);
    validateSampling(opts);
    const max = model.config.maxPositions;
    if (promptIds.length === 0) throw new Error('The prompt encodes to no tokens');
    if (promptIds.length > max) {
      throw new Error(`The prompt is ${promptIds.length} tokens, longer than the model's context of ${max} tokens`);
    }
    for (const id of promptIds) {
      if (!Number.isInteger(id) || id < 0 || id >= model.config.vocabSize) {
        throw new Error(`Prompt token id ${id} is outside the vocabulary [0, ${model.config.vocabSize})`);
      }
    }
    if (opts.hidden !== undefined) new HiddenCapture({ names: opts.hidden }, model.config.numLayers, 1); // checks the names now
    this.unsampled = unsampledIds(opts, model.config.vocabSize);
  }

  async *[Symbol.asyncIterator](): AsyncIterator<Step> {
    if (this.started) throw new Error('A Generation can be iterated once');
    this.started = true;
    const { model, vocab, opts } = this;
    const cfg = model.config;
    const sampling = validateSampling(opts);
    const rand = mulberry32(opts.seed ?? 0);
    const maxNew = opts.maxNewTokens ?? DEFAULT_MAX_NEW_TOKENS;
    const stops = new Set(opts.stopTokens ?? [vocab.eos]);
    const capture = opts.capture ?? 'routing';
    const cfgScale = opts.cfgScale ?? 1;
    const grammarOpt = opts.imageGrammar ?? vocab.image !== undefined;
    const grammar = grammarOpt && vocab.image ? new ImageGrammar(vocab, grammarOpt === true ? undefined : grammarOpt) : null;
    if (grammarOpt && !vocab.image) throw new Error('imageGrammar was requested but this vocabulary has no image codes');
    if (cfgScale !== 1 && !vocab.image) throw new Error('cfgScale applies to image codes, but this vocabulary has none');
    // Position metadata of each sequence (the grammar's own tracker for the conditional one, so both
    // read one state): prefill gets the prompt's, every step the fed token's.
    const gridOpt = typeof grammarOpt === 'object' ? grammarOpt : undefined;
    const track = grammar?.tracker ?? new PositionTracker(vocab, gridOpt);
    const promptMeta = metaOf(this.promptIds.map((id) => track.next(id)));

    let cache: KvCache | null = null;
    try {
      if (opts.signal?.aborted) {
        this.stopReason = 'aborted';
        return;
      }
      const pre = model.prefill(this.promptIds, 'none', { positions: promptMeta });
      cache = pre.cache;
      let logits = pre.logits;
      let ulogits: Float32Array | null = null;
      // CFG: the unconditional sequence is a second row of the same cache, so each step is one batch-2 step.
      // Only the prefills' logits are guided here; a step's head takes the guided mix of its two rows
      // (StepOptions.mixRows), so its logits come guided (inside an image) or conditional (outside).
      let utrack: PositionTracker | null = null;
      if (cfgScale !== 1 && this.uncondIds && this.uncondIds.length > 0) {
        utrack = new PositionTracker(vocab, gridOpt);
        const u = model.prefill(this.uncondIds, 'none', { positions: metaOf(this.uncondIds.map((id) => utrack!.next(id))) });
        ulogits = u.logits;
        cache = KvCache.stack([cache, u.cache]);
      }
      const hidden = opts.hidden && opts.hidden.length > 0 ? { names: opts.hidden, rows: [0] } : undefined;
      const queued: number[] = [...(opts.forceFirst ?? [])]; // forced ids still to come (forceFirst, the rest of a forceAfter run)
      for (let index = 0; index < maxNew; index++) {
        await new Promise<void>((r) => setImmediate(r)); // let aborts and other I/O in
        if (opts.signal?.aborted) {
          this.stopReason = 'aborted';
          return;
        }
        const position = cache.lengths[0];
        if (position >= cfg.maxPositions) {
          this.stopReason = 'context-full';
          return;
        }
        const forcedId = queued.shift() ?? grammar?.forced() ?? null;
        const inImage = grammar?.insideImage ?? false;
        if (ulogits && inImage) {
          guideLogits(logits, ulogits, cfgScale, logits); // CFG on image codes: l = u + s·(c − u)
        }
        // Unmasked log-normaliser (float64), for rawLogprob; a forced token's logprob is read from the
        // unmasked distribution too (the mask would make it −∞).
        const rawLogZ = rowLogSumExp(logits, 0, logits.length);
        const forcedRaw = forcedId !== null ? logits[forcedId] - rawLogZ : 0;
        grammar?.mask(logits);
        for (const id of this.unsampled) logits[id] = -Infinity;
        const choice = chooseToken(logits, sampling, rand);
        const tokenId = forcedId ?? choice.tokenId;
        if (forcedId === null) queued.push(...(opts.forceAfter?.get(tokenId) ?? []));
        // A sampled token is one the mask allowed, so its logit is still the raw one.
        const rawLogprob = forcedId !== null ? forcedRaw : logits[tokenId] - rawLogZ;
        const logprob = forcedId !== null ? forcedRaw : choice.logprob;
        const entries: PositionEntry[] = [track.next(tokenId)];
        if (utrack) entries.push(utrack.next(tokenId));
        // the grammar has seen tokenId: insideImage now says whether the next choice is guided
        const mixRows = utrack ? [grammar?.insideImage ? [cfgScale, 1 - cfgScale] : [1, 0]] : undefined;
        const s = model.stepBatch(cache, entries.map(() => tokenId), { capture, positions: metaOf(entries), hidden, mixRows });
        logits = s.logits[0];
        ulogits = null;
        const e = entries[0];
        const step: Step = {
          index,
          position,
          tokenId,
          piece: vocab.pieceOf(tokenId),
          modality: vocab.modalityOf(tokenId),
          logprob,
          rawLogprob,
          top: choice.top.map((t) => ({ ...t, piece: vocab.pieceOf(t.tokenId) })),
          routing: stepRoutingOf(s.routing, cfg.topK, cfg.numExperts, 0),
        };
        if (e.image >= 0) step.grid = { image: e.image, row: e.row, col: e.col };
        if (forcedId !== null) step.forced = true;
        if (s.hidden?.host) step.hidden = Object.fromEntries([...s.hidden.host].map(([n, t]) => [n, t.data]));
        this.steps.push(step);
        yield step;
        if (stops.has(tokenId)) {
          this.stopReason = tokenId === vocab.eos ? 'eos' : 'stop-token';
          return;
        }
      }
      this.stopReason = 'max-new-tokens';
    } finally {
      cache?.dispose();
      if (this.stopReason === null) this.stopReason = 'aborted';
    }
  }
}
