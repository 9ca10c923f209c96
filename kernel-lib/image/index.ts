/** Images and the VQ-VAE image tokenizer: the RGBImage type and its pixel operations, PNG in/out and grids, images ⇄ integer code grids. */
export type { RGBImage, RGB, PixelData, PixelImage, ImageCoder, PatchRenderer } from './types';
export { PENDING_RGB } from './types';
export { blankImage, compositeOnWhite, resizeArea, downscale2x, paste, cropImage, toFloat01, fromFloat01, imageGrid } from './rgb';
export { VQVAE, toModelRange, fromModelRange, CODEBOOK } from './model';
export { defaultVQVAEConfig, validateVQVAEConfig, vqvaeParamShapes, gridSize, DOWNSAMPLE } from './config';
export type { VQVAEConfig } from './config';
export { readVQVAECheckpoint, writeVQVAECheckpoint, vqvaeCheckpointFiles, readVQVAEMetrics, VQVAE_FORMAT } from './checkpoint';
export type { SaveVQVAEOptions } from './checkpoint';
export { CodebookEma, codeUsage, nearestCodes, detach } from './quantizer';
export type { CodeUsage, EmaOptions } from './quantizer';
export { readPng, writePng, imagePng, rgbPng, toRgb, upscaleNearest, gridLayout, imageGridPng, PREVIEW_BACKGROUND } from './png';
export type { GridOptions, ImageOptions, ReadPngOptions, ToRgbOptions } from './png';
export { psnr, meanImagePsnr } from './metrics';
export { evaluateVQVAE, packImages, atSize } from './evaluate';
export type { SizeEval } from './evaluate';
export { defaultVQVAEDir } from './paths';
