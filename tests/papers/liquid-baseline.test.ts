/** liquid.modalCodeShare on hand-made code grids: the mode, its share, ties, and refusals. */
import { liquid } from '../../kernel-lib';

const grid = (codes: number[]) => ({ height: 2, width: 2, codes });

test('the most frequent code over every image and its share of all codes', () => {
  expect(liquid.modalCodeShare([grid([5, 5, 1, 2]), grid([5, 3, 3, 5])])).toEqual({ code: 5, share: 4 / 8, codes: 8 });
  expect(liquid.modalCodeShare([grid([7, 7, 7, 7])])).toEqual({ code: 7, share: 1, codes: 4 });
});

test('a tie goes to the smallest code', () => {
  expect(liquid.modalCodeShare([grid([9, 9, 4, 4])])).toEqual({ code: 4, share: 0.5, codes: 4 });
  expect(liquid.modalCodeShare([grid([4, 4, 9, 9])])).toEqual({ code: 4, share: 0.5, codes: 4 });
});

test('no codes, or a grid whose codes do not fill it, is an error', () => {
  expect(() => liquid.modalCodeShare([])).toThrow('liquid.modalCodeShare: no image codes to count (give at least one image with codes)');
  expect(() => liquid.modalCodeShare([grid([1, 2, 3, 4]), { height: 2, width: 2, codes: [1, 2, 3] }])).toThrow(
    'liquid.modalCodeShare: image 1 has 3 codes for a 2×2 grid',
  );
});
