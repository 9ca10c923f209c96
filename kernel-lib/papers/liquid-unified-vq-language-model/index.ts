/**
 * Liquid at workbench scale (code name `liquid`; issue #16, notebook 03): one vocabulary for text
 * and VQ codes, trained by mixtures over disjoint pools (data/liquid-pools.ts) at the size ladder's
 * presets (model/config.ts `moe-h64` … `moe-h192`). Here: the plan (every arm, its budget and the estimate of
 * its CPU time), the arms' token budgets, caption dropout to <unconditional> and rows as ids, the training
 * batches with Liquid's loss masks, the recipe (text pretraining per size; continuation with the unified
 * vocabulary, evaluated at 5 checkpoints), the per-checkpoint held-out scores, the claims judged by the
 * issue's criteria, the typed results builder and the figures. Generic pieces live below: logit-level CFG
 * with the <unconditional> branch (decode/cfg.ts), likelihood ranking (analysis/answer-ranking.ts),
 * teacher-forced token scores (analysis/token-scores.ts), routing exclusivity (analysis/routing-by-modality.ts).
 *
 *   import * as sb from '../dist/kernel-lib';
 *   sb.liquid.liquidPlan().arms;                          // every continuation arm with its steps and seeds
 *   const tools = await sb.liquid.openTools();
 *   await sb.liquid.trainContinuation(arm, tools, { seed: 0, outDir, runDir });   // npm run train:liquid -- --arm …
 *   sb.liquid.readRunMetrics(outDir); sb.liquid.readEvalFile(outDir, step);
 *   sb.liquid.results({ … });                             // the notebook's results JSON, verdicts included
 *   sb.liquid.placeRuns(runsDir);                          // which runs are finished, and the commands for the rest
 *   sb.liquid.shipRuns({ from, to });                      // npm run ship:liquid: finished runs into data/checkpoints/liquid
 */
export { CITATION } from './citation';
export { planArms, languageCostArms, understandingShare } from './arms';
export type { LiquidArm, LiquidArmSpec, LiquidRatios, ArmBudgetOptions } from './arms';
export { CAPTION_DROPOUT_RATE, dropsCaption, liquidRowIds } from './rows';
export type { CaptionDropout, LiquidRowIds } from './rows';
export { understandingItems, understandingAccuracy } from './understanding';
export { PRETRAIN, SHIPPED_TEXT, CONTINUE, UNDERSTANDING, MUTUAL_SIZE, SEEDS, EVAL, liquidPlan, pretrainArms, armNames, findArm, evalSteps, unifiedVocab, sizeConfig, planCost, evalForwardTokens } from './plan';
export type { LiquidPlan, PlanArm, PretrainArm, ArmGroup, ArmCost } from './plan';
export { forwardMacsPerToken, trainFlopsPerToken, secondsPerFlop, trainSeconds, measureStepCpuMs } from './budget';
export type { StepCalibration } from './budget';
export { CodeCache, textWindows, textRow, imageRow, padRows, liquidBatches } from './batches';
export type { ImageEncoder, TrainMeta, WeightedRow, BatchOptions, BatchStats } from './batches';
export { heldOutSet, heldOutFirst, sceneOf } from './heldout';
export type { HeldOut, HeldOutSizes, FirstCounts, DrawItem } from './heldout';
export { scoreCheckpoint, textModelVocab } from './evaluate';
export type { CheckpointScores, DrawTools, ScoreOptions } from './evaluate';
export { openTools, textCheckpointDir, textDirIn, vqCodec, RUNS_FOLDER } from './tools';
export type { LiquidTools, ImageCodec } from './tools';
export { pretrainSize, unifiedSession, trainContinuation, evaluateRun, runName, probeOf } from './recipe';
export type { RunPlaces, ContinueOptions } from './recipe';
export { RUN_METRICS, EVAL_FILE, PROBE, readRunMetrics, readEvalFile, readRun, evaluatedSteps, checkRunMetrics, checkpointName, evalName, METRICS_FILE, CHECKPOINTS_DIR, EVAL_DIR } from './run-metrics';
export type { RunMetrics, EvalFile, Probe } from './run-metrics';
export { languageCostVerdict, scalingVerdict, imageCostVerdict, mutualVerdict, verdicts, shrinksWithSize, RANK_THRESHOLD } from './claims';
export type { Numbers, MutualArm, MutualScores, SizeKey, Verdict, Comparison, SeedScores } from './claims';
export { numbersOf, lastEval, runsOf, commonSeeds, scoresOf, mutualArms, MEASURES } from './numbers';
export type { RunRecord, Measure } from './numbers';
export { results, checkResults, pointOf, readTextRecord, RESULTS, NOTEBOOK, RESULTS_FILE } from './results';
export type { Results, Measurements, CurvePoint } from './results';
export { wantedRuns, placeRuns, trainCommand, continuationProblem, textProblem } from './run-places';
export type { WantedRun, RunPlace } from './run-places';
export { shipRuns, liveRuns, checkpointEstimate, omittedCheckpoint, omittedNote, SHIPPED_FOLDER, SHIPPED_FILE, SHIP_MAX_CHECKPOINT_BYTES, SHIP_MAX_ONE_CHECKPOINT_BYTES, CHECKPOINT_FILES, CHECKPOINT_OVERHEAD_BYTES } from './shipped';
export type { ShipRecord, ShipRunsResult, ShipOptions } from './shipped';
export { trainMissing } from './train-missing';
export type { TrainMissingOptions } from './train-missing';
export { modalCodeShare } from './baseline';
export type { ModalCode } from './baseline';
export { readFinished, liveCheckpoints, vocabularyView, routingBySize, samplesGrid } from './live';
export type { LiveCheckpoint, VocabularyToken, VocabularyView, NextTokens } from './live';
export { MEASURE_NAMES, sizeAxis, logTicks, languageCostFigure, scalingStepFigure, scalingSizeFigure, computeFigure, imageCostFigure, mutualFigure, routingFigure, routingSizeFigure, vocabularyFigure } from './figures';
