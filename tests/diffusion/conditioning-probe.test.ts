/** conditioningLossProbe: a decoder whose cross-attention output and pooled route are zero ignores captions (own = shuffled = null, exactly); one with weights there does not. */
import * as tf from '@tensorflow/tfjs';
import { useBackend } from '../helpers/backend';
import { emojiImages, randomize, tinyLdm } from './helpers';
import { conditioningLossProbe } from '../../kernel-lib/recipes/ldm-probe';

beforeAll(() => useBackend());

test('captions ignored → identical losses; captions used → they differ; bad input named; no tensors left', async () => {
  const { images } = await emojiImages(4);
  const captions = ['a red heart', 'a tiger face', 'a cat', 'a sun'];
  const m = tinyLdm({ seed: 2 });
  try {
    randomize(m, 0.2, 3);
    const bands = [[1, 500], [500, 1001]] as const;
    const used = conditioningLossProbe(m, images, captions, { bands, batch: 3 });
    expect(used.map((b) => [b.from, b.to])).toEqual([[1, 500], [500, 1001]]);
    for (const b of used) expect(Math.abs(b.own - b.shuffled) + Math.abs(b.own - b.null)).toBeGreaterThan(1e-6);
    // zero the cross-attention's output projections and the pooled route: the conditioning can no longer reach ε̂
    for (const [name, v] of m.params) if (/cross\.out\.|cond_pool\./.test(name)) v.assign(tf.zerosLike(v));
    const before = tf.memory().numTensors;
    const ignored = conditioningLossProbe(m, images, captions, { bands, batch: 3 });
    expect(tf.memory().numTensors).toBe(before);
    for (const b of ignored) {
      expect(b.shuffled).toBe(b.own);
      expect(b.null).toBe(b.own);
      expect(b.x0.shuffled).toBe(b.x0.own);
      expect(b.x0.null).toBe(b.x0.own);
    }
    // one timestep: the x̂_0 error is the ε-error times (1 − ᾱ_t) / ᾱ_t, and the ε-error is LatentDiffusion.loss's
    const [one] = conditioningLossProbe(m, images, captions, { bands: [[300, 301]], batch: 4 });
    const ab = m.schedule.alphaBar(300);
    expect(one.x0.own / one.own).toBeCloseTo((1 - ab) / ab, 3);
    const cond = m.encodeCaption(captions);
    const direct = tf.tidy(() => m.loss(m.encodeImages(images), cond, { seed: 0, t: [300, 300, 300, 300] }).dataSync()[0]);
    tf.dispose([cond.seq, cond.mask]);
    expect(one.own).toBeCloseTo(direct, 6);
    expect(() => conditioningLossProbe(m, images.slice(0, 1), captions.slice(0, 1))).toThrow('conditioningLossProbe: needs at least 2 images with one caption each, got 1 images and 1 captions');
    expect(() => conditioningLossProbe(m, images, captions, { bands: [[0, 10]] })).toThrow('conditioningLossProbe: band [0, 10) is not within timesteps 1…');
  } finally {
    m.dispose();
  }
});
