/**
 * The arms of the MoSS reproduction (issue #13): what each trains on the frozen mm-moe-small, and the
 * adapter it attaches. Every adapter arm is on q, k, v and o of every layer, scaled α/√r (rank-stabilised,
 * as notebook 01's), with dropout 0.05 on its input while training (paper A.1); `full` fine-tunes the base.
 */
import type { MoEConfig } from '../../model/config';
import { loraParamCount, projectionShape, LORA_TARGETS } from '../../adapters/lora';
import type { LoRAOptions } from '../../adapters/lora';
import type { ModalityLoRAOptions } from '../../adapters/modality-spec';
import { CONV_KERNEL } from '../../adapters/conv-lora';
import { SAM_KERNELS } from '../../adapters/sam-conv-lora';

export const ARMS = {
  lora: 'plain LoRA: one linear adapter at every position (Table 2)',
  'moe-lora': 'MoE-LoRA: a text and an image linear LoRA, chosen by what the position outputs (Table 2)',
  'moe-lora-matched': 'MoE-LoRA at the rank whose parameter count equals MoSS’s at the asked rank (a win must not be size alone)',
  moss: 'MoSS: linear LoRA where the position outputs text, causal 2×2 ConvLoRA where it outputs an image code (Eq. 3–4)',
  'sam-convlora': 'MoSS with SAM-ConvLoRA as the image branch: down to r, causal 2×2 + 4×4 convs in rank space, up (Table 10)',
  full: 'full fine-tuning of the base, no adapter (Table 12)',
} as const;
export type Arm = keyof typeof ARMS;
export const ARM_NAMES = ['lora', 'moe-lora', 'moe-lora-matched', 'moss', 'sam-convlora', 'full'] as const satisfies readonly Arm[];
/** The ranks of Fig. 5 / Tables 13–15 at workbench scale (the paper: 32–256 on a 33B model). */
export const RANKS = [4, 8, 16, 32] as const;
/** Table 2's rank here (the paper's is 256). */
export const TABLE2_RANK = 8;
/** α of every adapter: with α/√r scaling a fixed α keeps the update size stable across ranks (notebook 01: α 8 at r 8). */
export const ALPHA = 8;
/** PEFT's lora_dropout, on the adapter input while training (paper A.1). */
export const DROPOUT = 0.05;

/** Adapter weights of a kind at a rank on every q, k, v, o of every layer (the formula, not an attached adapter). */
export function adapterParams(cfg: MoEConfig, kind: 'lora' | 'moe-lora' | 'convlora' | 'sam-convlora', rank: number): number {
  const layers = Array.from({ length: cfg.numLayers }, (_, i) => i);
  const text = loraParamCount(cfg, { rank, layers, targets: [...LORA_TARGETS] });
  if (kind === 'lora') return text;
  if (kind === 'moe-lora') return 2 * text;
  const image = LORA_TARGETS.reduce((n, t) => {
    const s = projectionShape(cfg, t);
    if (kind === 'convlora') return n + CONV_KERNEL * CONV_KERNEL * s.in * rank + rank * s.out;
    return n + s.in * rank + SAM_KERNELS.reduce((m, k) => m + k * k * rank * rank, 0) + rank * s.out;
  }, 0);
  return text + image * cfg.numLayers;
}

/**
 * The MoE-LoRA rank whose parameter count is nearest MoSS's at `rank` (ties to the larger). MoE-LoRA
 * has 2·r·(in + out) weights per projection and MoSS r·(in + out) + r·(4·in + out), so on mm-moe-small
 * (in = out = 128) the matched rank is 1.75·r: 7, 14, 28, 56 for 4, 8, 16, 32, with equal counts.
 */
export function matchedRank(cfg: MoEConfig, rank: number): number {
  const want = adapterParams(cfg, 'convlora', rank);
  const per = adapterParams(cfg, 'moe-lora', 1);
  const lo = Math.max(1, Math.floor(want / per));
  return Math.abs(adapterParams(cfg, 'moe-lora', lo + 1) - want) <= Math.abs(adapterParams(cfg, 'moe-lora', lo) - want) ? lo + 1 : lo;
}

/** The adapter an arm attaches (null for `full`), named `moss-<arm>`. */
export function armAdapter(cfg: MoEConfig, arm: Arm, o: { rank: number; seed: number; grid: { height: number; width: number } | null }): LoRAOptions | ModalityLoRAOptions | null {
  if (!(arm in ARMS)) throw new Error(`moss: unknown arm '${String(arm)}' (arms: ${ARM_NAMES.join(', ')})`);
  if (!Number.isInteger(o.rank) || o.rank < 1) throw new Error(`moss: rank must be a positive integer, got ${JSON.stringify(o.rank)}`);
  const name = `moss-${arm}`;
  const common = { name, alpha: ALPHA, seed: o.seed, dropout: DROPOUT };
  switch (arm) {
    case 'full':
      return null;
    case 'lora':
      return { kind: 'lora', rank: o.rank, ...common };
    case 'moe-lora':
      return { kind: 'moe-lora', rank: o.rank, ...common };
    case 'moe-lora-matched':
      return { kind: 'moe-lora', rank: matchedRank(cfg, o.rank), ...common };
    case 'moss':
      return { kind: 'convlora', rank: o.rank, grid: o.grid, ...common };
    case 'sam-convlora':
      return { kind: 'sam-convlora', rank: o.rank, grid: o.grid, ...common };
  }
}
