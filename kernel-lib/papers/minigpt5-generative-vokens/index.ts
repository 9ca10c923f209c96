/**
 * The MiniGPT-5 paper at workbench scale (code name `minigpt5`; notebook 04, results
 * `notebooks/results/04-minigpt5-generative-vokens.json`): generative vokens [IMG1] … [IMG8] in mm-moe-small,
 * the feature mapper from their hidden states to the frozen diffusion decoder's conditioning, the two-stage
 * recipe with its ablation arms, interleaved generation, the claims judged by criteria fixed in code before
 * any run, and the typed results builder.
 *
 *   import * as sb from '../dist/kernel-lib';
 *   await sb.minigpt5.trainStage({ stage: 1, arm: 'full', baseDir, ldmDir, vqvaeDir, outDir, runDir });
 *   const { session, mapper } = await sb.minigpt5.loadStage(outDir, { baseDir });
 *   for await (const e of sb.minigpt5.generateInterleaved({ session, mapper, ldm }, 'A cat is at the top left.')) …
 *   sb.minigpt5.verdicts(numbers);                   // each claim, the paper's number, ours, the criterion
 */
export { CITATION } from './citation';
export { defaultMapperConfig, validateMapperConfig, mapperParamShapes, countMapperParams, initMapperParams, MAPPER_KINDS } from './mapper-config';
export type { MapperConfig, MapperKind } from './mapper-config';
export { FeatureMapper, mapperForward, readMapper, mapperFiles, MAPPER_FORMAT, MAPPER_FORMAT_VERSION } from './mapper';
export { vokenIds, vokenTrainable, selectRows, vokenRows, saveVokenRows, loadVokenRows, VOKENS_FILE, VOKENS_FORMAT } from './vokens';
export { vokenRow, padRows, sceneCaptions, storyItems } from './items';
export type { VokenItem, VokenRow, PaddedRows, VokenSource, CodedPart, ImageEncoder } from './items';
export { vokenLosses, hostLosses, captionLoss, vokenDropout, PAPER_WEIGHTS } from './losses';
export type { LossWeights, LossParts, VokenBatch } from './losses';
export { vokenBatch, vokenBatches, probeBatch } from './batch';
export { ARMS, ARM_NAMES, TABLE5_ARMS, TABLE7_ARMS, STAGES, VOKEN_DROPOUT, armSettings, checkArm } from './arms';
export type { Arm, Stage, ArmSettings } from './arms';
export { trainStageOn, runName, DEFAULTS } from './recipe';
export type { StageOptions } from './recipe';
export type { StageParts, StageData, StageEvent } from './stage';
export { trainStage, loadStage, requireDecoder, requireStage1, finishedStage } from './shipped';
export type { RecipeOptions } from './shipped';
export { RUN_METRICS, readRunMetrics, METRICS_FILE, MAPPER_DIR, ADAPTER_DIR } from './run-metrics';
export type { RunMetrics, Probe, StepTime } from './run-metrics';
export { lossCurve, stepTimes } from './stage-metrics';
export { generateInterleaved, drawFromVokens, twoStage, twoStageCaption } from './generate';
export type { VokenParts, DrawOptions, InterleavedOptions, InterleavedEvent } from './generate';
export { vokenStates, narrationNll } from './evaluate';
export { verdicts, fidLower, PAPER, TEXT_MARGIN, CONTEXTS } from './claims';
export type { Numbers, Verdict, JudgedVerdict, ImageScores, Context } from './claims';
export { results, checkResults, numbersFrom, RESULTS, NOTEBOOK, RESULTS_FILE } from './results';
export type { Results, Measurements, ArmImages, SeedImages } from './results';
export { EVAL_FILE, EVAL_RECORD, readEval } from './eval-file';
export type { EvalRecord, RoutingCounts } from './eval-file';
export { drawPrompts, sceneScores, contextScores, routingCounts, objectsInPlace, pngBase64 } from './heldout';
export type { DrawSettings, HeldScene, HeldStory } from './heldout';
export { evaluateStage, EVAL_SIZES } from './evaluate-stage';
export type { EvalSizes, EvalTools, EvalOptions, EvalParts } from './evaluate-stage';
export { heldOutFirst, firstScores } from './first-items';
export type { FirstCounts, FirstScores } from './first-items';
export { RUNS_FOLDER, SEEDS, STAGE1_ARMS, STAGE2_ARMS, trainCommand, wantedRuns, runProblem, placeRuns } from './run-places';
export type { WantedRun, RunPlace } from './run-places';
export { shipRuns, SHIPPED_FOLDER, SHIPPED_FILE, SHIP_MAX_FILE_BYTES, LIVE_RUNS } from './ship';
export type { ShipRecord, ShipRunsResult, ShipOptions } from './ship';
export { trainMissing } from './train-missing';
export type { TrainMissingOptions } from './train-missing';
export { readFinished, measurementsOf, tableSeeds, cfgSweepOf, routingGroups, routingRows, sumRouting } from './numbers';
export type { FinishedRun, TableSeeds } from './numbers';
export { imageArmsFigure, contextFigure, narrationFigure, cfgSweepFigure, vokenRoutingFigure, vokenExpertsFigure, architectureFigure } from './figures';
export { liveInterleaved, pngImage, storyPrompt, storyStrip } from './live';
export type { LiveInterleavedOptions, LiveInterleavedResult } from './live';
