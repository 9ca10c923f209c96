/**
 * Liquid at workbench scale (code name `liquid`; issue #16, notebook 03 to come): one vocabulary for text
 * and VQ codes, trained by mixtures over disjoint pools (data/liquid-pools.ts) at the size ladder's
 * presets (model/config.ts `moe-h64` … `moe-h192`). Here: the arms and their token budgets, caption
 * dropout to <unconditional> and rows as ids, and the understanding evaluation. Generic pieces live below:
 * logit-level CFG with the <unconditional> branch (decode/cfg.ts, `cfgUnconditional: 'unconditional-token'`)
 * and likelihood ranking (analysis/answer-ranking.ts).
 */
export { CITATION } from './citation';
export { planArms, languageCostArms } from './arms';
export type { LiquidArm, LiquidArmSpec, LiquidRatios, ArmBudgetOptions } from './arms';
export { CAPTION_DROPOUT_RATE, dropsCaption, liquidRowIds } from './rows';
export type { CaptionDropout, LiquidRowIds } from './rows';
export { understandingItems, understandingAccuracy } from './understanding';
