/**
 * One folder per reproduced paper: its recipes, paper-specific analyses, claim verdicts, figures and a
 * typed results builder. Generic pieces stay below (analysis/, display/, eval/); shared helpers for
 * results files are here.
 */
export * as plora from './redundancy-aware-moe-plora';
export * as liquid from './liquid-unified-vq-language-model';
export * as moss from './moss-modality-specialized-synergizers';
export * as minigpt5 from './minigpt5-generative-vokens';
export * as mumu from './mumu-multimodal-prompts';
export { writeResultsFile, resultsJson, VOLATILE_FIELDS } from './results-file';
export { checkShape, ShapeError } from './shape';
export type { Shape, Infer } from './shape';
