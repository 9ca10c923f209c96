/**
 * The one rule for sampling seeds: an integer in [0, 2^32). The generator (mulberry32) keeps 32 bits, so a
 * larger or negative seed would silently wrap onto another seed's tokens (2^32 gave seed 0's output).
 * The library, the CLI's --seed and the widget's seed field all check with this.
 */

/** What a seed must be, for messages. */
export const SEED_RULE = 'an integer in [0, 2^32)';

/** Why `seed` is not a seed (`${name} must be … , got …`), or null when it is one. */
export function seedProblem(seed: unknown, name = 'seed', shown: string = JSON.stringify(seed) ?? String(seed)): string | null {
  const ok = typeof seed === 'number' && Number.isInteger(seed) && seed >= 0 && seed < 2 ** 32;
  return ok ? null : `${name} must be ${SEED_RULE}, got ${shown}`;
}

/** `seed` when it is a seed; else an Error naming `name`. */
export function checkSeed(seed: unknown, name = 'seed', shown?: string): number {
  const problem = seedProblem(seed, name, shown === undefined ? undefined : `'${shown}'`);
  if (problem) throw new Error(problem);
  return seed as number;
}
