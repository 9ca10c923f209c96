import { useBackend } from '../helpers/backend';
import { VQVAE, defaultVQVAEConfig } from '../../kernel-lib/image';
import { VQPatchRenderer } from '../../kernel-lib/display/vq-renderer';
import { PENDING_RGB } from '../../kernel-lib/display/patch-renderer';

test('VQPatchRenderer: generated patches are the decoder’s pixels, pending ones the pending colour', async () => {
  await useBackend();
  const vq = VQVAE.create(defaultVQVAEConfig(), 3);
  const r = new VQPatchRenderer(vq, { height: 8, width: 8 });
  expect(r.patchSize).toBe(4);
  const codes = Array.from({ length: 64 }, (_, i) => (i < 21 ? (i * 37) % vq.numCodes : -1));
  const px = r.render(codes, { height: 8, width: 8 });
  const full = vq.decode([{ height: 8, width: 8, codes: codes.map((c) => Math.max(c, 0)) }])[0].pixels;
  const at = (y: number, x: number) => (y * 32 + x) * 3;
  // code 0 is at patch (0,0), code 20 at patch (2,4): decoded; patch (2,5) and the last are pending
  for (const [y, x] of [[0, 0], [3, 3], [9, 17], [11, 19]]) expect(Array.from(px.subarray(at(y, x), at(y, x) + 3))).toEqual(Array.from(full.subarray(at(y, x), at(y, x) + 3)));
  for (const [y, x] of [[8, 20], [31, 31]]) expect(Array.from(px.subarray(at(y, x), at(y, x) + 3))).toEqual(PENDING_RGB);
  expect(() => new VQPatchRenderer(vq, { height: 8, width: 6 })).toThrow('VQPatchRenderer: a 8×6 grid does not tile 32×32 pixels');
  vq.dispose();
});
