/**
 * The arms of the MiniGPT-5 reproduction (issue #15): the method as the paper trains it and its ablations,
 * each one change from `full`. Table 5 (method design): without CFG dropout, without L_CAP, without L_LDM;
 * Table 7 (mapper design): fixed queries, decoder-only mapper; Table 2's baseline: the same fine-tuning with
 * no vokens (text only).
 */
import type { LossWeights } from './losses';
import type { MapperConfig } from './mapper-config';
import { PAPER_WEIGHTS } from './losses';

export const ARMS = {
  full: 'MiniGPT-5 as the paper trains it: L_text + L_LDM + L_CAP (stage 1), CFG voken dropout 10 %, enc-dec mapper with learnable queries',
  'no-cfg': 'Table 5 "w/o CFG": no voken dropout while training; sampled with the decoder’s empty caption as the negative',
  'no-cap': 'Table 5 "w/o L_CAP": λ_CAP = 0',
  'no-ldm': 'Table 5 "w/o L_LDM": λ_LDM = 0 (the mapper learns from L_CAP alone, as GILL)',
  'fixed-queries': 'Table 7 "Fixed Queries": the decoder queries q are initialised and never trained',
  'decoder-only': 'Table 7 "Decoder-Only": no queries and no encoder: self-attention over the n voken states, padded to L',
  'text-only': 'Table 2’s baseline (stage 2 only): the same LoRA fine-tuning on the same stories with no vokens and no image loss',
} as const;
export type Arm = keyof typeof ARMS;
export const ARM_NAMES = ['full', 'no-cfg', 'no-cap', 'no-ldm', 'fixed-queries', 'decoder-only', 'text-only'] as const satisfies readonly Arm[];
export const TABLE5_ARMS = ['full', 'no-cfg', 'no-cap', 'no-ldm'] as const satisfies readonly Arm[];
export const TABLE7_ARMS = ['full', 'fixed-queries', 'decoder-only'] as const satisfies readonly Arm[];

export type Stage = 1 | 2;
export const STAGES: readonly Stage[] = [1, 2];

/** Share of image rows whose voken states are replaced by zeros while training (§3.3). */
export const VOKEN_DROPOUT = 0.1;

/** What an arm changes: loss weights, voken dropout, the negative conditioning, the mapper's shape, whether vokens are used. */
export interface ArmSettings {
  weights: LossWeights;
  vokenDropout: number;
  /** CFG's negative at inference: ĥ_0 = mapper(0), or the decoder's empty caption (no-CFG arm). */
  negative: 'zero-vokens' | 'null';
  mapper: Partial<MapperConfig>;
  vokens: boolean;
}

export function checkArm(arm: unknown, stage: Stage): Arm {
  if (typeof arm !== 'string' || !(arm in ARMS)) throw new Error(`minigpt5: unknown arm '${String(arm)}' (arms: ${ARM_NAMES.join(', ')})`);
  if (stage !== 1 && stage !== 2) throw new Error(`minigpt5: stage must be 1 or 2, got ${JSON.stringify(stage)}`);
  if (arm === 'text-only' && stage === 1) throw new Error("minigpt5: the 'text-only' arm is Table 2's stage-2 baseline; stage 1 trains the vokens, which it has none of");
  return arm as Arm;
}

/** The settings of an arm at a stage (see ARMS). */
export function armSettings(arm: Arm, stage: Stage): ArmSettings {
  checkArm(arm, stage);
  const weights = { ...PAPER_WEIGHTS[stage] };
  if (arm === 'no-cap') weights.cap = 0;
  if (arm === 'no-ldm') weights.ldm = 0;
  if (arm === 'text-only') Object.assign(weights, { ldm: 0, cap: 0 });
  return {
    weights,
    vokenDropout: arm === 'no-cfg' || arm === 'text-only' ? 0 : VOKEN_DROPOUT,
    negative: arm === 'no-cfg' ? 'null' : 'zero-vokens',
    mapper: arm === 'fixed-queries' ? { learnableQueries: false } : arm === 'decoder-only' ? { kind: 'decoder-only' } : {},
    vokens: arm !== 'text-only',
  };
}
