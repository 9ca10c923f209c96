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
import { LORA_TARGETS, LoRATarget } from './lora';

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
  if (!Number.isInteger(o.rank) || o.rank < 1) throw new Error(`rank must be a positive integer, got ${JSON.stringify(o.rank)}`);
  if (typeof o.alpha !== 'number' || !Number.isFinite(o.alpha)) throw new Error(`alpha must be a finite number, got ${JSON.stringify(o.alpha)}`);
  let grid: ModalityLoRASpec['grid'] = null;
  if (o.kind !== 'moe-lora' || o.grid != null) {
    const g = o.grid;
    if (!g || !Number.isInteger(g.height) || !Number.isInteger(g.width) || g.height < 1 || g.width < 1) {
      throw new Error(`grid must be the image code grid {height, width} (positive integers) for kind '${o.kind}', got ${JSON.stringify(g)}`);
    }
    grid = { height: g.height, width: g.width };
  }
  const layers = o.layers ?? Array.from({ length: cfg.numLayers }, (_, i) => i);
  for (const l of layers) {
    if (!Number.isInteger(l) || l < 0 || l >= cfg.numLayers) throw new Error(`layers: ${JSON.stringify(l)} is not a layer of this ${cfg.numLayers}-layer model`);
  }
  if (new Set(layers).size !== layers.length) throw new Error(`layers: ${JSON.stringify(layers)} repeats a layer`);
  const targets = o.targets ?? LORA_TARGETS.slice();
  for (const t of targets) if (!LORA_TARGETS.includes(t)) throw new Error(`targets: ${JSON.stringify(t)} is not one of q, k, v, o`);
  if (targets.length === 0 || new Set(targets).size !== targets.length) throw new Error(`targets must name q, k, v or o once each, got ${JSON.stringify(targets)}`);
  const name = o.name ?? o.kind;
  if (!/^[A-Za-z0-9_-]+$/.test(name)) throw new Error(`name must be letters, digits, '_' or '-', got ${JSON.stringify(name)}`);
  const seed = o.seed ?? 0;
  if (!Number.isInteger(seed)) throw new Error(`seed must be an integer, got ${JSON.stringify(o.seed)}`);
  const dropout = o.dropout ?? 0.05;
  if (typeof dropout !== 'number' || !(dropout >= 0 && dropout < 1)) throw new Error(`dropout must be a number in [0, 1), got ${JSON.stringify(o.dropout)}`);
  return { kind: o.kind, name, rank: o.rank, alpha: o.alpha, grid, layers: [...layers].sort((a, b) => a - b), targets: LORA_TARGETS.filter((t) => targets.includes(t)), seed, dropout };
}
