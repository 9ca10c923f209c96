/**
 * The MoSS paper at workbench scale (code name `moss`; notebook 02, results
 * `notebooks/results/02-moss-modality-specialized-synergizers.json`): its arms and recipe on the frozen
 * mm-moe-small, the instruction items as token rows, the per-item held-out evaluation, its claims judged
 * on measured numbers (criteria fixed in code before any run) and the typed results builder.
 *
 *   import * as sb from '../dist/kernel-lib';
 *   const m = await sb.moss.trainArm({ arm: 'moss', rank: 8, seed: 0, baseDir, vqvaeDir, outDir, runDir });
 *   const { session, adapter } = await sb.moss.loadArm(outDir, baseDir);
 *   const scores = sb.moss.scoreItems(session, items);       // per held-out item: image-code and text NLL
 *   sb.moss.verdicts(numbers);                               // each claim, the paper's number, ours, the criterion
 *   sb.moss.shipRuns({ from: '.cache/moss', to: 'data/checkpoints/moss' });   // finished runs → committed (adapters float16; full: scores only)
 *   const arms = sb.moss.ArmSet.load(session, { lora: dir1, moss: dir2 });    // several adapters, one on at a time
 *   sb.moss.routingByModel(arms, items);                     // beyond the paper: routing exclusivity, co-activation
 */
export { CITATION } from './citation';
export { ARMS, ARM_NAMES, RANKS, TABLE2_RANK, ALPHA, DROPOUT, adapterParams, matchedRank, armAdapter } from './arms';
export type { Arm } from './arms';
export { itemRow, paddedBatch, joinText, CodedItems, instructionBatches, heldOutItems, LENGTH_WINDOW } from './items';
export type { CodedItem, CodedPart, ItemRow, InstructionSource, ImageEncoder } from './items';
export { scoreItems, drawTargets, finiteMean, instructionChecker } from './evaluate';
export type { ItemScores, ScoreOptions, DrawnScores, DrawOptions } from './evaluate';
export { trainArm, trainArmOn, loadArm, runName, stepTimes, itemScoresFile, DEFAULTS } from './recipe';
export type { ArmOptions, ArmData, RecipeOptions } from './recipe';
export { RUN_METRICS, ITEM_SCORES_FILE, readRunMetrics, readItemScores, METRICS_FILE, ADAPTER_DIR, CHECKPOINT_DIR, evalFile } from './run-metrics';
export type { RunMetrics, StepTime, Probe, ItemScoresFile } from './run-metrics';
export { verdicts, compare, lowerBy2se, describe, decodeVerdict, PAPER_DECODE_RATIO } from './claims';
export type { Numbers, Verdict, ArmScores, SeedScores, Comparison } from './claims';
export { results, checkResults, runRows, RESULTS, NOTEBOOK, RESULTS_FILE } from './results';
export type { Results, Measurements, ArmRun } from './results';
export { causalKernelFigure, armsFigure, rankFigure, decodeFigure, exclusivityFigure, coActivationFigure, seedMeanSe } from './figures';
export { causalityCheck } from './causality';
export { shipRun, shipRuns, checkFinishedRun, SHIPPED_FOLDER, SHIPPED_FILE, SHIP_MAX_BYTES } from './shipped';
export type { ShipRecord, AdapterShipRecord, ScoresShipRecord, ShipRunsResult } from './shipped';
export { readShipRecord, noWeightsMessage } from './ship-record';
export { placeRuns, readArmRuns, commonSeeds, wantedRuns, trainCommand, runsForResults, SEEDS } from './run-places';
export type { RunPlace, RunsForResults } from './run-places';
export { ArmSet, BASE_MODEL } from './arm-set';
export { routingByModel } from './routing';
export type { RoutingOptions } from './routing';
export { decodeCost } from './decode-cost';
export type { DecodeCost, DecodeCostOptions } from './decode-cost';
export { sideBySide, writeNarration } from './completions';
export type { SideBySide, SideBySideOptions } from './completions';
export type { CausalityCheck } from './causality';
