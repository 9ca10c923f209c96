/**
 * The arms of the MUMU reproduction (issue #17). Every arm trains on the same multimodal prompts → scene
 * pairs (the scenes' train split) with the language model (mm-moe-small) frozen; an arm changes one thing
 * from `mumu`, and `tokensPerCrop` is a setting of every prompt arm (Finding 1):
 *
 *   mumu            crops before their words, LM states → connector (fully trained) → decoder with rank-8
 *                   LoRA on its attention (Table 1), 20 % of crops augmented (§5)
 *   no-augment      the same without crop augmentation (§7, Fig. 12: "removing data augmentation …")
 *   decoder-full    the decoder fully trained instead of LoRA (§7 Question 1, "LoRA training")
 *   decoder-frozen  the decoder frozen: only the connector (and the pooling) trains
 *   caption-only    the baseline: the same scenes drawn from the prompt's words alone through the decoder's own
 *                   caption encoder (frozen), the same decoder LoRA, no LM and no connector (how much do crops add?)
 */
import { MAX_POOLED, TOKENS_PER_CROP, TokensPerCrop } from './pooler';

export const ARMS = {
  mumu: 'MUMU as the paper trains it: crops before their words, LM states → non-causal connector → decoder with rank-8 LoRA on its attention, 20 % of crops augmented',
  'no-augment': '§7 / Fig. 12: the same with no crop augmentation',
  'decoder-full': '§7 Question 1: the decoder fully trained instead of LoRA',
  'decoder-frozen': 'the decoder frozen: only the connector (and the crop pooling) train',
  'caption-only': 'baseline: the prompt’s words alone through the decoder’s own caption encoder, the same decoder LoRA (no LM, no connector)',
} as const;
export type Arm = keyof typeof ARMS;
export const ARM_NAMES = ['mumu', 'no-augment', 'decoder-full', 'decoder-frozen', 'caption-only'] as const satisfies readonly Arm[];

/** The arms whose numbers the verdicts read, with the tokens per crop each runs at (claims.ts). */
export const VERDICT_RUNS: ReadonlyArray<{ arm: Arm; tokensPerCrop: TokensPerCrop | null }> = [
  ...TOKENS_PER_CROP.map((t) => ({ arm: 'mumu' as Arm, tokensPerCrop: t })),
  { arm: 'no-augment', tokensPerCrop: 64 },
  { arm: 'caption-only', tokensPerCrop: null },
];

/** Share of crops augmented in the augmenting arms (MUMU §5: "used on 20 % of the conditioning images"). */
export const AUGMENT_RATE = 0.2;
/** Decoder LoRA rank and α (Table 1: rank 8; α/√r scaling as every adapter here). */
export const DECODER_RANK = 8;
export const DECODER_ALPHA = 8;

export type DecoderMode = 'lora' | 'full' | 'frozen';

/** What an arm sets. */
export interface ArmSettings {
  /** 'prompt': the LM reads the multimodal prompt; 'caption': the decoder's caption encoder reads its words. */
  encoder: 'prompt' | 'caption';
  /** Tokens each crop enters the LM as (null for caption-only). */
  tokensPerCrop: TokensPerCrop | null;
  /** Share of crops augmented (0: none). */
  augmentRate: number;
  decoder: DecoderMode;
}

/** The arm, checked (an error lists the arms). */
export function checkArm(arm: unknown): Arm {
  if (typeof arm !== 'string' || !(arm in ARMS)) throw new Error(`mumu: unknown arm '${String(arm)}' (arms: ${ARM_NAMES.join(', ')})`);
  return arm as Arm;
}

/** Tokens per crop, checked against 1, 4, 16, 64 and the LM's image grid (`codes` codes per crop). */
export function checkTokensPerCrop(n: unknown, codes: number = MAX_POOLED): TokensPerCrop {
  if (!TOKENS_PER_CROP.includes(n as TokensPerCrop)) throw new Error(`mumu: tokensPerCrop must be one of ${TOKENS_PER_CROP.join(', ')}, got ${JSON.stringify(n)}`);
  if ((n as number) > codes) throw new Error(`mumu: tokensPerCrop ${String(n)} is more than the ${codes} codes a crop has`);
  return n as TokensPerCrop;
}

/** The settings of an arm; `tokensPerCrop` (default: all codes, 64) is refused for caption-only. */
export function armSettings(arm: Arm, tokensPerCrop?: number, codes: number = MAX_POOLED): ArmSettings {
  checkArm(arm);
  if (arm === 'caption-only') {
    if (tokensPerCrop !== undefined) throw new Error("mumu: the 'caption-only' arm has no crops, so no tokens per crop");
    return { encoder: 'caption', tokensPerCrop: null, augmentRate: 0, decoder: 'lora' };
  }
  return {
    encoder: 'prompt',
    tokensPerCrop: checkTokensPerCrop(tokensPerCrop ?? Math.min(MAX_POOLED, codes), codes),
    augmentRate: arm === 'no-augment' ? 0 : AUGMENT_RATE,
    decoder: arm === 'decoder-full' ? 'full' : arm === 'decoder-frozen' ? 'frozen' : 'lora',
  };
}

/** `mumu-<arm>-t<N>-seed<k>` (`mumu-caption-only-seed<k>`). */
export function runName(arm: Arm, tokensPerCrop: number | null, seed: number): string {
  return tokensPerCrop === null ? `mumu-${arm}-seed${seed}` : `mumu-${arm}-t${tokensPerCrop}-seed${seed}`;
}
