import { useBackend } from '../helpers/backend';
import { VQVAE, defaultVQVAEConfig } from '../../kernel-lib/image';
import { PENDING_RGB } from '../../kernel-lib/image/types';

test('vq.patchRenderer(): generated patches are decoder pixels (pending cells decoded as a blank patch), pending ones the pending colour', async () => {
  await useBackend();
  const vq = VQVAE.create(defaultVQVAEConfig(), 3);
  const r = vq.patchRenderer();
  expect(r.patchSize).toBe(4);
  const blank = vq.encode(new Uint8Array(16 * 16 * 3).fill(255), 1, 16)[0].codes[0];
  const codes = Array.from({ length: 64 }, (_, i) => (i < 21 ? (i * 37) % vq.numCodes : -1));
  const px = r.render(codes, { height: 8, width: 8 });
  const full = vq.decode([{ height: 8, width: 8, codes: codes.map((c) => (c >= 0 ? c : blank)) }])[0].pixels;
  const at = (y: number, x: number) => (y * 32 + x) * 3;
  // code 0 sits at patch (0,0), code 20 at patch (2,4): decoded; patch (2,5) and the last are pending
  for (const [y, x] of [[0, 0], [3, 3], [9, 17], [11, 19]]) expect(Array.from(px.subarray(at(y, x), at(y, x) + 3))).toEqual(Array.from(full.subarray(at(y, x), at(y, x) + 3)));
  for (const [y, x] of [[8, 20], [31, 31]]) expect(Array.from(px.subarray(at(y, x), at(y, x) + 3))).toEqual(PENDING_RGB);
  expect(() => r.render([1, 2], { height: 8, width: 8 })).toThrow('render: 2 codes for a 8×8 grid');
  vq.dispose();
});
