/** Shared by the MoSS adapter tests: a mixed text/image sequence, trained-looking weights, metadata slices. */
import * as tf from '@tensorflow/tfjs';
import type { Session } from '../../kernel-lib/session';
import type { LoRAHandle } from '../../kernel-lib/adapters';
import type { PositionMeta } from '../../kernel-lib/model/positions';
import { mulberry32, normalArray } from '../../kernel-lib/util/random';

/** Text, a whole 4×4 image, more text (ids), and the index of the first image code. */
export function mixedSequence(s: Session, codes: number[]): { ids: number[]; firstCode: number } {
  const ids = s.encode([{ text: 'an emoji of a tiger' }, { image: { height: 4, width: 4, codes } }, { text: 'a red heart' }]).ids;
  return { ids, firstCode: ids.findIndex((id) => s.tokenizer.isImageCode(id)) };
}

/** Gives every zero-initialised weight (the B's) a seeded random value, so the adapter changes the model. */
export function randomizeZeros(h: LoRAHandle, seed = 1, std = 0.3): void {
  const rand = mulberry32(seed);
  tf.tidy(() => {
    for (const v of h.parameters().values()) {
      if (tf.max(tf.abs(v)).dataSync()[0] === 0) v.assign(tf.tensor(normalArray(v.size, std, rand), v.shape));
    }
  });
}

/** Rows [a, b) of position metadata. */
export function sliceMeta(m: PositionMeta, a: number, b: number): PositionMeta {
  return { modality: m.modality.slice(a, b), outputModality: m.outputModality.slice(a, b), image: m.image.slice(a, b), row: m.row.slice(a, b), col: m.col.slice(a, b) };
}
