/**
 * Classifier-free guidance at the logit level (Ho & Salimans 2022; Liquid samples images this way with
 * γ = 7): guided = u + γ·(c − u), with c the logits given the prompt and u the logits given an
 * unconditional prompt. At γ = 1 it is c; at γ = 0 it is u. Generation runs both prompts as two rows of
 * one KV cache, so each step is one batch-2 step.
 *
 * Which unconditional prompt: 'drop-text' (the prompt with its text tokens removed, LlamaGen-style, the
 * only choice before Liquid) or 'unconditional-token' (each run of text tokens replaced by one
 * <unconditional> token, the condition Liquid trains with by dropping 10 % of captions; the vocabulary
 * needs that token). Specials and image codes stay in both, so the grid and <boi> are where they were.
 */
import type { Modality } from '../tokenizer/prompt';

export const CFG_UNCONDITIONAL_MODES = ['drop-text', 'unconditional-token'] as const;
export type CfgUnconditional = (typeof CFG_UNCONDITIONAL_MODES)[number];

/**
 * guided[i] = u[i] + γ·(c[i] − u[i]), written into `out` (default: a new array). At γ = 1 it copies c:
 * in float32, u + (c − u) can differ from c in the last bit, and γ = 1 means "no guidance".
 */
export function guideLogits(c: Float32Array, u: Float32Array, scale: number, out: Float32Array = new Float32Array(c.length)): Float32Array {
  if (c.length !== u.length) throw new Error(`guideLogits: conditional logits have ${c.length} entries but unconditional ${u.length}`);
  if (out.length !== c.length) throw new Error(`guideLogits: out has ${out.length} entries, expected ${c.length}`);
  if (!Number.isFinite(scale)) throw new Error(`guideLogits: scale must be finite, got ${scale}`);
  if (scale === 1) {
    if (out !== c) out.set(c);
    return out;
  }
  for (let i = 0; i < c.length; i++) out[i] = u[i] + scale * (c[i] - u[i]);
  return out;
}

/**
 * The unconditional prompt of `ids` for a mode. `unconditionalId` is the <unconditional> token's id,
 * needed (and only used) by 'unconditional-token'.
 */
export function unconditionalPrompt(
  ids: readonly number[],
  modalityOf: (id: number) => Modality,
  mode: CfgUnconditional = 'drop-text',
  unconditionalId?: number,
): number[] {
  if (!CFG_UNCONDITIONAL_MODES.includes(mode)) {
    throw new Error(`cfgUnconditional must be one of ${CFG_UNCONDITIONAL_MODES.join(', ')}, got ${JSON.stringify(mode)}`);
  }
  if (mode === 'drop-text') return ids.filter((id) => modalityOf(id) !== 'text');
  if (unconditionalId === undefined) {
    throw new Error("cfgUnconditional 'unconditional-token' needs a vocabulary with <unconditional> (tokenizer.withUnconditional / session.withUnconditional)");
  }
  const out: number[] = [];
  for (const id of ids) {
    if (modalityOf(id) !== 'text') out.push(id);
    else if (out[out.length - 1] !== unconditionalId) out.push(unconditionalId);
  }
  return out;
}
