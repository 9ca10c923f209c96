/**
 * The two medians of util/stats.ts against a brute force that needs no sorting: median is the mean of the
 * two middle values for an even count, upperMedian the upper of them (always a sample, as step times are
 * reported); the input is left unsorted; none gives NaN.
 */
import { median, upperMedian } from '../../kernel-lib/util/stats';
import { mulberry32 } from '../../kernel-lib/util/random';

/** The k-th smallest value (0-based), found by counting the values below and at each one, without sorting. */
function kth(xs: readonly number[], k: number): number {
  return xs.find((x) => xs.filter((y) => y < x).length <= k && xs.filter((y) => y <= x).length > k) as number;
}

test('median and upperMedian against the k-th smallest, odd and even counts, ties, negative values', () => {
  const rand = mulberry32(3);
  for (let n = 1; n <= 12; n++) {
    const xs = Array.from({ length: n }, () => Math.round((rand() - 0.5) * 20)); // small integers: ties
    const copy = [...xs];
    const lo = kth(xs, (n - 1) >> 1);
    const hi = kth(xs, n >> 1);
    expect(median(xs)).toBe(n % 2 ? hi : (lo + hi) / 2);
    expect(upperMedian(xs)).toBe(hi);
    expect(xs).toEqual(copy);
  }
  expect(median([4, 1, 3, 2])).toBe(2.5);
  expect(upperMedian([4, 1, 3, 2])).toBe(3);
  expect(upperMedian([7])).toBe(7);
  expect(median([])).toBeNaN();
  expect(upperMedian([])).toBeNaN();
});
