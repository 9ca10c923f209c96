/**
 * Interleaved generation with generative vokens (MiniGPT-5 §3, Fig. 2): the LM decodes text; when it emits
 * [IMG1] the remaining vokens [IMG2] … [IMGn] are forced; their final-norm hidden states go through the
 * feature mapper into the decoder's sampler, guided against ĥ_0 = mapper(0) (Eq. 5; the no-CFG arm
 * guides against the decoder's empty caption); then text decoding continues.
 *
 *   for await (const e of generateInterleaved({ session, mapper, ldm }, 'A tiger face is at the top left.')) {
 *     if (e.kind === 'token') e.step.piece, e.step.routing;      // text and vokens, with their routing
 *     else e.image;                                              // RGB 32×32, drawn from the vokens' states
 *   }
 *
 * An async generator, so a notebook can show each token and each image as it comes (the decoder's own steps
 * arrive through `onDiffusionStep`); `signal` stops both the text and the image within one step.
 */
import type { Session, SessionGenerateOptions } from '../../session';
import type { Prompt } from '../../tokenizer';
import type { Step, StopReason } from '../../decode/generate';
import type { RGBImage } from '../../image/types';
import type { LatentDiffusion, SampleResult } from '../../diffusion/model';
import type { DiffusionStep, SamplerName } from '../../diffusion/sample';
import type { Conditioning } from '../../diffusion/caption-encoder';
import * as tf from '@tensorflow/tfjs';
import { DEFAULT_CFG_SCALE, DEFAULT_STEPS } from '../../diffusion/options';
import type { FeatureMapper } from './mapper';
import { vokenIds } from './vokens';

/** What draws an image: the LM (with its voken rows), the mapper, the frozen decoder. */
export interface VokenParts {
  session: Session;
  mapper: FeatureMapper;
  ldm: LatentDiffusion;
}

export interface DrawOptions {
  /** CFG scale γ of Eq. 5 (default the decoder's, 4); 1 draws from ĥ alone. */
  cfgScale?: number;
  /** Denoiser calls (default 25 DDIM steps). */
  steps?: number;
  sampler?: SamplerName;
  /** The decoder's noise seed (image i of a generation uses seed + i; default 0). */
  seed?: number;
  /** The negative conditioning: ĥ_0 = mapper(0) (default), or the decoder's empty caption (the no-CFG arm's). */
  negative?: 'zero-vokens' | 'null';
  onDiffusionStep?: (e: DiffusionStep) => void | Promise<void>;
  signal?: AbortSignal;
}

/** Draws one image per voken-state set: states holds B × n × H values (n vokens of width H each). */
export async function drawFromVokens(parts: Omit<VokenParts, 'session'>, states: Float32Array, o: DrawOptions & { batch?: number } = {}): Promise<SampleResult> {
  const B = o.batch ?? 1;
  const cond = parts.mapper.map(states, B); // ĥ [B, L, d̂]
  let neg: Conditioning | 'null' = 'null';
  if ((o.negative ?? 'zero-vokens') === 'zero-vokens') neg = parts.mapper.zeroConditioning(1);
  else if (o.negative !== 'null') throw new Error(`minigpt5: negative must be 'zero-vokens' or 'null', got ${JSON.stringify(o.negative)}`);
  try {
    return await parts.ldm.sample({ cond, negCond: neg, cfgScale: o.cfgScale ?? DEFAULT_CFG_SCALE, steps: o.steps ?? DEFAULT_STEPS, sampler: o.sampler, seed: o.seed ?? 0, onStep: o.onDiffusionStep, signal: o.signal });
  } finally {
    tf.dispose([cond.seq, cond.mask, ...(neg === 'null' ? [] : [neg.seq, neg.mask])]);
  }
}

/**
 * The LM's decoding options (sampling, maxNewTokens, seed, stopTokens, …) and the decoder's (DrawOptions);
 * `cfgScale` is the decoder's γ (MiniGPT-5 guides the diffusion, not the LM's logits); `seed` seeds both the LM's
 * sampling and the decoder's noise (image i of the generation: seed + i).
 */
export interface InterleavedOptions extends DrawOptions, Omit<SessionGenerateOptions, 'hidden' | 'forceAfter' | 'forceFirst' | 'startImage' | 'cfgScale' | 'signal'> {
  /** Begin with an image: the voken run is forced first (caption → image; maxNewTokens defaults to n); text may follow. */
  startImage?: boolean;
}

export type InterleavedEvent =
  | { kind: 'token'; step: Step }
  | {
      kind: 'image';
      /** 0-based image index within this generation. */
      index: number;
      image: RGBImage;
      /** The n × H voken states it was drawn from. */
      vokenStates: Float32Array;
      result: SampleResult;
    };

/**
 * Decodes text and draws an image wherever the LM places vokens (see the file comment). Returns why the
 * text stopped. <boi> is never sampled (images come through the vokens), and [IMG2] … [IMGn] only as the
 * forced run after [IMG1].
 */
export async function* generateInterleaved(parts: VokenParts, prompt: Prompt, o: InterleavedOptions = {}): AsyncGenerator<InterleavedEvent, StopReason | null> {
  const { session, mapper } = parts;
  const tok = session.tokenizer;
  const ids = vokenIds(tok);
  const n = ids.length;
  const H = session.config.hiddenSize;
  if (mapper.config.numVokens !== n || mapper.config.hiddenSize !== H) throw new Error(`minigpt5: the mapper takes ${mapper.config.numVokens} × ${mapper.config.hiddenSize} voken states, this LM gives ${n} × ${H}`);
  const { cfgScale: _g, steps: _s, sampler: _m, negative: _n, onDiffusionStep: _d, startImage, ...lm } = o;
  const gen = session.generate(prompt, {
    ...lm,
    maxNewTokens: o.maxNewTokens ?? (startImage ? n : undefined),
    hidden: ['final_norm'],
    forceAfter: new Map([[ids[0], ids.slice(1)]]),
    ...(startImage ? { forceFirst: ids } : {}),
    neverSample: [...(lm.neverSample ?? []), ...(tok.hasImages ? [tok.boi] : [])],
    signal: o.signal,
  });
  let states: Float32Array[] = [];
  let images = 0;
  for await (const step of gen) {
    yield { kind: 'token', step };
    // a voken run: [IMG1] (sampled or forced), then [IMG2] … [IMGn] forced in order
    if (step.tokenId === ids[states.length] && (states.length === 0 || step.forced)) states.push(step.hidden!.final_norm);
    else states = step.tokenId === ids[0] ? [step.hidden!.final_norm] : [];
    if (states.length < n) continue;
    const flat = new Float32Array(n * H);
    states.forEach((h, k) => flat.set(h, k * H));
    states = [];
    const result = await drawFromVokens(parts, flat, { ...o, seed: (o.seed ?? 0) + images });
    if (result.stopped === 'aborted') return 'aborted';
    yield { kind: 'image', index: images++, image: result.images[0], vokenStates: flat, result };
  }
  return gen.stopReason;
}

/**
 * Table 6's two-stage baseline: the LM writes a caption (greedy unless told, no vokens, no image codes, up to
 * <eos> or `maxNewTokens`), then the decoder draws that caption through its own caption encoder (CFG against the
 * empty caption), instead of reading the LM's states.
 */
export async function twoStage(parts: Omit<VokenParts, 'mapper'>, prompt: Prompt, o: InterleavedOptions = {}): Promise<{ caption: string; result: SampleResult }> {
  const caption = await twoStageCaption(parts.session, prompt, o);
  const result = await parts.ldm.sample({ cond: caption, cfgScale: o.cfgScale ?? DEFAULT_CFG_SCALE, steps: o.steps ?? DEFAULT_STEPS, sampler: o.sampler, seed: o.seed ?? 0, onStep: o.onDiffusionStep, signal: o.signal });
  return { caption, result };
}

/** The two-stage baseline's first stage alone: the caption the LM writes after `prompt` (see twoStage). */
export async function twoStageCaption(session: Session, prompt: Prompt, o: InterleavedOptions = {}): Promise<string> {
  const tok = session.tokenizer;
  const { cfgScale: _g, steps: _s, sampler: _m, negative: _n, onDiffusionStep: _d, startImage: _i, ...lm } = o;
  const never = [...(lm.neverSample ?? []), ...(tok.hasImages ? [tok.boi] : []), ...(tok.numVokens > 0 ? vokenIds(tok) : [])];
  const ids: number[] = [];
  for await (const step of session.generate(prompt, { temperature: 0, maxNewTokens: 32, ...lm, neverSample: never, signal: o.signal })) if (step.tokenId !== tok.eos) ids.push(step.tokenId);
  return tok.decodeIds(ids).map((p) => ('text' in p ? p.text : '')).join('').trim();
}
