/**
 * MoEConfig: one config for the model family (a decoder-only transformer whose feed-forward blocks are
 * Mixtral-style sparse MoE layers), a preset table, and one validation function whose messages name the
 * field. Names are camelCase here; `checkpoint/hf-config.ts` maps them to Hugging Face Mixtral keys.
 */
export interface MoEConfig {
  /** Total vocabulary: text tokens + image codes + specials + vokens. */
  vocabSize: number;
  /** d_model. */
  hiddenSize: number;
  /** Hidden width of one expert's SwiGLU (Mixtral `intermediate_size`). */
  intermediateSize: number;
  numLayers: number;
  numHeads: number;
  /** Grouped-query attention: key/value heads (divides numHeads). */
  numKvHeads: number;
  /** Experts per MoE layer (Mixtral `num_local_experts`). */
  numExperts: number;
  /** Experts each token is routed to (Mixtral `num_experts_per_tok`). */
  topK: number;
  /** Renormalise the k chosen router probabilities to sum to 1 (Mixtral does). */
  normTopKProb: boolean;
  /** Width of an always-on shared expert (0 = none). */
  sharedExpertSize: number;
  ropeTheta: number;
  rmsNormEps: number;
  /** Longest sequence (prompt + generated) a session accepts. */
  maxPositions: number;
  tieWordEmbeddings: boolean;
  /** Weight of the Switch-style load-balancing loss (Mixtral `router_aux_loss_coef`). */
  routerAuxLossCoef: number;
  /** Std of the normal initialisation of weights. */
  initStd: number;
}

/** The sizes of the scaling ladder (Liquid's question "does it follow scaling?"), by width. */
export const SIZE_PRESETS = ['moe-h64', 'moe-h96', 'moe-h128', 'moe-h192'] as const;
export type SizePresetName = (typeof SIZE_PRESETS)[number];
export type PresetName = 'tiny' | 'small' | SizePresetName;

const BASE: MoEConfig = {
  vocabSize: 4096,
  hiddenSize: 128,
  // LLaMA-MoE builds its 16 experts by splitting one dense FFN into 16 slices; here a dense FFN of
  // width 1024 (8·hidden) split 16 ways gives experts of width 64, top-4 active (a quarter of it).
  intermediateSize: 64,
  numLayers: 4,
  numHeads: 4,
  numKvHeads: 4,
  numExperts: 16,
  topK: 4,
  normTopKProb: true,
  sharedExpertSize: 0,
  ropeTheta: 10000,
  rmsNormEps: 1e-5,
  maxPositions: 1024,
  tieWordEmbeddings: false,
  routerAuxLossCoef: 0.01,
  initStd: 0.02,
};

/**
 * Presets. `small` mirrors LLaMA-MoE 4/16 (16 experts, top-4) at workbench scale: ~3.2M parameters
 * with a 4.6k vocabulary (untied embedding and head). `tiny` is for tests (well under 1M parameters).
 */
export const PRESETS: Readonly<Record<PresetName, MoEConfig>> = {
  tiny: {
    ...BASE,
    vocabSize: 512,
    hiddenSize: 32,
    intermediateSize: 32,
    numLayers: 2,
    numHeads: 4,
    numKvHeads: 2,
    numExperts: 4,
    topK: 2,
    maxPositions: 128,
  },
  small: { ...BASE },
  ...sizeLadder(),
};

/**
 * A ladder of sizes for scaling studies: 16 experts top-4 throughout, head size 32 (numHeads = H/32),
 * expert width H/2 (the `small` rule: a dense FFN of 8·H split 16 ways), depth 4 except the widest at 6.
 * Non-embedding parameters grow ≈ 28·H²·L, so the ladder spans ~13× (h64 → h192); `moe-h128` is `small`
 * (text-moe-small's size).
 */
function sizeLadder(): Record<SizePresetName, MoEConfig> {
  const rung = (H: number, L: number): MoEConfig => ({ ...BASE, hiddenSize: H, intermediateSize: H / 2, numHeads: H / 32, numKvHeads: H / 32, numLayers: L });
  return { 'moe-h64': rung(64, 4), 'moe-h96': rung(96, 4), 'moe-h128': rung(128, 4), 'moe-h192': rung(192, 6) };
}

/** A preset, optionally with fields overridden; the result is validated. */
export function defaultMoEConfig(preset: PresetName = 'small', overrides: Partial<MoEConfig> = {}): MoEConfig {
  const base = PRESETS[preset];
  if (base === undefined) {
    throw new Error(`Unknown preset '${String(preset)}'; expected one of ${Object.keys(PRESETS).join(', ')}`);
  }
  const cfg = { ...base, ...overrides };
  validateMoEConfig(cfg);
  return cfg;
}

const INTEGER_FIELDS = [
  'vocabSize', 'hiddenSize', 'intermediateSize', 'numLayers', 'numHeads', 'numKvHeads', 'numExperts', 'topK',
  'maxPositions',
] as const;

/**
 * Upper bounds of the size fields: generous for real checkpoints (Mixtral 8×7B, 256k vocabularies,
 * million-token contexts) but refusing a number that would only make allocations fail far from the
 * config ("Invalid typed array length") or eat memory for nothing.
 */
export const SIZE_LIMITS: Readonly<Record<(typeof INTEGER_FIELDS)[number] | 'sharedExpertSize', number>> = {
  vocabSize: 1 << 21,
  hiddenSize: 1 << 16,
  intermediateSize: 1 << 18,
  numLayers: 1024,
  numHeads: 1024,
  numKvHeads: 1024,
  numExperts: 1024,
  topK: 1024,
  maxPositions: 1 << 20,
  sharedExpertSize: 1 << 18,
};

/** Most numbers one weight array may hold (a typed array's limit). */
const MAX_TENSOR_ELEMENTS = 2 ** 31 - 1;

/** Throws an Error naming the first bad field. Returns the config typed as valid. */
export function validateMoEConfig(cfg: unknown): MoEConfig {
  if (typeof cfg !== 'object' || cfg === null) throw new Error('MoEConfig must be an object');
  const c = cfg as Record<string, unknown>;
  for (const f of INTEGER_FIELDS) {
    const v = c[f];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) {
      throw new Error(`MoEConfig.${f} must be a positive integer, got ${JSON.stringify(v)}`);
    }
    if (v > SIZE_LIMITS[f]) throw new Error(`MoEConfig.${f} must be at most ${SIZE_LIMITS[f]}, got ${v}`);
  }
  const sh = c.sharedExpertSize;
  if (typeof sh !== 'number' || !Number.isInteger(sh) || sh < 0) {
    throw new Error(`MoEConfig.sharedExpertSize must be a non-negative integer (0 = no shared expert), got ${JSON.stringify(sh)}`);
  }
  if (sh > SIZE_LIMITS.sharedExpertSize) throw new Error(`MoEConfig.sharedExpertSize must be at most ${SIZE_LIMITS.sharedExpertSize}, got ${sh}`);
  for (const f of ['ropeTheta', 'rmsNormEps', 'initStd'] as const) {
    const v = c[f];
    if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) {
      throw new Error(`MoEConfig.${f} must be a positive finite number, got ${JSON.stringify(v)}`);
    }
  }
  const aux = c.routerAuxLossCoef;
  if (typeof aux !== 'number' || !Number.isFinite(aux) || aux < 0) {
    throw new Error(`MoEConfig.routerAuxLossCoef must be a non-negative finite number, got ${JSON.stringify(aux)}`);
  }
  for (const f of ['normTopKProb', 'tieWordEmbeddings'] as const) {
    if (typeof c[f] !== 'boolean') throw new Error(`MoEConfig.${f} must be a boolean, got ${JSON.stringify(c[f])}`);
  }
  const n = c as unknown as MoEConfig;
  if (n.hiddenSize % n.numHeads !== 0) {
    throw new Error(`MoEConfig.numHeads (${n.numHeads}) must divide hiddenSize (${n.hiddenSize})`);
  }
  if ((n.hiddenSize / n.numHeads) % 2 !== 0) {
    throw new Error(`MoEConfig.numHeads: head size hiddenSize/numHeads = ${n.hiddenSize / n.numHeads} must be even for RoPE`);
  }
  if (n.numHeads % n.numKvHeads !== 0) {
    throw new Error(`MoEConfig.numKvHeads (${n.numKvHeads}) must divide numHeads (${n.numHeads})`);
  }
  if (n.topK > n.numExperts) {
    throw new Error(`MoEConfig.topK (${n.topK}) must be at most numExperts (${n.numExperts})`);
  }
  // Each weight must fit one array: the embedding/head [V, H] and the stacked experts [H, 2·E·I].
  const big: [string, number, string][] = [
    ['vocabSize', n.vocabSize * n.hiddenSize, 'the embedding (vocabSize × hiddenSize)'],
    ['intermediateSize', n.hiddenSize * 2 * n.numExperts * n.intermediateSize, 'the stacked experts (hiddenSize × 2 × numExperts × intermediateSize)'],
  ];
  for (const [f, count, what] of big) {
    if (count > MAX_TENSOR_ELEMENTS) throw new Error(`MoEConfig.${f}: ${what} would hold ${count} numbers, more than one weight array can (${MAX_TENSOR_ELEMENTS})`);
  }
  const known = new Set<string>([...INTEGER_FIELDS, 'sharedExpertSize', 'ropeTheta', 'rmsNormEps', 'initStd',
    'routerAuxLossCoef', 'normTopKProb', 'tieWordEmbeddings']);
  for (const k of Object.keys(c)) {
    if (!known.has(k)) throw new Error(`MoEConfig has an unknown field '${k}'`);
  }
  return n;
}

/** Size of one attention head. */
export function headDim(cfg: MoEConfig): number {
  return cfg.hiddenSize / cfg.numHeads;
}
