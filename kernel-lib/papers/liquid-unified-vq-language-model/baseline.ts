/**
 * What a model that always predicts one image code scores: the share of the most frequent code among the
 * codes of some images. Notebook 03 sets the runs' held-out image-code accuracy beside it: accuracy equal to
 * this share means the model has learned the codes' marginal (mostly the background) and nothing of their
 * context yet, which is where the workbench's budget leaves every size.
 */
import type { ImageCodes } from '../../tokenizer';

export interface ModalCode {
  /** The most frequent code (the smallest id among equally frequent ones). */
  code: number;
  /** Its share of all codes: the accuracy of always predicting it. */
  share: number;
  /** How many codes were counted. */
  codes: number;
}

/** The most frequent code over `images` and its share (see the file comment). */
export function modalCodeShare(images: readonly ImageCodes[]): ModalCode {
  const counts = new Map<number, number>();
  let total = 0;
  images.forEach((im, i) => {
    if (im.codes.length !== im.height * im.width) {
      throw new Error(`liquid.modalCodeShare: image ${i} has ${im.codes.length} codes for a ${im.height}×${im.width} grid`);
    }
    for (const c of im.codes) counts.set(c, (counts.get(c) ?? 0) + 1);
    total += im.codes.length;
  });
  if (total === 0) throw new Error('liquid.modalCodeShare: no image codes to count (give at least one image with codes)');
  let code = -1;
  let n = 0;
  for (const [c, k] of counts) if (k > n || (k === n && c < code)) [code, n] = [c, k];
  return { code, share: n / total, codes: total };
}
