/**
 * The expert-layer problem experts.test.ts and experts-frozen.test.ts share: N tokens of hidden size H, E
 * experts of I units, top-k, with random inputs and a skewed top-k choice (some experts get many tokens,
 * expert 5 none at all), and an upstream gradient dy.
 */
import { mulberry32 } from '../../kernel-lib/util/random';

export const N = 40;
export const H = 8;
export const E = 6;
export const I = 5;
export const k = 2;

/** Random inputs: x, weights, a top-k gate with its chosen experts, and dy [N, H]. */
export function problem(seed: number) {
  const rand = mulberry32(seed);
  const rnd = (n: number, s: number) => Float32Array.from({ length: n }, () => (rand() * 2 - 1) * s);
  const experts = new Int32Array(N * k);
  const gate = new Float32Array(N * E);
  for (let n = 0; n < N; n++) {
    // skewed choice so that some experts get many tokens and expert 5 none at all
    const chosen = new Set<number>();
    while (chosen.size < k) chosen.add(Math.floor(rand() * rand() * (E - 1)));
    let j = 0;
    for (const e of chosen) {
      experts[n * k + j++] = e;
      gate[n * E + e] = 0.1 + rand();
    }
  }
  return { x: rnd(N * H, 1), w13: rnd(H * 2 * E * I, 0.5), w2: rnd(E * I * H, 0.5), gate, experts, dy: rnd(N * H, 1) };
}
export type Problem = ReturnType<typeof problem>;
