import { clipTOwnVsShuffled, halfRotation, ownMinusShuffled } from '../../kernel-lib/eval';
import type { ClipModel } from '../../kernel-lib/eval';
import type { RGBImage } from '../../kernel-lib/image/types';

test('ownMinusShuffled: paired mean, standard error and share of captions where own is higher, by hand', () => {
  // differences 0.3, -0.1, 0.2, 0.0: mean 0.1, sample variance (0.04+0.04+0.01+0.01)/3, s.e. sqrt(var/4)
  const r = ownMinusShuffled([0.5, 0.1, 0.4, 0.2], [0.2, 0.2, 0.2, 0.2]);
  expect(r.mean).toBeCloseTo(0.1, 12);
  expect(r.standardError).toBeCloseTo(Math.sqrt(0.1 / 3 / 4), 12);
  expect(r.ownBetterFraction).toBe(0.5);
  expect(() => ownMinusShuffled([1, 2], [1])).toThrow('ownMinusShuffled: 2 own but 1 shuffled scores');
});

test('clipTOwnVsShuffled scores each image against its own caption and against the halfRotation one', () => {
  const seen: string[][] = [];
  const clip = {
    clipT: (_images: readonly RGBImage[], captions: readonly string[]) => {
      seen.push([...captions]);
      return { scores: Float32Array.from(captions, (c) => c.length), mean: 0 };
    },
  } as unknown as ClipModel;
  const caps = ['a', 'bb', 'ccc', 'dddd'];
  const r = clipTOwnVsShuffled(clip, [], caps);
  expect(seen).toEqual([caps, halfRotation(caps)]);
  expect(Array.from(r.own.scores)).toEqual([1, 2, 3, 4]);
  expect(Array.from(r.shuffled.scores)).toEqual(halfRotation(caps).map((c) => c.length));
});
