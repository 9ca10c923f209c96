/**
 * Session = model + tokenizer + backend (+ adapters): the one object a notebook holds. It loads and
 * saves checkpoints, encodes interleaved prompts, step-decodes with routing, traces routing over a
 * prompt, trains, and grows a text-only vocabulary with images.
 */
import * as path from 'node:path';
import { initBackend, DeviceInfo, BackendName } from './backend/backend';
import { MoEConfig, PresetName, defaultMoEConfig } from './model/config';
import { MoEModel, CaptureLevel } from './model/model';
import { countParams, HostTensor } from './model/params';
import { growVocabulary } from './model/vocab-extend';
import './model/gw-init'; // registers the 'gromov-wasserstein' init strategy
import { PositionMeta, positionMeta } from './model/positions';
import type { LayerRouting } from './model/moe';
import { loadCheckpoint, saveCheckpoint, CheckpointDtype, CheckpointError } from './checkpoint';
import { MultimodalTokenizer, Prompt, EncodedPrompt, Modality, GridPos, TokenizerLayout, ImageVocabularyOptions } from './tokenizer';
import { Generation, GenerateOptions, DEFAULT_MAX_NEW_TOKENS } from './decode/generate';
import type { DecodeVocab } from './decode/grammar';
import { CFG_UNCONDITIONAL_MODES, CfgUnconditional, unconditionalPrompt } from './decode/cfg';
import { train, TrainOptions, TrainResult } from './train/trainer';

export interface SessionGenerateOptions extends GenerateOptions {
  /** Append <boi> to the prompt, so generation starts with an image (and, without maxNewTokens, draws all of it). */
  startImage?: boolean;
  /**
   * CFG's unconditional prompt (decode/cfg.ts): 'drop-text' (default, the prompt without its text) or
   * 'unconditional-token' (each text run replaced by <unconditional>, Liquid's; see withUnconditional).
   */
  cfgUnconditional?: CfgUnconditional;
}

/**
 * The token budget a generation gets: `maxNewTokens` when given; else one whole image (its codes and
 * <eoi>) after `startImage`, else DEFAULT_MAX_NEW_TOKENS.
 */
export function resolveMaxNewTokens(tok: MultimodalTokenizer, opts: SessionGenerateOptions): number {
  if (opts.maxNewTokens !== undefined) return opts.maxNewTokens;
  if (!opts.startImage || !tok.hasImages) return DEFAULT_MAX_NEW_TOKENS;
  const grid = typeof opts.imageGrammar === 'object' ? opts.imageGrammar : tok.imageGrid;
  return grid.height * grid.width + 1;
}

/** Routing of every token of a sequence, with what each token is. Analyses take these. */
export interface RoutingTrace {
  ids: number[];
  pieces: string[];
  modalities: Modality[];
  grid: (GridPos | null)[];
  numLayers: number;
  numExperts: number;
  topK: number;
  /** Per layer, host arrays over all tokens ([N, k] experts/weights, [N, E] probs). */
  layers: LayerRouting[];
}

export class Session {
  private constructor(
    readonly model: MoEModel,
    readonly tokenizer: MultimodalTokenizer,
    readonly device: DeviceInfo,
    /** Where it was loaded from, or a description. */
    readonly source: string,
  ) {}

  get config(): MoEConfig {
    return this.model.config;
  }

  /** Loads a checkpoint directory; everything is validated before any tensor is made. */
  static async load(dir: string, opts: { backend?: BackendName } = {}): Promise<Session> {
    const device = await initBackend(opts.backend);
    const ck = loadCheckpoint(dir);
    const tokenizer = MultimodalTokenizer.fromHF(ck.tokenizer, (ck.tokenizerLayout ?? undefined) as TokenizerLayout | undefined);
    if (tokenizer.vocabSize !== ck.config.vocabSize) {
      throw new CheckpointError(path.join(dir, 'tokenizer.json'), `the tokenizer has ${tokenizer.vocabSize} ids but config.json has vocab_size ${ck.config.vocabSize}`);
    }
    return new Session(MoEModel.fromHost(ck.config, ck.params), tokenizer, device, dir);
  }

  /** A fresh, randomly initialised model for a tokenizer (vocabSize is taken from the tokenizer). */
  static async create(
    tokenizer: MultimodalTokenizer,
    opts: { preset?: PresetName; config?: Partial<MoEConfig>; seed?: number; backend?: BackendName } = {},
  ): Promise<Session> {
    const device = await initBackend(opts.backend);
    const config = defaultMoEConfig(opts.preset ?? 'small', { ...opts.config, vocabSize: tokenizer.vocabSize });
    return new Session(MoEModel.init(config, opts.seed ?? 0), tokenizer, device, `new ${opts.preset ?? 'small'} model`);
  }

  /** Saves a checkpoint directory (atomically; an existing one is replaced only when complete). */
  save(dir: string, opts: { dtype?: CheckpointDtype; extra?: Record<string, unknown> } = {}): void {
    saveCheckpoint(dir, {
      config: this.config,
      params: this.model.toHost(),
      tokenizer: this.tokenizer.toHF(),
      tokenizerLayout: { ...this.tokenizer.layout(), vocabSize: this.tokenizer.vocabSize },
      dtype: opts.dtype ?? 'float32',
      extra: opts.extra,
    });
  }

  /** A summary for `switchboard info` and notebooks. */
  info(): Record<string, unknown> {
    const c = this.config;
    const t = this.tokenizer;
    return {
      source: this.source,
      parameters: countParams(c),
      config: c,
      vocabulary: {
        total: t.vocabSize,
        text: t.textVocabSize,
        imageCodes: t.numImageCodes,
        imageGrid: t.hasImages ? t.imageGrid : null,
        vokens: t.numVokens,
      },
      device: this.device,
    };
  }

  encode(prompt: Prompt, opts: { addBos?: boolean } = {}): EncodedPrompt {
    return this.tokenizer.encodePrompt(prompt, opts);
  }

  /** What the decoder needs to know about the vocabulary. */
  decodeVocab(): DecodeVocab {
    const t = this.tokenizer;
    return {
      vocabSize: t.vocabSize,
      bos: t.bos,
      eos: t.eos,
      pad: t.pad,
      ...(t.hasUnconditional ? { unconditional: t.unconditional } : {}),
      image: t.hasImages
        ? { boi: t.boi, eoi: t.eoi, codeStart: t.imageCodeId(0), numCodes: t.numImageCodes, grid: t.imageGrid }
        : undefined,
      pieceOf: (id) => t.pieceOf(id),
      modalityOf: (id) => t.modalityOf(id),
    };
  }

  /**
   * Position metadata of token ids (one sequence, or a batch of equal-length rows flattened): what
   * every forward path hands the adapters (model/positions.ts says what each field means).
   */
  positions(ids: readonly number[] | readonly (readonly number[])[]): PositionMeta {
    return positionMeta(ids, this.decodeVocab());
  }

  /**
   * Step decoding: `for await (const step of session.generate(prompt, opts))`. The prompt is checked
   * (and its length against the context) before any compute.
   */
  generate(prompt: Prompt, opts: SessionGenerateOptions = {}): Generation {
    const enc = this.encode(prompt);
    const ids = enc.ids.slice();
    if (opts.startImage) ids.push(this.tokenizer.boi);
    let uncond: number[] | null = null;
    if (opts.cfgUnconditional !== undefined && !CFG_UNCONDITIONAL_MODES.includes(opts.cfgUnconditional)) {
      throw new Error(`cfgUnconditional must be one of ${CFG_UNCONDITIONAL_MODES.join(', ')}, got ${JSON.stringify(opts.cfgUnconditional)}`);
    }
    if ((opts.cfgScale ?? 1) !== 1) {
      const t = this.tokenizer;
      uncond = unconditionalPrompt(ids, (id) => t.modalityOf(id), opts.cfgUnconditional, t.hasUnconditional ? t.unconditional : undefined);
    }
    return new Generation(this.model, this.decodeVocab(), ids, uncond, { ...opts, maxNewTokens: resolveMaxNewTokens(this.tokenizer, opts) });
  }

  /** Routing of every token of a prompt (one forward, without the LM head). */
  trace(prompt: Prompt | { ids: number[] }, capture: CaptureLevel = 'routing'): RoutingTrace {
    let enc: EncodedPrompt;
    if (typeof prompt === 'object' && !Array.isArray(prompt) && 'ids' in prompt) {
      const t = this.tokenizer;
      enc = { ids: prompt.ids, modalities: prompt.ids.map((i) => t.modalityOf(i)), grid: gridOf(this, prompt.ids) };
    } else {
      enc = this.encode(prompt);
    }
    // routing only: no row of the LM head is read, so none is computed
    const r = this.model.forwardRows([enc.ids], [], { capture: capture === 'none' ? 'routing' : capture, positions: this.positions(enc.ids) });
    const c = this.config;
    return {
      ids: enc.ids,
      pieces: enc.ids.map((i) => this.tokenizer.pieceOf(i)),
      modalities: enc.modalities,
      grid: enc.grid,
      numLayers: c.numLayers,
      numExperts: c.numExperts,
      topK: c.topK,
      layers: r.routing,
    };
  }

  /** Trains in place. With `runDir`, checkpoints there and resumes after a restart. */
  train(opts: Omit<TrainOptions, 'saveModel' | 'modalityOf' | 'positionsOf'>): Promise<TrainResult> {
    return train(this.model, {
      ...opts,
      modalityOf: (id) => this.tokenizer.modalityOf(id),
      positionsOf: (rows) => this.positions(rows),
      saveModel: (dir, extra) => this.save(dir, { extra }),
    });
  }

  /**
   * A new session whose vocabulary adds image codes, <boi>/<eoi>/<img> and vokens to this text-only
   * one; embedding rows and LM-head columns for new ids are initialised by `init` (default
   * 'mean-noise'; 'gromov-wasserstein' matches the geometry of `codebook`, the VQ codebook [K, D], to
   * the text embeddings'). This session is left unchanged.
   */
  extendWithImages(opts: ImageVocabularyOptions & { init?: string; seed?: number; codebook?: HostTensor }): Session {
    const tokenizer = this.tokenizer.extendWithImages(opts);
    if (opts.codebook && opts.codebook.shape[0] !== tokenizer.numImageCodes) {
      throw new Error(`codebook has ${opts.codebook.shape[0]} rows but numImageCodes is ${tokenizer.numImageCodes}`);
    }
    const extras = { imageCodebook: opts.codebook, imageCodeOffset: tokenizer.imageCodeId(0) - this.tokenizer.vocabSize, textRows: this.tokenizer.textVocabSize };
    const grown = growVocabulary(this.config, this.model.toHost() as Map<string, HostTensor>, tokenizer.vocabSize, opts.init, opts.seed, extras);
    return new Session(MoEModel.fromHost(grown.config, grown.params), tokenizer, this.device, `${this.source} + images`);
  }

  /**
   * A new session whose vocabulary adds Liquid's <unconditional> token as the last id (one embedding row
   * and head column, initialised by `init`, default 'mean': the mean of the existing rows, as Liquid
   * initialises new tokens). Every other weight and id is unchanged; this session is left as it is.
   */
  withUnconditional(opts: { init?: string; seed?: number } = {}): Session {
    const tokenizer = this.tokenizer.withUnconditional();
    const grown = growVocabulary(this.config, this.model.toHost() as Map<string, HostTensor>, tokenizer.vocabSize, opts.init ?? 'mean', opts.seed, { textRows: this.tokenizer.textVocabSize });
    return new Session(MoEModel.fromHost(grown.config, grown.params), tokenizer, this.device, `${this.source} + <unconditional>`);
  }

  dispose(): void {
    this.model.dispose();
  }
}

function gridOf(s: Session, ids: number[]): (GridPos | null)[] {
  const t = s.tokenizer;
  const out: (GridPos | null)[] = [];
  let k = -1;
  let image = -1;
  const W = t.hasImages ? t.imageGrid.width : 1;
  for (const id of ids) {
    if (t.hasImages && id === t.boi) {
      k = 0;
      image++;
      out.push(null);
    } else if (k >= 0 && t.isImageCode(id)) {
      out.push({ image, row: Math.floor(k / W), col: k % W });
      k++;
    } else {
      if (t.hasImages && id === t.eoi) k = -1;
      out.push(null);
    }
  }
  return out;
}
