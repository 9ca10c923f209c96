/** Retrieval metrics on hand-made similarity matrices, where every rank can be worked out by eye. */
import { retrievalMetrics } from '../../kernel-lib/eval/retrieval';

describe('retrievalMetrics', () => {
  test('a hand-made 4×4 matrix: ranks by eye', () => {
    // rows: images, columns: texts; image i's text is i.
    const sim = [
      0.9, 0.1, 0.2, 0.3, // image 0: its text first            → i2t rank 0
      0.5, 0.4, 0.1, 0.0, // image 1: text 0 beats it            → rank 1
      0.1, 0.2, 0.3, 0.4, // image 2: text 3 beats it            → rank 1
      0.0, 0.1, 0.2, 0.3, // image 3: its text first            → rank 0
    ];
    const m = retrievalMetrics(sim, 4, 4, [0, 1, 2, 3]);
    expect(m.imageToText).toEqual({ top1: 0.5, top5: 1 });
    // text → image, by column: t0 [0.9,0.5,0.1,0] → image 0 first; t1 [0.1,0.4,0.2,0.1] → image 1 first;
    // t2 [0.2,0.1,0.3,0.2] → image 2 first; t3 [0.3,0,0.4,0.3] → image 2 (0.4) beats image 3 (0.3), and
    // image 0 ties it at 0.3 (ties count against): rank 2.
    expect(m.textToImage).toEqual({ top1: 0.75, top5: 1 });
    expect(m.chance.imageToText.top1).toBeCloseTo(0.25, 12);
    expect(m.chance.imageToText.top5).toBe(1);
    expect(m.images).toBe(4);
    expect(m.texts).toBe(4);
  });

  test('top-5 boundary: rank 4 is in, rank 5 is out', () => {
    const n = 7;
    const sim: number[] = [];
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) sim.push(j === i ? 0 : j < i ? 1 : -1);
    // image i's correct text is beaten by the texts j < i: rank i.
    const m = retrievalMetrics(sim, n, n, [0, 1, 2, 3, 4, 5, 6]);
    expect(m.imageToText.top1).toBeCloseTo(1 / 7, 12);
    expect(m.imageToText.top5).toBeCloseTo(5 / 7, 12);
  });

  test('a constant similarity scores 0 (ties count against the model)', () => {
    const m = retrievalMetrics(new Array(9).fill(0.5), 3, 3, [0, 1, 2]);
    expect(m.imageToText.top1).toBe(0);
    expect(m.textToImage.top1).toBe(0);
  });

  test('repeated captions: several images share one text, and any of them is right for it', () => {
    // Texts: 0 = "a cat" (images 0 and 1), 1 = "a dog" (image 2).
    const sim = [
      0.2, 0.8, // image 0 prefers "a dog": wrong
      0.9, 0.1, // image 1: right
      0.3, 0.7, // image 2: right
    ];
    const m = retrievalMetrics(sim, 3, 2, [0, 0, 1]);
    expect(m.imageToText.top1).toBeCloseTo(2 / 3, 12);
    // "a cat": best of its images is image 1 (0.9), nothing wrong beats it. "a dog": image 2 (0.7) is
    // beaten by image 0 (0.8): wrong at top-1.
    expect(m.textToImage.top1).toBeCloseTo(0.5, 12);
    // Chance for "a cat" (2 of 3 images right) at top-1 is 2/3; for "a dog" 1/3.
    expect(m.chance.textToImage.top1).toBeCloseTo((2 / 3 + 1 / 3) / 2, 12);
    expect(m.chance.imageToText.top1).toBeCloseTo(1 / 2, 12);
  });

  test('texts no image names are left out of text → image', () => {
    const sim = [0.9, 0.1, 0.0, 0.2, 0.8, 0.0];
    const m = retrievalMetrics(sim, 2, 3, [0, 1]);
    expect(m.textToImage).toEqual({ top1: 1, top5: 1 });
    expect(m.texts).toBe(3);
  });

  test('bad input is named', () => {
    expect(() => retrievalMetrics([1, 2, 3], 2, 2, [0, 1])).toThrow('retrievalMetrics: similarity has 3 values, expected 2×2');
    expect(() => retrievalMetrics([1, 2, 3, 4], 2, 2, [0])).toThrow('retrievalMetrics: textOfImage has 1 entries for 2 images');
    expect(() => retrievalMetrics([1, 2, 3, 4], 2, 2, [0, 2])).toThrow('retrievalMetrics: image 1 names text 2, outside [0, 2)');
    expect(() => retrievalMetrics([], 0, 0, [])).toThrow('retrievalMetrics: no images');
  });
});
