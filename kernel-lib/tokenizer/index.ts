/** Tokenizer layer: byte-level BPE for text, and the multimodal vocabulary built on it. */
export { ByteLevelBPE } from './bpe';
export type { TrainOptions, TrainProgress } from './train';
export { pretokenize } from './bytes';
export type { TokenizerJson, AddedTokenJson } from './hf-json';
export { MultimodalTokenizer } from './multimodal';
export type { ImageVocabularyOptions } from './multimodal';
export type { ImageGrid, TokenizerLayout } from './added-tokens';
export { UNCONDITIONAL_TOKEN } from './added-tokens';
export type { Modality, ImageCodes, PromptPart, Prompt, GridPos, EncodedPrompt } from './prompt';
