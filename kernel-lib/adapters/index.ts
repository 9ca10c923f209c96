/** Adapters on the attention projections: LoRA (every token) and Partial LoRA (image tokens only). */
export { LoRAAdapter, PartialLoRAAdapter, createLoRA, loraSpec, loraParamCount, projectionShape, LORA_TARGETS } from './lora';
export type { LoRAKind, LoRATarget, LoRAOptions, LoRASpec } from './lora';
export { attachLoRA, LoRAHandle, PLORA_TRAINABLE_FREEZE, ploraFreeze } from './attach';
export type { AdapterHost } from './attach';
export { saveAdapter, loadAdapter, adapterFiles, ADAPTER_FORMAT, ADAPTER_FORMAT_VERSION } from './io';
