/**
 * MoEConfig <-> a Hugging Face Mixtral `config.json`.
 *
 * Every MoEConfig field Mixtral has a key for is written under that key; the rest goes in a
 * `switchboard` block:
 *
 *   "switchboard": { "format_version": 1, "norm_topk_prob": true, "shared_expert_size": 0,
 *                    "tokenizer_layout": {...caller's layout...}, ...caller's extra keys }
 *
 * A config without the block (a stock Mixtral config) reads as normTopKProb = true (Mixtral
 * renormalises its top-k) and no shared expert. Unknown top-level keys are ignored: real HF configs
 * carry many (bos_token_id, use_cache, sliding_window, transformers_version, ...).
 * A checkpoint HF transformers can load as MixtralForCausalLM needs normTopKProb = true and
 * sharedExpertSize = 0; otherwise the block says how Switchboard's model differs.
 */
import { MoEConfig, validateMoEConfig } from '../model/config';
import { CheckpointError } from './errors';
import { assertPlainJson, isPlainObject } from './json';

export const SWITCHBOARD_FORMAT_VERSION = 1;

export type TorchDtype = 'float32' | 'float16' | 'bfloat16';
const TORCH_DTYPES: readonly TorchDtype[] = ['float32', 'float16', 'bfloat16'];

/** MoEConfig fields stored under a Mixtral key, in the order they are written. */
const MIXTRAL_KEYS: readonly (readonly [keyof MoEConfig, string, 'number' | 'boolean'])[] = [
  ['vocabSize', 'vocab_size', 'number'],
  ['hiddenSize', 'hidden_size', 'number'],
  ['intermediateSize', 'intermediate_size', 'number'],
  ['numLayers', 'num_hidden_layers', 'number'],
  ['numHeads', 'num_attention_heads', 'number'],
  ['numKvHeads', 'num_key_value_heads', 'number'],
  ['numExperts', 'num_local_experts', 'number'],
  ['topK', 'num_experts_per_tok', 'number'],
  ['maxPositions', 'max_position_embeddings', 'number'],
  ['ropeTheta', 'rope_theta', 'number'],
  ['rmsNormEps', 'rms_norm_eps', 'number'],
  ['tieWordEmbeddings', 'tie_word_embeddings', 'boolean'],
  ['routerAuxLossCoef', 'router_aux_loss_coef', 'number'],
  ['initStd', 'initializer_range', 'number'],
];

/** MoEConfig fields stored in the `switchboard` block. */
const SWITCHBOARD_KEYS: readonly (readonly [keyof MoEConfig, string, 'number' | 'boolean'])[] = [
  ['normTopKProb', 'norm_topk_prob', 'boolean'],
  ['sharedExpertSize', 'shared_expert_size', 'number'],
];

const RESERVED_BLOCK_KEYS = new Set(['format_version', 'tokenizer_layout', ...SWITCHBOARD_KEYS.map(([, k]) => k)]);

export interface HfConfigOptions {
  /** How the tokenizer's ids are laid out (opaque here; a numeric `vocabSize` must equal cfg.vocabSize). */
  tokenizerLayout?: object | null;
  /** More keys for the switchboard block (e.g. training info); must be plain JSON. */
  extra?: object;
  /** The dtype the weights are stored in (HF `torch_dtype`). */
  torchDtype?: TorchDtype;
}

export interface ParsedHfConfig {
  config: MoEConfig;
  tokenizerLayout: Record<string, unknown> | null;
  /** The switchboard block's keys other than the reserved ones ({} when there is no block). */
  extra: Record<string, unknown>;
  torchDtype: TorchDtype | null;
}

/** The config.json object for `cfg`. Throws CheckpointError (file `config.json`) for a bad config or options. */
export function toHfConfig(cfg: MoEConfig, options: HfConfigOptions = {}, file = 'config.json'): Record<string, unknown> {
  try {
    validateMoEConfig(cfg);
  } catch (err) {
    throw new CheckpointError(file, (err as Error).message);
  }
  const layout = options.tokenizerLayout ?? null;
  if (layout !== null) {
    if (!isPlainObject(layout)) throw new CheckpointError(file, 'tokenizer_layout must be a plain JSON object');
    assertPlainJson(layout, 'tokenizer_layout', file);
    checkLayoutVocab(cfg.vocabSize, layout, file);
  }
  const extra = options.extra ?? {};
  if (!isPlainObject(extra)) throw new CheckpointError(file, 'extra must be a plain JSON object');
  assertPlainJson(extra, 'extra', file);
  for (const k of Object.keys(extra)) {
    if (RESERVED_BLOCK_KEYS.has(k)) throw new CheckpointError(file, `extra key "${k}" is reserved in the switchboard block`);
  }

  const out: Record<string, unknown> = {
    architectures: ['MixtralForCausalLM'],
    model_type: 'mixtral',
    hidden_act: 'silu',
  };
  for (const [field, key] of MIXTRAL_KEYS) out[key] = cfg[field];
  if (options.torchDtype !== undefined) out.torch_dtype = options.torchDtype;
  const block: Record<string, unknown> = { format_version: SWITCHBOARD_FORMAT_VERSION };
  for (const [field, key] of SWITCHBOARD_KEYS) block[key] = cfg[field];
  block.tokenizer_layout = layout;
  Object.assign(block, extra);
  out.switchboard = block;
  return out;
}

/**
 * Reads a parsed config.json. Errors (CheckpointError, message `<file>: ...`) name the key:
 * `missing "hidden_size"`, `"hidden_size" must be a number, got "32"`; a config that fails
 * validateMoEConfig gives `<file>: <its message> (key "num_experts_per_tok")`.
 */
export function parseHfConfig(json: unknown, file = 'config.json'): ParsedHfConfig {
  const fail = (detail: string): never => {
    throw new CheckpointError(file, detail);
  };
  if (!isPlainObject(json)) return fail('not a JSON object');
  if (!('model_type' in json)) fail('missing "model_type"');
  if (json.model_type !== 'mixtral') fail(`"model_type" must be "mixtral", got ${JSON.stringify(json.model_type)}`);
  if ('hidden_act' in json && json.hidden_act !== 'silu') {
    fail(`"hidden_act" must be "silu" (the only activation Switchboard implements), got ${JSON.stringify(json.hidden_act)}`);
  }
  let torchDtype: TorchDtype | null = null;
  if ('torch_dtype' in json && json.torch_dtype !== null) {
    if (!TORCH_DTYPES.includes(json.torch_dtype as TorchDtype)) {
      fail(`"torch_dtype" must be one of ${TORCH_DTYPES.map((d) => `"${d}"`).join(', ')}, got ${JSON.stringify(json.torch_dtype)}`);
    }
    torchDtype = json.torch_dtype as TorchDtype;
  }

  const cfg: Record<string, unknown> = {};
  const take = (from: Record<string, unknown>, key: string, type: 'number' | 'boolean', shown: string): unknown => {
    if (!(key in from)) fail(`missing "${shown}"`);
    const v = from[key];
    if (typeof v !== type) fail(`"${shown}" must be a ${type}, got ${JSON.stringify(v)}`);
    return v;
  };
  for (const [field, key, type] of MIXTRAL_KEYS) cfg[field] = take(json, key, type, key);

  let tokenizerLayout: Record<string, unknown> | null = null;
  const extra: Record<string, unknown> = {};
  if ('switchboard' in json) {
    const block = json.switchboard;
    if (!isPlainObject(block)) return fail(`"switchboard" must be an object, got ${JSON.stringify(block)}`);
    if (!('format_version' in block)) fail('missing "switchboard.format_version"');
    if (block.format_version !== SWITCHBOARD_FORMAT_VERSION) {
      fail(`"switchboard.format_version" is ${JSON.stringify(block.format_version)}; this Switchboard reads format ${SWITCHBOARD_FORMAT_VERSION}`);
    }
    for (const [field, key, type] of SWITCHBOARD_KEYS) cfg[field] = take(block, key, type, `switchboard.${key}`);
    const layout = block.tokenizer_layout ?? null;
    if (layout !== null && !isPlainObject(layout)) {
      fail(`"switchboard.tokenizer_layout" must be an object or null, got ${JSON.stringify(layout)}`);
    }
    tokenizerLayout = layout as Record<string, unknown> | null;
    for (const [k, v] of Object.entries(block)) if (!RESERVED_BLOCK_KEYS.has(k)) extra[k] = v;
  } else {
    cfg.normTopKProb = true; // what Mixtral does
    cfg.sharedExpertSize = 0;
  }

  let config: MoEConfig;
  try {
    config = validateMoEConfig(cfg);
  } catch (err) {
    const msg = (err as Error).message;
    const field = /MoEConfig\.(\w+)/.exec(msg)?.[1];
    const key = [...MIXTRAL_KEYS, ...SWITCHBOARD_KEYS.map(([f, k, t]) => [f, `switchboard.${k}`, t] as const)]
      .find(([f]) => f === field)?.[1];
    return fail(key === undefined ? msg : `${msg} (key "${key}")`);
  }
  if (tokenizerLayout !== null) checkLayoutVocab(config.vocabSize, tokenizerLayout, file);
  return { config, tokenizerLayout, extra, torchDtype };
}

/** A layout that states its vocabulary size must agree with the model's. */
function checkLayoutVocab(vocabSize: number, layout: object, file: string): void {
  const v = (layout as Record<string, unknown>).vocabSize;
  if (typeof v === 'number' && v !== vocabSize) {
    throw new CheckpointError(file, `"vocab_size" is ${vocabSize} but switchboard.tokenizer_layout.vocabSize is ${v}; the embedding and the tokenizer disagree`);
  }
}
