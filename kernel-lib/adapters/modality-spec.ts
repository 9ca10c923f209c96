/**
 * Options of the adapters that route by what a position OUTPUTS (MoSS, "Modality-Specialized
 * Synergizers for Interleaved Vision-Language Generalists",
 * Xu, Liu, Shen et al., 2024, https://arxiv.org/abs/2407.03604): a linear LoRA branch for positions that output text (or `<eoi>`)
 * and an image branch for positions that output image codes (model/positions.ts, outputModality):
 *
 *   moe-lora      image branch = a second linear LoRA (MoSS Table 2's MoE-LoRA);
 *   convlora      image branch = causal 2×2 Conv(d_in → r) over the code grid, then B (Eq. 4);
 *   sam-convlora  image branch = A (d_in → r), causal 2×2 and 4×4 convs in rank space (summed), then B
 *                 (SAM-ConvLoRA of Zhong et al. 2024, MoSS Table 10).
 *
 * Both branches are scaled by s = α/√r like the other adapters (rank-stabilised), B = 0 at attachment,
 * and dropout (default 0.05, PEFT's lora_dropout) on the adapter's input in training forwards only.
 */
import type { MoEConfig } from '../model/config';
import { commonAdapterSpec, LoRATarget } from './lora';

export type ModalityKind = 'moe-lora' | 'convlora' | 'sam-convlora';
export const MODALITY_KINDS: readonly ModalityKind[] = ['moe-lora', 'convlora', 'sam-convlora'];

export interface ModalityLoRAOptions {
  kind: ModalityKind;
  rank: number;
  /** Scaling numerator: both branches are multiplied by alpha/√rank. */
  alpha: number;
  /** The image code grid (required by the conv kinds: the grid width gives the neighbours). */
  grid?: { height: number; width: number } | null;
  layers?: number[];
  targets?: LoRATarget[];
  name?: string;
  seed?: number;
  /** Dropout on the adapter input while training (default 0.05); 0 ≤ dropout < 1. */
  dropout?: number;
}

export interface ModalityLoRASpec {
  kind: ModalityKind;
  name: string;
  rank: number;
  alpha: number;
  grid: { height: number; width: number } | null;
  layers: number[];
  targets: LoRATarget[];
  seed: number;
  dropout: number;
}

/** The position rule of each kind, as adapter_config.json states it. */
export const POSITION_RULES: Record<ModalityKind, string> = {
  'moe-lora': 'outputModality: positions whose next token is an image code use the image LoRA, all others the text LoRA',
  convlora: 'outputModality: positions whose next token is an image code use the causal 2x2 ConvLoRA on the cell of the code they output (padding top/left), all others the text LoRA',
  'sam-convlora': 'outputModality: positions whose next token is an image code use SAM-ConvLoRA (down, causal 2x2 + 4x4 convs in rank space, up) on the cell of the code they output, all others the text LoRA',
};

export function modalitySpec(cfg: MoEConfig, o: ModalityLoRAOptions): ModalityLoRASpec {
  if (!MODALITY_KINDS.includes(o.kind)) throw new Error(`kind must be 'moe-lora', 'convlora' or 'sam-convlora', got ${JSON.stringify(o.kind)}`);
  const common = commonAdapterSpec(cfg, o);
  let grid: ModalityLoRASpec['grid'] = null;
  if (o.kind !== 'moe-lora' || o.grid != null) {
    const g = o.grid;
    if (!g || !Number.isInteger(g.height) || !Number.isInteger(g.width) || g.height < 1 || g.width < 1) {
      throw new Error(`grid must be the image code grid {height, width} (positive integers) for kind '${o.kind}', got ${JSON.stringify(g)}`);
    }
    grid = { height: g.height, width: g.width };
  }
  const dropout = o.dropout ?? 0.05;
  if (typeof dropout !== 'number' || !(dropout >= 0 && dropout < 1)) throw new Error(`dropout must be a number in [0, 1), got ${JSON.stringify(o.dropout)}`);
  return { kind: o.kind, ...common, grid, dropout };
}
