/**
 * Retrieval metrics: image → text and text → image top-k over a similarity matrix, with the chance level
 * of a random ranking for comparison. Captions that repeat are given once: each image names the index
 * of its (unique) text, and a text's correct images are all images that name it.
 *
 * Ties count against the model: a correct item is at rank r when r wrong items score at least as high,
 * so a constant similarity scores 0, not 100%.
 */
import type { RGBImage } from '../image/types';
import type { ClipModel } from './clip';

export interface TopK {
  top1: number;
  top5: number;
}

export interface RetrievalMetrics {
  imageToText: TopK;
  textToImage: TopK;
  /** The same metrics for a uniformly random ranking (expected value). */
  chance: { imageToText: TopK; textToImage: TopK };
  images: number;
  texts: number;
}

/**
 * Metrics of a row-major [nImages, nTexts] similarity matrix; `textOfImage[i]` is the index of image i's
 * correct text. Texts no image names are left out of text → image.
 */
export function retrievalMetrics(sim: ArrayLike<number>, nImages: number, nTexts: number, textOfImage: ArrayLike<number>): RetrievalMetrics {
  if (sim.length !== nImages * nTexts) throw new Error(`retrievalMetrics: similarity has ${sim.length} values, expected ${nImages}×${nTexts}`);
  if (textOfImage.length !== nImages) throw new Error(`retrievalMetrics: textOfImage has ${textOfImage.length} entries for ${nImages} images`);
  if (nImages === 0) throw new Error('retrievalMetrics: no images');
  const imagesOf: number[][] = Array.from({ length: nTexts }, () => []);
  for (let i = 0; i < nImages; i++) {
    const t = textOfImage[i];
    if (!Number.isInteger(t) || t < 0 || t >= nTexts) throw new Error(`retrievalMetrics: image ${i} names text ${t}, outside [0, ${nTexts})`);
    imagesOf[t].push(i);
  }
  // image → text: one correct text per image.
  let i2t1 = 0;
  let i2t5 = 0;
  for (let i = 0; i < nImages; i++) {
    const c = textOfImage[i];
    const best = sim[i * nTexts + c];
    let rank = 0;
    for (let j = 0; j < nTexts; j++) if (j !== c && !(sim[i * nTexts + j] < best)) rank++;
    if (rank < 1) i2t1++;
    if (rank < 5) i2t5++;
  }
  // text → image: any of the text's images counts.
  let t2i1 = 0;
  let t2i5 = 0;
  let named = 0;
  let chance1 = 0;
  let chance5 = 0;
  for (let t = 0; t < nTexts; t++) {
    const correct = imagesOf[t];
    if (correct.length === 0) continue;
    named++;
    let best = -Infinity;
    for (const i of correct) best = Math.max(best, sim[i * nTexts + t]);
    const isCorrect = new Set(correct);
    let rank = 0;
    for (let i = 0; i < nImages; i++) if (!isCorrect.has(i) && !(sim[i * nTexts + t] < best)) rank++;
    if (rank < 1) t2i1++;
    if (rank < 5) t2i5++;
    chance1 += hitChance(nImages, correct.length, 1);
    chance5 += hitChance(nImages, correct.length, 5);
  }
  return {
    imageToText: { top1: i2t1 / nImages, top5: i2t5 / nImages },
    textToImage: { top1: t2i1 / named, top5: t2i5 / named },
    chance: {
      imageToText: { top1: Math.min(1, 1 / nTexts), top5: Math.min(1, 5 / nTexts) },
      textToImage: { top1: chance1 / named, top5: chance5 / named },
    },
    images: nImages,
    texts: nTexts,
  };
}

/** P(a random top-k of n items holds at least one of m correct ones) = 1 − C(n−m, k)/C(n, k). */
function hitChance(n: number, m: number, k: number): number {
  if (k >= n) return 1;
  let miss = 1;
  for (let j = 0; j < k; j++) miss *= Math.max(0, n - m - j) / (n - j);
  return 1 - miss;
}

/** An image with its caption (the canonical one is used for retrieval). */
export interface CaptionedImage {
  image: RGBImage;
  caption: string;
}

/** Held-out retrieval of a CLIP on captioned images (repeated captions are merged, see above). */
export function clipRetrieval(model: ClipModel, items: readonly CaptionedImage[]): RetrievalMetrics {
  const texts: string[] = [];
  const index = new Map<string, number>();
  const textOfImage = items.map(({ caption }) => {
    let t = index.get(caption);
    if (t === undefined) {
      t = texts.length;
      index.set(caption, t);
      texts.push(caption);
    }
    return t;
  });
  const img = model.imageEmbeddings(items.map((x) => x.image));
  const txt = model.textEmbeddings(texts);
  return retrievalMetrics(model.similarity(img, txt), items.length, texts.length, textOfImage);
}
