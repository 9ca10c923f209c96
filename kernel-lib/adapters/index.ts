/**
 * Adapters on the attention projections: LoRA (every token), Partial LoRA (image tokens only), and the
 * output-modality adapters of MoSS: MoE-LoRA, ConvLoRA (causal 2×2 conv on the code grid), SAM-ConvLoRA.
 */
export { LoRAAdapter, PartialLoRAAdapter, createLoRA, loraSpec, loraParamCount, projectionShape, LORA_TARGETS } from './lora';
export type { LoRAKind, LoRATarget, LoRAOptions, LoRASpec } from './lora';
export { attachLoRA, LoRAHandle, PLORA_TRAINABLE_FREEZE, ploraFreeze } from './attach';
export type { AdapterHost } from './attach';
export { saveAdapter, loadAdapter, adapterFiles, ADAPTER_FORMAT, ADAPTER_FORMAT_VERSION } from './io';
export { ModalityLoRAAdapter } from './modality-lora';
export { MoELoRAAdapter } from './moe-lora';
export { ConvLoRAAdapter, CONV_KERNEL } from './conv-lora';
export { SAMConvLoRAAdapter, SAM_KERNELS } from './sam-conv-lora';
export { createModalityLoRA } from './modality';
export { modalitySpec, MODALITY_KINDS, POSITION_RULES } from './modality-spec';
export type { ModalityKind, ModalityLoRAOptions, ModalityLoRASpec } from './modality-spec';
export { outputCells, historyRows, causalTaps, causalConv, GridHistory } from './causal-grid';
export type { CausalTap, ConvPlan } from './causal-grid';
export { savePeftAdapter, loadPeftAdapter, peftConfig, peftMapping, isPeftDir, PEFT_WEIGHTS, PEFT_CONFIG } from './peft';
export type { PeftConfig } from './peft';
export { adapterModelShape } from './model-shape';
export type { AdapterModelShape } from './model-shape';
