/** The VQ-VAE image tokenizer: images ⇄ integer code grids, PNG in/out, evaluation and training. */
export { VQVAE, toModelRange, fromModelRange, CODEBOOK } from './model';
export { defaultVQVAEConfig, validateVQVAEConfig, vqvaeParamShapes, gridSize, DOWNSAMPLE } from './config';
export type { VQVAEConfig } from './config';
export { readVQVAECheckpoint, writeVQVAECheckpoint, readVQVAEMetrics, VQVAE_FORMAT } from './checkpoint';
export type { SaveVQVAEOptions } from './checkpoint';
export { CodebookEma, codeUsage, nearestCodes, detach } from './quantizer';
export type { CodeUsage, EmaOptions } from './quantizer';
export { readPng, writePng, imageGridPng } from './png';
export type { GridOptions, ReadPngOptions } from './png';
export { psnr, meanImagePsnr } from './metrics';
export { evaluateVQVAE, packImages, atSize } from './evaluate';
export type { SizeEval } from './evaluate';
export { trainVQVAE } from './train-vqvae';
export type { VQVAETrainOptions, VQVAETrainEvent, VQVAETrainResult, CurvePoint } from './train-vqvae';
export { defaultVQVAEDir } from './paths';
