/**
 * The PLoRA paper at workbench scale (code name `plora`; notebook 01, results
 * `notebooks/results/01-redundancy-aware-moe-plora.json`): its recipe, the material its analyses run
 * on, its claims judged on measured numbers, its figures and the typed results builder.
 *
 *   import * as sb from '../dist/kernel-lib';
 *   const { session, adapter } = await sb.plora.loadVariant('../data/checkpoints/s1-plora', 'plora');
 *   const results = sb.plora.results({ … });        // the results JSON, checked against sb.plora.RESULTS
 */
export { CITATION } from './citation';
export { trainVariant, loadVariant, extendForImages, trainableSet, armOf, DEFAULTS } from './recipe';
export type { RecipeOptions, Init } from './recipe';
export { ARMS, ARM_NAMES, REPLAY_TEXT_FRACTION } from './arms';
export type { Arm } from './arms';
export { RUN_METRICS, readRunMetrics, earlyProbes } from './run-metrics';
export type { RunMetrics, StageMetrics, Probe } from './run-metrics';
export { heldOut, traces } from './analyses';
export type { HeldOut, TracesOptions } from './analyses';
export { verdicts, captionFollowingVerdict, CAPTION_FOLLOWING_CRITERION, PRONOUNCED_EXCLUSIVITY } from './claims';
export type { Numbers, Verdict } from './claims';
export { results, checkResults, ecaOf, routingOf, RESULTS } from './results';
export type { Results, Measurements } from './results';
export { clipTDifferences, clipTSummary, CLIP_T, NOTEBOOK, RESULTS_FILE, INIT_ABLATION_FILE } from './clip-t';
export type { ClipTScores, ClipTSummary } from './clip-t';
export { initFigure, coActivationFigure, routingFigure, exclusivityFigure, clipTFigure, armsTextFigure, armsImageFigure, damageFigure, keyFigures } from './figures';
export { variantsFollowCaptions, EVAL_CAPTIONS } from './caption-following';
export type { CaptionFollowingRun, CaptionFollowingOptions } from './caption-following';
export { sweepRuns, runName, runDir as sweepRunDir, initAblationFile, checkSweep, evaluateRun, suiteEntry, SWEEP, SWEEP_FILE, SWEEP_SEEDS, RUN_EVAL, PROTOCOL } from './sweep';
export type { Sweep, SweepRun, RunEval, Protocol, SweepMaterial } from './sweep';
export { runSweep, missingRuns, FULL_PROTOCOL } from './sweep-run';
export type { SweepOptions } from './sweep-run';
export { seedVerdicts, seedsEntry, damageDecomposition, SEEDS, seedSummary, mechanismFindings, initGaps, pooledClipTDiffs, runsOf, meanSe, CLOSE_TO_BASE_PERCENT, PRESERVED_PERCENT, CARRIES_SHARE } from './seeds';
export type { SeedSummary, Finding, MeanSe, SeedsEntry, Damage } from './seeds';
