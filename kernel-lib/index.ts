/**
 * Switchboard's public surface: what notebooks and scripts import. Internals stay in their folders.
 *
 *   import { Session } from '../dist/kernel-lib';
 *   const s = await Session.load('data/checkpoints/mm-moe-small');
 *   for await (const step of s.generate('an emoji of a tiger', { startImage: true })) …
 */
export { initBackend, currentDevice, BACKEND_ORDER } from './backend/backend';
export type { BackendName, DeviceInfo } from './backend/backend';

export { defaultMoEConfig, validateMoEConfig, PRESETS, SIZE_PRESETS, headDim, SIZE_LIMITS } from './model/config';
export type { MoEConfig, PresetName, SizePresetName } from './model/config';
export { MoEModel } from './model/model';
export type { CaptureLevel, ForwardOptions, ForwardResult, StepResult, StepOptions, BatchStepResult, PrefillOptions, RowsForwardResult } from './model/model';
export type { LayerRouting } from './model/moe';
export type { HookFn } from './model/hooks';
export { KvCache, KV_BLOCK } from './model/kv-cache';
export type { AdapterDecodeState } from './model/kv-cache';
export { positionMeta, PositionTracker, metaFromModalities, OUTPUT_UNKNOWN } from './model/positions';
export type { PositionMeta, PositionVocab, PositionEntry } from './model/positions';
export { hiddenPointNames } from './model/hidden';
export type { HiddenRequest, HiddenStates } from './model/hidden';
export { countParams, countNonEmbeddingParams, initHostParams, mixtralTensorShapes } from './model/params';
export type { HostTensor } from './model/params';
export { ROW_INIT_STRATEGIES, growVocabulary } from './model/vocab-extend';
export type { RowInitStrategy, RowInitContext } from './model/vocab-extend';
export type { ProjectionAdapter, ProjectionTarget, AdapterContext } from './model/adapter-seam';

export { ByteLevelBPE, MultimodalTokenizer } from './tokenizer';
export type { Modality, ImageCodes, PromptPart, Prompt, GridPos, EncodedPrompt, TokenizerLayout } from './tokenizer';

export { Generation } from './decode/generate';
export type { Step, StepRouting, StopReason, GenerateOptions } from './decode/generate';
export type { SamplingOptions } from './decode/sampling';
export { checkSeed, SEED_RULE } from './decode/seed';
export { guideLogits, unconditionalPrompt, CFG_UNCONDITIONAL_MODES } from './decode/cfg';
export type { CfgUnconditional } from './decode/cfg';
// Multiple-choice by exact likelihood (understanding evaluations).
export { candidateScores, rankAnswers, rankingAccuracy } from './analysis/answer-ranking';
export type { RankingItem, RankedItem, RankingReport, LengthRule } from './analysis/answer-ranking';

export { train, trainableNames } from './train/trainer';
export type { TrainOptions, TrainEvent, TrainResult, TrainBatch, TrainSlice } from './train/trainer';
export { learningRate } from './train/schedule';

export { SwitchboardError, DEBUG_ENV_VAR } from './errors';
export { saveCheckpoint, loadCheckpoint, CheckpointError } from './checkpoint';

export { Session } from './session';
export type { RoutingTrace, SessionGenerateOptions } from './session';

// Prompt widget: a websocket server in the kernel and the browser widget that talks to it.
export { promptWidget, widgetServer } from './server/widget';
export type { PromptWidget, PromptWidgetOptions } from './server/widget';
export { WidgetServer } from './server/server';
export type { WidgetServerOptions } from './server/server';
export type { NamedImage } from './server/types';
export { PROTOCOL_VERSION, CLOSE as WIDGET_CLOSE_CODES } from './server/protocol';

export {
  initPlotly, showFigure, normalizeFigure, figureHtml, plotlyInjectionHtml, routingHeatmap, showRoutingHeatmap, tokensByExperts, showTokensByExperts, expertUsageBars,
  showExpertUsageBars, coActivationMatrix, showCoActivationMatrix, lossCurves, showLossCurves, imagePng, imageGridPng,
  upscaleNearest, showImage, showImageGrid, htmlTable, showTable, progress, progressCallback, Progress, CodePaletteRenderer, liveDecode,
  defaultDisplay, TextTarget, MODALITY_COLORS,
} from './display';
export type {
  DisplayTarget, DisplayArea, Output, Figure, PixelImage, TableOptions, ProgressOptions, PatchRenderer, LiveDecodeOptions,
  LiveDecodeResult, LiveImage, LossHistory,
} from './display';

// Data sets (emoji, scenes, stories, Brown, captions) and the shipped text tokenizer.
export { openDataset, batches, toPrompt, textOf, imagesOf, DATASET_NAMES, ensureData, buildData, SPLITS } from './data';
export { IMAGE_SIZE, LOW_RES_SIZE } from './data';
export { trainTextTokenizer, loadTextTokenizer, TEXT_VOCAB_SIZE } from './data';
export type {
  Dataset, DatasetName, DatasetMeta, DatasetOptions, DataPart, Example, Split, EmojiInfo, SceneSpec, StorySpec,
  BuildOptions, Manifest,
} from './data';
// Paper data: MoSS instruction data (story completion, scene edits, continue with an image), MiniGPT-5's story
// tasks, Liquid's mixture sampler, pools and understanding questions, MUMU's multimodal prompts and other-source crops.
export {
  instructionData, promptAndTarget, INSTRUCTION_KINDS, vokenStories, lastFrameItems, STORY_TASKS, STORY_CONTEXTS, drawEdit, applyEdit, renderScene, Mixture, batchCounts, liquidPools,
  liquidMixture, CAPTION_PROMPT, LIQUID_TASKS, sceneQuestion, QUESTION_KINDS, mumuPrompts, harmonisationPrompts, OTHER_SOURCES,
  categoryOf, augmentCrop, maybeAugment,
} from './data';
export type {
  ExampleList, InstructionKind, InstructionMeta, InstructionOptions, TargetScene, SceneEdit, EditedScene, MixturePool,
  MixtureOptions, MixtureItem, LiquidTask, LiquidMeta, LiquidPoolOptions, SceneQuestion, QuestionKind, MumuMeta, MumuOptions,
  PromptCrop, CropSource, Category, AugmentOptions, Augmentation, VokenStoryMeta, StoryTask, StoryContextKind,
} from './data';

// Evaluators: the workbench CLIP (retrieval, CLIP-T, CLIP-I), FID on its features, and the exact scene checker.
export {
  ClipModel, loadClip, defaultClipDir, defaultClipConfig, trainClip, clipExamples, canonicalCaptions, clipRetrieval, retrievalMetrics,
  gaussianStats, frechetDistance, frechetTerms, clipFid, clipFeatureStats, SceneChecker,
} from './eval';
export type {
  ClipConfig, ClipTrainData, ClipTrainOptions, ClipTrainEvent, ClipTrainResult, ClipExample, PairScores, RetrievalMetrics, TopK,
  CaptionedImage, GaussianStats, FrechetTerms, Detection, DetectOptions, SceneClaim, SceneCheck, SceneCheckSummary,
} from './eval';

// Adapters (LoRA, Partial LoRA; MoSS's MoE-LoRA, ConvLoRA, SAM-ConvLoRA; PEFT files), Gromov–Wasserstein vocabulary init, and the routing/text analyses of the PLoRA paper.
export { MODALITY_CODES, modalityCodes } from './model/adapter-seam';
export {
  attachLoRA, LoRAHandle, LoRAAdapter, PartialLoRAAdapter, saveAdapter, loadAdapter, loraParamCount, PLORA_TRAINABLE_FREEZE, ploraFreeze,
  MoELoRAAdapter, ConvLoRAAdapter, SAMConvLoRAAdapter, savePeftAdapter, loadPeftAdapter,
} from './adapters';
export type { LoRAKind, LoRATarget, LoRAOptions, LoRASpec, AdapterHost, ModalityKind, ModalityLoRAOptions, ModalityLoRASpec, PeftConfig } from './adapters';
export { gromovWassersteinInit } from './model/gw-init';
export type { GWInitOptions } from './model/gw-init';
export { entropicGromovWasserstein, gwObjective, barycentricProjection, pairwiseDistances } from './model/gromov-wasserstein';
export type { GWOptions, GWResult } from './model/gromov-wasserstein';
export type { RowInitExtras } from './model/vocab-extend';
export {
  expertCoActivation, coActivationByLayer, routingByModality, exclusivityByDepth, jensenShannon, textSuite, relativeChange, budgetTable,
  modelPerplexity, BigramBaseline, TEXT_TASKS,
} from './analysis';
export type {
  CoActivation, RoutingByModality, TextTask, TextSuiteOptions, TextSuiteResult, TaskScore, ScoreChange, RelativeChange, BudgetTable,
  AdapterBudget, PerplexityResult, TraceLike,
} from './analysis';
export { captionConditioning, halfRotation } from './eval';
export { pairedDifference } from './util/stats';
export type { ConditioningProbe, CaptionedCodeExample } from './eval';

// Recipes of the shipped models (what `npm run train:<name>` runs) and their data helpers.
export { captioned, pairs, mixedSampler } from './recipes/mm-data';
export { tokenStream, windowSampler } from './recipes/lm-data';
export { generateForCaptions } from './recipes/mm-moe-small';
export type { CaptionedCodes } from './recipes/mm-data';

// Images (one RGBImage type, pixel operations, PNG) and the image tokenizer: a VQ-VAE, 32×32 → 8×8 codes and 16×16 → 4×4 with one set of weights; PNG in/out; training.
export { VQVAE, defaultVQVAEConfig, validateVQVAEConfig, defaultVQVAEDir, evaluateVQVAE, codeUsage, psnr } from './image';
export type { VQVAEConfig, SizeEval, CodeUsage } from './image';
export { trainVQVAE } from './train/vqvae/train-vqvae';
export type { VQVAETrainOptions, VQVAETrainEvent, VQVAETrainResult, CurvePoint } from './train/vqvae/train-vqvae';
export { downscale2x, cropImage, toFloat01, fromFloat01, imageGrid, readPng, writePng } from './image';
export type { RGBImage, ImageCoder } from './image';

// Latent diffusion decoder (kernel-lib/diffusion): LatentDiffusion.load / sample / encodeCaption / loss, liveDiffusion
export { LatentDiffusion, defaultDiffusionConfig, countDiffusionParams, NoiseSchedule, LatentSpace, trainDiffusion, DEFAULT_STEPS, DEFAULT_CFG_SCALE, DecoderLoRA } from './diffusion';
export type { LatentDiffusionConfig, SampleOptions, SampleResult, Conditioning, DiffusionStep, DiffusionTrainEvent, DecoderLoRAOptions } from './diffusion';
export { liveDiffusion } from './display';
export type { LiveDiffusionOptions, LiveDiffusionResult } from './display';

// Paper reproductions, one namespace each (kernel-lib/papers/<paper>/): recipes, analyses, verdicts, figures,
// typed results. `sb.plora` is "Efficient Multimodal Generation via Redundancy-Aware Mixture-of-Experts" (notebook 01).
// `sb.liquid` is "Liquid: Language Models are Scalable and Unified Multi-modal Generators" (issue #16; library part).
// `sb.moss` is "Modality-Specialized Synergizers for Interleaved Vision-Language Generalists" (issue #13; notebook 02).
// `sb.minigpt5` is "MiniGPT-5: Interleaved Vision-and-Language Generation via Generative Vokens" (issue #15; library part).
// `sb.mumu` is "MUMU: Bootstrapping Multimodal Image Generation from Text-to-Image Data" (issue #17; library part).
export { plora, liquid, moss, minigpt5, mumu, writeResultsFile, checkShape, ShapeError } from './papers';
export type { Shape, Infer } from './papers';
