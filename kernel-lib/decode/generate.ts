/**
 * Step decoding as an async iterator. Prefill the prompt once, then per step: choose a token from the
 * current logits (grammar mask, CFG, sampling), feed it through the KV cache — which yields that
 * token's routing at every layer and the logits for the next step — and yield a Step.
 *
 * Between steps the iterator yields to the event loop, so an AbortSignal (a Stop button, a websocket
 * cancel) is seen before the next step starts: cancellation takes effect within one step.
 */
import type { MoEModel, CaptureLevel } from '../model/model';
import type { KvCache } from '../model/kv-cache';
import type { LayerRouting } from '../model/moe';
import { mulberry32 } from '../util/random';
import { rowLogSumExp } from '../util/stats';
import { MODALITY_CODES, modalityCodes } from '../model/adapter-seam';
import { chooseToken, SamplingOptions, validateSampling } from './sampling';
import { DecodeVocab, ImageGrammar } from './grammar';
import { checkSeed } from './seed';
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
  logprob: number;
  top: { tokenId: number; prob: number; piece: string }[];
  /** This token's routing at every layer (empty when capture is 'none'). */
  routing: StepRouting[];
  /** For image codes: which image and where on its grid. */
  grid?: GridPos;
  /** True when the grammar forced this token. */
  forced?: boolean;
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
}

/**
 * A running generation: iterate it for Steps; `stopReason` is set when it ends. Caches are freed when
 * the iteration ends for any reason (completion, break, abort, error).
 */
export class Generation implements AsyncIterable<Step> {
  stopReason: StopReason | null = null;
  readonly steps: Step[] = [];
  private started = false;

  constructor(
    private readonly model: MoEModel,
    private readonly vocab: DecodeVocab,
    readonly promptIds: number[],
    /** The unconditional prompt for CFG (text dropped), or null. */
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
    grammar?.replay(this.promptIds);

    let cache: KvCache | null = null;
    let uncache: KvCache | null = null;
    try {
      if (opts.signal?.aborted) {
        this.stopReason = 'aborted';
        return;
      }
      // Each token's modality goes with it, so modality-aware adapters (PLoRA) act as in a full forward.
      const codes = (ids: number[]): Uint8Array => modalityCodes(ids, vocab.modalityOf);
      const pre = model.prefill(this.promptIds, 'none', codes(this.promptIds));
      cache = pre.cache;
      let logits = pre.logits;
      let ulogits: Float32Array | null = null;
      if (cfgScale !== 1 && this.uncondIds && this.uncondIds.length > 0) {
        const u = model.prefill(this.uncondIds, 'none', codes(this.uncondIds));
        uncache = u.cache;
        ulogits = u.logits;
      }
      for (let index = 0; index < maxNew; index++) {
        await new Promise<void>((r) => setImmediate(r)); // let aborts and other I/O in
        if (opts.signal?.aborted) {
          this.stopReason = 'aborted';
          return;
        }
        const position = cache.length;
        if (position >= cfg.maxPositions) {
          this.stopReason = 'context-full';
          return;
        }
        const forcedId = grammar?.forced() ?? null;
        const inImage = grammar?.insideImage ?? false;
        if (ulogits && inImage) {
          // CFG on image codes: l = u + s·(c − u)
          for (let i = 0; i < logits.length; i++) logits[i] = ulogits[i] + cfgScale * (logits[i] - ulogits[i]);
        }
        // A forced token's logprob is read from the unmasked distribution (the mask would make it −∞).
        const forcedLogprob = forcedId !== null ? logits[forcedId] - rowLogSumExp(logits, 0, logits.length) : 0;
        grammar?.mask(logits);
        const choice = chooseToken(logits, sampling, rand);
        const tokenId = forcedId ?? choice.tokenId;
        const logprob = forcedId !== null ? forcedLogprob : choice.logprob;
        const grid = grammar?.advance(tokenId);
        const modality = MODALITY_CODES[vocab.modalityOf(tokenId)];
        const s = model.step(cache, tokenId, capture, modality);
        logits = s.logits;
        if (uncache) ulogits = model.step(uncache, tokenId, 'none', modality).logits;
        const step: Step = {
          index,
          position,
          tokenId,
          piece: vocab.pieceOf(tokenId),
          modality: vocab.modalityOf(tokenId),
          logprob,
          top: choice.top.map((t) => ({ ...t, piece: vocab.pieceOf(t.tokenId) })),
          routing: stepRoutingOf(s.routing, cfg.topK, cfg.numExperts, 0),
        };
        if (grid) step.grid = grid;
        if (forcedId !== null) step.forced = true;
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
      uncache?.dispose();
      if (this.stopReason === null) this.stopReason = 'aborted';
    }
  }
}
