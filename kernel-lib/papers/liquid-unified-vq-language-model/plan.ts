/**
 * The whole Liquid plan (issue #16): every arm `npm run train:liquid -- --arm NAME` trains, its budget,
 * and what the plan costs on one core.
 *
 * Text pretraining. Each size of the ladder (model/config.ts SIZE_PRESETS) is first trained on Brown
 * (train documents) by the project's text recipe (recipes/text-moe-small.ts trainTextLm) with the SAME
 * TOKENS FOR ALL: 1,600 steps of 8 × 128 = 1,638,400 tokens, text-moe-small's own run. Why not the same
 * tokens per parameter: Liquid starts from existing LLMs, and its Qwen2.5 family (0.5B–32B) was itself
 * pretrained on the same 18T tokens at every size; and text-moe-small, the size moe-h128 matches, is
 * reused as it ships (a per-parameter rule anchored on it would give moe-h192 5.6M tokens, more than
 * this whole plan's budget).
 *
 * Continuation. Every size continues from its text checkpoint, vocabulary unified (plan arms below;
 * recipe.ts), batches of 24 rows of up to 104 tokens (105 with the shifted target: an image → caption
 * row is at most 102 tokens + <eos>, measured on the train pools; 24 is the smallest batch that holds every
 * mixture below exactly), lr 1e-3 warmup + cosine to 1e-4:
 *
 *   <size>-text        text only (1:0:0)                     ┐ experiment 1: the same text tokens,
 *   <size>-mixed       text : t2i : understanding = 1:1:1    ┘ TEXT_TOKENS each (planArms); 2 and 3 use
 *                                                              -mixed's checkpoints too
 *   <size>-gen         t2i only, the same t2i rows as -mixed   experiment 3's control
 *   moe-h64-add-t2i    1:2:1  (text tokens matched)          ┐ experiment 4 at MUTUAL_SIZE: Liquid's
 *   moe-h64-add-i2t    1:1:2  (text tokens matched)          │ "Add T2I" / "Add I2T" (40M rows vs the
 *   moe-h64-matched    1:1:1, as many steps as the two above │ baseline's 30M) and the two controls the
 *   moe-h64-add-text   2:1:1, as many steps as the two above ┘ paper lacks
 *
 * The understanding third is half image → caption, half image → answer (UNDERSTANDING), so the
 * questions the understanding evaluation asks are a task the model trained on.
 *
 * The budget arithmetic (`npm run train:liquid -- --plan` prints it: CPU time on one core estimated by
 * budget.ts from a measured training step of the `tiny` preset — hidden 32, 2 layers, the unified vocabulary
 * of 4,615 ids, 24 × 104 tokens — scaled by training FLOPs; measured 780–1,007 ms, median 835 ms, with both
 * cores busy with other trainings):
 *   pretraining moe-h64, moe-h96, moe-h192: 1.64M tokens each (3.0M, 5.2M, 19.9M FLOPs a token)  4.1 h
 *   continuations, T = 77,376 text tokens: per size text (T) + mixed (3T) + gen (T) row tokens; at
 *     moe-h64 a second seed of -mixed (3T) and two seeds of the four experiment-4 arms (4T each)       2.1 h
 *   evaluation at 5 checkpoints per run (Brown, image rows, 16 images drawn with CFG; at the last also
 *     captions, 96 questions, routing)                                                                 0.4 h
 *   total at the median calibration                                                                   6.6 h  (6.2–8.0 h over the five)
 * It is an upper bound: larger configs run at a higher FLOP rate than `tiny` (moe-h64 measured 0.91× and
 * moe-h128 0.53× their FLOP-scaled step times), so `--text-tokens` can raise T once the first runs'
 * metrics.json (stepTime.meanCpuMs) give real step times.
 */
import { PRESETS, SizePresetName, SIZE_PRESETS } from '../../model/config';
import type { MoEConfig } from '../../model/config';
import { LiquidArm, LiquidArmSpec, languageCostArms, planArms, understandingShare } from './arms';
import { StepCalibration, trainSeconds } from './budget';

/** Text pretraining: text-moe-small's shipped run (1,600 steps of 8 × 128 tokens, lr 2e-3). */
export const PRETRAIN = { steps: 1600, batchSize: 8, seqLen: 128, lr: 2e-3 } as const;
/** Sizes whose text checkpoint ships (data/checkpoints/<name>) rather than being trained here. */
export const SHIPPED_TEXT: Readonly<Partial<Record<SizePresetName, string>>> = { 'moe-h128': 'text-moe-small' };

/** Continuation defaults (see the file comment). */
export const CONTINUE = {
  batchSize: 24,
  seqLen: 104,
  /** Text tokens of every text-matched arm (rounded up to the plan's common unit, 2,496 here: 77,376). */
  textTokens: 75_000,
  lr: 1e-3,
  /** Evaluation checkpoints per run (the scaling figure's steps). */
  evalPoints: 5,
  checkpointEvery: 25,
} as const;

/** The understanding third of a mixture: image → caption and image → answer, half each. */
export const UNDERSTANDING = { i2t: 1, i2a: 1 } as const;
/** Experiment 4's size: the cheapest, so its five arms can have two seeds. */
export const MUTUAL_SIZE: SizePresetName = 'moe-h64';
/** Seeds of each group in the default plan (the compute allows two only for experiment 4). */
export const SEEDS = { languageCost: [0], genOnly: [0], mutual: [0, 1] } as const;

/** Held-out evaluation at each checkpoint (test split; evaluate.ts). */
export const EVAL = {
  /** Brown test windows of `brownSeqLen` tokens (the language-cost items). */
  brownWindows: 64,
  brownSeqLen: 128,
  /** Held-out caption → image rows: image-code NLL and accuracy, and the conditioning gap (own vs shuffled caption). */
  t2iItems: 64,
  /** Held-out image → caption rows: caption NLL. */
  i2tItems: 64,
  /** Held-out questions, ranked by likelihood. */
  questions: 96,
  /** Held-out scene captions drawn with CFG and scored by CLIP-T and the scene checker. */
  drawn: 16,
  /** Liquid's guidance scale at sampling. */
  cfgScale: 7,
  /** Held-out rows whose routing is traced (half t2i, half i2t). */
  routingRows: 16,
} as const;

export type ArmGroup = 'language-cost' | 'gen-only' | 'mutual';

/** A continuation arm of the plan. */
export interface PlanArm extends LiquidArm {
  group: ArmGroup;
  description: string;
  seeds: readonly number[];
}

/** A text-pretraining arm (`text-<size>`). */
export interface PretrainArm {
  name: string;
  size: SizePresetName;
  steps: number;
  batchSize: number;
  seqLen: number;
  tokens: number;
  /** The shipped checkpoint it is (nothing to train), when there is one. */
  shipped?: string;
}

export interface LiquidPlan {
  pretrain: PretrainArm[];
  arms: PlanArm[];
  /** The common text budget of the text-matched arms. */
  textTokens: number;
}

const RATIO_TEXT: Record<string, string> = {
  text: 'text only (1:0:0)',
  mixed: 'text : caption → image : understanding 1:1:1',
  gen: 'caption → image only, the same caption → image rows as -mixed',
  'add-t2i': "1:2:1, Liquid's “Add T2I” (text tokens matched)",
  'add-i2t': "1:1:2, Liquid's “Add I2T” (text tokens matched)",
  matched: '1:1:1 for as many steps as add-t2i / add-i2t (compute-matched control)',
  'add-text': '2:1:1 for as many steps as add-t2i / add-i2t (extra-text control)',
};

/** The text pretraining arm of each size. */
export function pretrainArms(sizes: readonly SizePresetName[] = SIZE_PRESETS): PretrainArm[] {
  return sizes.map((size) => ({
    name: `text-${size}`,
    size,
    steps: PRETRAIN.steps,
    batchSize: PRETRAIN.batchSize,
    seqLen: PRETRAIN.seqLen,
    tokens: PRETRAIN.steps * PRETRAIN.batchSize * PRETRAIN.seqLen,
    ...(SHIPPED_TEXT[size] ? { shipped: SHIPPED_TEXT[size] } : {}),
  }));
}

/**
 * The plan: every pretraining and continuation arm with its steps (see the file comment). `textTokens`,
 * `batchSize` and `seqLen` change the continuation budget (tests shrink it).
 */
export function liquidPlan(o: { textTokens?: number; batchSize?: number; seqLen?: number; sizes?: readonly SizePresetName[]; mutualSize?: SizePresetName } = {}): LiquidPlan {
  const sizes = o.sizes ?? SIZE_PRESETS;
  const mutual = o.mutualSize ?? MUTUAL_SIZE;
  if (!sizes.includes(mutual)) throw new Error(`liquidPlan: the mutual-improvement size ${mutual} is not among the sizes (${sizes.join(', ')})`);
  const und = (total: number) => understandingShare(UNDERSTANDING, total);
  const matchedSpecs: LiquidArmSpec[] = [
    ...languageCostArms(sizes, UNDERSTANDING),
    { name: `${mutual}-add-t2i`, size: mutual, ratios: { text: 1, t2i: 2, ...und(1) } },
    { name: `${mutual}-add-i2t`, size: mutual, ratios: { text: 1, t2i: 1, ...und(2) } },
  ];
  const budget = { textTokens: o.textTokens ?? CONTINUE.textTokens, batchSize: o.batchSize ?? CONTINUE.batchSize, seqLen: o.seqLen ?? CONTINUE.seqLen };
  const matched = planArms(matchedSpecs, budget);
  const byName = new Map(matched.map((a) => [a.name, a]));
  const longSteps = (byName.get(`${mutual}-add-t2i`) as LiquidArm).steps;
  // gen-only: the t2i rows of the size's mixed arm, in batches of t2i rows only
  const genSpecs: LiquidArmSpec[] = sizes.map((size) => {
    const mixed = byName.get(`${size}-mixed`) as LiquidArm;
    const steps = (mixed.steps * mixed.rowsPerBatch.t2i) / budget.batchSize;
    if (!Number.isInteger(steps)) throw new Error(`liquidPlan: ${size}-gen would need ${steps} steps to match ${size}-mixed's caption → image rows; change the batch or the text budget`);
    return { name: `${size}-gen`, size, ratios: { t2i: 1 }, steps };
  });
  const fixed = planArms(
    [
      ...genSpecs,
      { name: `${mutual}-matched`, size: mutual, ratios: { text: 1, t2i: 1, ...und(1) }, steps: longSteps },
      { name: `${mutual}-add-text`, size: mutual, ratios: { text: 2, t2i: 1, ...und(1) }, steps: longSteps },
    ],
    budget,
  );
  const textTokens = (byName.get(`${sizes[0]}-text`) as LiquidArm).textTokens;
  const kind = (a: LiquidArm) => a.name.slice(a.size.length + 1);
  const group = (a: LiquidArm): ArmGroup => (kind(a) === 'text' || kind(a) === 'mixed' ? 'language-cost' : kind(a) === 'gen' ? 'gen-only' : 'mutual');
  const seeds = (a: LiquidArm): readonly number[] => {
    if (a.size === mutual && (kind(a) === 'mixed' || group(a) === 'mutual')) return SEEDS.mutual;
    return group(a) === 'gen-only' ? SEEDS.genOnly : SEEDS.languageCost;
  };
  const order = [...matched, ...fixed];
  const arms = sizes.flatMap((size) => order.filter((a) => a.size === size)).map((a) => ({
    ...a,
    group: group(a),
    description: RATIO_TEXT[kind(a)],
    seeds: seeds(a),
  }));
  return { pretrain: pretrainArms(sizes), arms, textTokens };
}

/** Every arm name `train:liquid --arm` takes: the text pretraining arms that train here, then the plan's. */
export function armNames(plan: LiquidPlan = liquidPlan()): string[] {
  return [...plan.pretrain.filter((p) => !p.shipped).map((p) => p.name), ...plan.arms.map((a) => a.name)];
}

/** A named arm of the plan; an unknown name is an error listing them. */
export function findArm(name: string, plan: LiquidPlan = liquidPlan()): { kind: 'pretrain'; arm: PretrainArm } | { kind: 'continue'; arm: PlanArm } {
  const p = plan.pretrain.find((x) => x.name === name);
  if (p?.shipped) throw new Error(`${name} is ${p.shipped} (data/checkpoints/${p.shipped}), which ships: nothing to train`);
  if (p) return { kind: 'pretrain', arm: p };
  const a = plan.arms.find((x) => x.name === name);
  if (a) return { kind: 'continue', arm: a };
  throw new Error(`unknown arm '${name}'; expected one of ${armNames(plan).join(', ')}`);
}

/** The evaluation checkpoints of a run of `steps` steps: `points` steps spread evenly, the last at `steps`. */
export function evalSteps(steps: number, points: number = CONTINUE.evalPoints): number[] {
  if (!Number.isInteger(steps) || steps < 1) throw new Error(`evalSteps: steps must be a positive integer, got ${steps}`);
  if (!Number.isInteger(points) || points < 1) throw new Error(`evalSteps: points must be a positive integer, got ${points}`);
  return [...new Set(Array.from({ length: points }, (_, k) => Math.max(1, Math.round(((k + 1) * steps) / points))))];
}

/** The size of the unified vocabulary: the text tokenizer's, the VQ codes, <boi> <eoi> <img>, <unconditional>. */
export function unifiedVocab(textVocab: number, numCodes: number): number {
  return textVocab + numCodes + 3 + 1;
}

/** A size's config with a vocabulary (the plan's estimates). */
export const sizeConfig = (size: SizePresetName, vocabSize: number): MoEConfig => ({ ...PRESETS[size], vocabSize });

/**
 * Forward tokens of one evaluation checkpoint (image rows ~80, caption rows ~90 tokens; a question's
 * candidates each a row): 'text' Brown only; 'curve' Brown and the own and deranged caption → image rows;
 * 'all' (the last checkpoint) also the captions, questions and routing rows. Drawn images are counted apart.
 */
export function evalForwardTokens(measures: 'text' | 'curve' | 'all'): number {
  const brown = EVAL.brownWindows * EVAL.brownSeqLen;
  if (measures === 'text') return brown;
  const curve = brown + 2 * EVAL.t2iItems * 80;
  return measures === 'curve' ? curve : curve + EVAL.i2tItems * 90 + EVAL.questions * 4 * 80 + EVAL.routingRows * 85;
}

export interface ArmCost {
  name: string;
  seeds: number;
  /** Training CPU seconds of one seed. */
  trainSeconds: number;
  /** Evaluation CPU seconds of one seed (forward passes at a third of a training token; drawn tokens at a whole one). */
  evalSeconds: number;
}

/**
 * The plan's CPU seconds on one core from one measured step (budget.ts): pretraining of the sizes that do
 * not ship, then every continuation arm × its seeds. `textVocab` and `numCodes` give the vocabularies.
 */
export function planCost(plan: LiquidPlan, c: StepCalibration, o: { textVocab: number; numCodes: number }): { arms: ArmCost[]; totalSeconds: number } {
  const V = unifiedVocab(o.textVocab, o.numCodes);
  const arms: ArmCost[] = [];
  for (const p of plan.pretrain) {
    if (p.shipped) continue;
    const cfg = sizeConfig(p.size, o.textVocab);
    // its evaluation: val and test Brown (~85k tokens each) forward, a third of a training token each
    arms.push({ name: p.name, seeds: 1, trainSeconds: trainSeconds(cfg, p.seqLen, p.tokens, c), evalSeconds: trainSeconds(cfg, p.seqLen, (2 * 85_000) / 3, c) });
  }
  for (const a of plan.arms) {
    const cfg = sizeConfig(a.size, V);
    const textOnly = a.rowsPerBatch.text === a.batchSize;
    const drawn = textOnly ? 0 : EVAL.drawn * 2 * (20 + 66); // CFG: two rows per step, prompt + codes
    // forward tokens at a third of a training token, drawn tokens (one-row decode steps) at a whole one
    const points = textOnly
      ? CONTINUE.evalPoints * (evalForwardTokens('text') / 3)
      : (CONTINUE.evalPoints - 1) * (evalForwardTokens('curve') / 3 + drawn) + evalForwardTokens('all') / 3 + drawn;
    const evalSeconds = trainSeconds(cfg, a.seqLen, points, c);
    arms.push({ name: a.name, seeds: a.seeds.length, trainSeconds: trainSeconds(cfg, a.seqLen, a.totalTokens, c), evalSeconds });
  }
  return { arms, totalSeconds: arms.reduce((s, a) => s + a.seeds * (a.trainSeconds + a.evalSeconds), 0) };
}
