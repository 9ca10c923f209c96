/** Data layer: the emoji, scenes, stories, Brown and captions data sets, and the shipped text tokenizer. */
export { openDataset, datasetFromStore, batches, toPrompt, textOf, imagesOf, captionTexts, DATASET_NAMES } from './dataset';
export type { Dataset, DatasetName, DatasetMeta, DatasetOptions, DataPart, Example } from './dataset';
export { ensureData, DataStore } from './store';
export { buildData, DEFAULT_DATA_OPTIONS, FORMAT_VERSION } from './build';
export type { BuildOptions, DataOptions, Manifest, SplitCounts } from './build';
export { SPLITS } from './emoji';
export type { EmojiInfo, Split } from './emoji';
export type { SceneSpec, SceneObject, CaptionTemplate } from './scenes';
export type { StorySpec, StoryFrame, StoryObject, StoryEvent } from './stories';
export type { Box, Region, Relation } from './layout';
export type { BrownDocument } from './brown';
export { IMAGE_SIZE, LOW_RES_SIZE } from './image';
export { trainTextTokenizer, loadTextTokenizer, saveTextTokenizer, tokenizerCorpus, TEXT_VOCAB_SIZE } from './text-tokenizer';
export { defaultCacheDir, defaultTokenizerPath } from './paths';
