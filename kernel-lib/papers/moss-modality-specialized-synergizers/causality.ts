/**
 * Notebook 02's live causality check (Fig. 2's promise, on the real model): attach a MoSS adapter whose
 * zero-initialised weights (the B's) are given seeded random values, so it changes the model; run one
 * item's row through the full forward as it is and with one code of the target image changed; every
 * position before the changed code must give bit-identical logits, and the positions after it must move.
 * The adapter is detached afterwards: the session is left as it was.
 */
import * as tf from '@tensorflow/tfjs';
import type { Session } from '../../session';
import { attachLoRA } from '../../adapters/attach';
import { mulberry32, normalArray } from '../../util/random';
import { armAdapter, TABLE2_RANK } from './arms';
import { itemRow } from './items';
import type { CodedItem } from './items';

export interface CausalityCheck {
  item: string;
  /** Index in the row of the image code that was changed (its position and every later one may change). */
  changedAt: number;
  /** Largest |Δ logit| over positions before changedAt: 0 when the adapter is causal. */
  earlierMaxChange: number;
  /** Largest |Δ logit| at changedAt and after (the adapter and the base at work). */
  laterMaxChange: number;
}

export function causalityCheck(s: Session, item: CodedItem, o: { seed?: number; std?: number; codeOffset?: number } = {}): CausalityCheck {
  if (!s.tokenizer.hasImages) throw new Error('moss.causalityCheck: the session has no image codes');
  const row = itemRow(s.tokenizer, item);
  const offset = o.codeOffset ?? 10;
  const changedAt = row.ids.findIndex((id, i) => i >= row.targetAt + offset && s.tokenizer.isImageCode(id));
  if (changedAt < 0) throw new Error(`moss.causalityCheck: item ${item.id} has no image code ${offset} or more tokens into its target`);
  const spec = armAdapter(s.config, 'moss', { rank: TABLE2_RANK, seed: o.seed ?? 0, grid: s.tokenizer.imageGrid });
  const h = attachLoRA(s, { ...(spec as NonNullable<typeof spec>), name: 'moss-causality-check' });
  try {
    const rand = mulberry32(o.seed ?? 0);
    tf.tidy(() => {
      for (const v of h.parameters().values()) {
        if (tf.max(tf.abs(v)).dataSync()[0] === 0) v.assign(tf.tensor(normalArray(v.size, o.std ?? 0.3, rand), v.shape));
      }
    });
    const logits = (ids: number[]) => s.model.forward([ids], { positions: s.positions(ids), capture: 'none' }).logits;
    const before = logits(row.ids);
    const changed = row.ids.slice();
    const code = s.tokenizer.codeOf(row.ids[changedAt]);
    changed[changedAt] = s.tokenizer.imageCodeId((code + 1 + Math.floor(s.tokenizer.numImageCodes / 2)) % s.tokenizer.numImageCodes);
    const after = logits(changed);
    const V = s.config.vocabSize;
    let earlier = 0;
    for (let i = 0; i < changedAt * V; i++) earlier = Math.max(earlier, Math.abs(after[i] - before[i]));
    let later = 0;
    for (let i = changedAt * V; i < before.length; i++) later = Math.max(later, Math.abs(after[i] - before[i]));
    return { item: item.id, changedAt, earlierMaxChange: earlier, laterMaxChange: later };
  } finally {
    h.detach();
  }
}
