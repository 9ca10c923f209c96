/** Evaluators: a small CLIP (retrieval, CLIP-T, CLIP-I), FID on its features, and the exact scene checker. */
export { ClipModel, loadClip, defaultClipDir, CLIP_MODEL_TYPE, CLIP_FORMAT_VERSION } from './clip';
export type { PairScores, ClipSaveOptions } from './clip';
export { defaultClipConfig, validateClipConfig, clipParamShapes } from './clip-config';
export type { ClipConfig } from './clip-config';
export { clipExamples, canonicalCaptions, CHECK_SAMPLE } from './clip-data';
export type { ClipExample, ClipSource } from './clip-data';
export { trainClip, clipLoss } from './train-clip';
export type { ClipTrainData, ClipTrainOptions, ClipTrainEvent, ClipTrainResult, ClipStepRecord, ClipEvalRecord } from './train-clip';
export { retrievalMetrics, clipRetrieval } from './retrieval';
export type { RetrievalMetrics, TopK, CaptionedImage } from './retrieval';
export { gaussianStats, frechetDistance, frechetTerms } from './frechet';
export type { GaussianStats, FrechetOptions, FrechetTerms } from './frechet';
export { symmetricEigen, sqrtPsd } from './linalg';
export type { SymmetricEigen } from './linalg';
export { clipFid, clipFeatureStats } from './fid';
export { SceneChecker, WINDOW_SIZES, centreIn } from './scene-checker';
export type { SceneTemplate, Detection, DetectOptions, SceneClaim, SceneCheck, SceneCheckSummary } from './scene-checker';
