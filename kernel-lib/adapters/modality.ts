/** Creates an output-modality adapter (MoE-LoRA, ConvLoRA, SAM-ConvLoRA) for its options. */
import type { MoEConfig } from '../model/config';
import type { ModalityLoRAOptions } from './modality-spec';
import { ModalityLoRAAdapter } from './modality-lora';
import { MoELoRAAdapter } from './moe-lora';
import { ConvLoRAAdapter } from './conv-lora';
import { SAMConvLoRAAdapter } from './sam-conv-lora';
import { modalitySpec } from './modality-spec';

export function createModalityLoRA(config: MoEConfig, options: ModalityLoRAOptions): ModalityLoRAAdapter {
  const spec = modalitySpec(config, options); // validates the kind before choosing a class
  if (spec.kind === 'convlora') return new ConvLoRAAdapter(config, options);
  if (spec.kind === 'sam-convlora') return new SAMConvLoRAAdapter(config, options);
  return new MoELoRAAdapter(config, options);
}
