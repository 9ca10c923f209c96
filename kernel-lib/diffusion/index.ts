/** The latent diffusion decoder: VQ-VAE latent space, DiT denoiser with cross-attention, caption encoder, schedule, samplers, training. */
export { LatentDiffusion, DEFAULT_STEPS, DEFAULT_CFG_SCALE } from './model';
export type { SampleOptions, SampleResult, LossOptions, CondInput } from './model';
export { defaultDiffusionConfig, validateDiffusionConfig, diffusionParamShapes, countDiffusionParams, DIFFUSION_PRESETS } from './config';
export type { LatentDiffusionConfig, DenoiserConfig, CaptionEncoderConfig, DiffusionPreset } from './config';
export { NoiseSchedule, samplingTimesteps } from './schedule';
export { LatentSpace } from './latent-space';
export type { LatentStats } from './latent-space';
export type { Conditioning } from './caption-encoder';
export type { DiffusionStep, SamplerName } from './sample';
export { readDiffusionCheckpoint, writeDiffusionCheckpoint, LDM_FORMAT } from './checkpoint';
export type { SaveDiffusionOptions } from './checkpoint';
export { trainDiffusion, diffusionBatch, diffusionLossClosure } from './train';
export type { DiffusionTrainData, DiffusionTrainOptions, DiffusionTrainEvent, DiffusionTrainResult, DiffusionBatch } from './train';
export { DecoderLoRA, readDecoderLoRA, DECODER_LORA_TARGETS, DECODER_LORA_FORMAT } from './lora';
export type { DecoderLoRAOptions, DecoderLoRASpec, DecoderLoRATarget } from './lora';
export type { WeightOverlay } from './denoiser';
