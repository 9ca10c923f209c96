/**
 * The MUMU paper at workbench scale (code name `mumu`; notebook 05, results
 * `notebooks/results/05-mumu-multimodal-prompts.json`): multimodal prompts (data/mumu-prompts.ts: crops before
 * the words that name them) read by the frozen mm-moe-small, its last-layer states of every prompt position
 * through a non-causal connector into the latent diffusion decoder (rank-8 LoRA on its attention, or fully
 * trained, or frozen); crops enter as 1, 4, 16 or all 64 codes (learned pooling before the LM); the claims
 * judged by criteria fixed in code before any run, and the typed results builder.
 *
 *   import * as sb from '../dist/kernel-lib';
 *   await sb.mumu.trainMumu({ arm: 'mumu', tokensPerCrop: 16, seed: 0, baseDir, ldmDir, vqvaeDir, outDir, runDir });
 *   const run = await sb.mumu.loadMumu(outDir, { baseDir, ldmDir });
 *   const images = await sb.mumu.drawItems(run, items, { cfgScale: 4 });
 *   sb.mumu.verdicts(numbers);                       // each claim, the paper's words, ours, the criterion
 */
export { CITATION } from './citation';
export { ARMS, ARM_NAMES, VERDICT_RUNS, AUGMENT_RATE, DECODER_RANK, DECODER_ALPHA, armSettings, checkArm, checkTokensPerCrop, runName } from './arms';
export type { Arm, ArmSettings, DecoderMode } from './arms';
export { TOKENS_PER_CROP, MAX_POOLED, defaultPoolerConfig, validatePoolerConfig, poolerParamShapes, initPoolerParams, poolerForward } from './pooler';
export type { TokensPerCrop, PoolerConfig } from './pooler';
export { defaultConnectorConfig, validateConnectorConfig, connectorParamShapes, initConnectorParams } from './connector-config';
export type { ConnectorConfig } from './connector-config';
export { Connector, connectorForward, readConnector, CONNECTOR_FORMAT } from './connector';
export type { ConnectorFileConfig } from './connector';
export { promptRow, padPromptRows, batchRows, codeExamples, mumuSource } from './items';
export type { MumuItem, PromptRow, PromptBatch, MumuSource, CropEncoder } from './items';
export { encoderStates, promptStates } from './encoder';
export { mumuLoss, mumuConditioning, hostLoss } from './losses';
export type { MumuBatch, LossParts } from './losses';
export { mumuBatch, mumuBatches, probeBatch, LatentCache } from './batch';
export type { BatchOptions } from './batch';
export { trainMumuOn, DEFAULTS } from './recipe';
export type { MumuParts, MumuData, MumuOptions } from './recipe';
export { trainMumu, loadMumu, armData, armPrompts, requireDecoder, vqCropEncoder } from './shipped';
export type { RecipeOptions } from './shipped';
export { RUN_METRICS, readRunMetrics, lossCurve, stepTimes, METRICS_FILE, CONNECTOR_DIR, DECODER_LORA_DIR, DENOISER_FILE } from './run-metrics';
export type { RunMetrics, MumuEvent, Probe, StepTime } from './run-metrics';
export { conditionItems, drawItems, identityScores, cropClipI, copyScores, harmonisedScores, COPY_DISTANCE } from './evaluate';
export type { DrawParts, DrawOptions } from './evaluate';
export { verdicts, PAPER, OTHER_SOURCES } from './claims';
export type { Numbers, Verdict, MumuVerdict, DetailScores, OtherSource } from './claims';
export { results, judge, checkResults, RESULTS, NOTEBOOK, RESULTS_FILE, MEASURES } from './results';
export type { Results, Measurements, RunScores, SeedSet, Measure } from './results';
export { HELD_OUT, HELD_OUT_SPLIT, DRAW, heldOutSets, checkHeldOutSizes } from './heldout';
export type { HeldOutSizes, HeldOutSets, DrawSettings } from './heldout';
export { SCORES_FILE, HELD_OUT_SCORES, scoreRun, scoreSet, readHeldOutScores, checkHeldOutScores, seedSetOf } from './scores';
export type { HeldOutScores, ScoredSet, ScoreTools, ScoreRunOptions } from './scores';
export { SEEDS, RUN_SETS, wantedRuns, trainCommand, runProblem, placeRuns, runDirIn } from './run-places';
export type { WantedRun, RunPlace } from './run-places';
export { RUNS_FOLDER, SHIPPED_FILE, SHIP_MAX_WEIGHT_BYTES, LIVE_RUNS, shipRuns } from './ship';
export type { ShipRecord, ShipRunsResult, ShipOptions } from './ship';
export { openTools } from './tools';
export type { MumuTools } from './tools';
export { trainRun, trainMissing } from './train-missing';
export type { RunSettings, TrainRunOptions, TrainMissingOptions } from './train-missing';
export { readFinished } from './finished';
export { decoderObjectAccuracy, checkerFloor } from './floor';
export type { CheckerFloor, FloorCell } from './floor';
export type { FinishedRuns } from './finished';
export { ROUTING, ROUTING_MEASURES, promptRouting } from './routing';
export type { PromptRouting } from './routing';
export { BOX_COLORS, outlinedScene, promptCrops, promptTokens, layoutLine, promptTrace, liveDraw, drawByRuns, userPrompt, liveRuns } from './live';
export type { PromptToken, UserPart } from './live';
export { MEASURE_LABELS, MEASURE_NAMES, runLabel, tokensFigure, harmonisationFigure, augmentationFigure, detailFigure, comparisonsFigure, routingFigure, promptRoutingFigure } from './figures';
export { conditioningProbe } from './conditioning-probe';
export type { ConditioningProbeResult, ConditioningProbeBand, ConditioningProbeOptions, ProbeErrors, MeanSE } from './conditioning-probe';
