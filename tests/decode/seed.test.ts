/** One seed rule (decode/seed.ts) in the library: integers in [0, 2^32); 2^32 used to wrap to seed 0's tokens. */
import { checkSeed, seedProblem } from '../../kernel-lib/decode/seed';
import { useBackend } from '../helpers/backend';
import { tinySession } from '../helpers/fixtures';

test('checkSeed and seedProblem', () => {
  expect(checkSeed(0)).toBe(0);
  expect(checkSeed(2 ** 32 - 1)).toBe(2 ** 32 - 1);
  expect(seedProblem(7)).toBeNull();
  expect(() => checkSeed(2 ** 32)).toThrow('seed must be an integer in [0, 2^32), got 4294967296');
  expect(() => checkSeed(-1, 'opts.seed')).toThrow('opts.seed must be an integer in [0, 2^32), got -1');
  expect(() => checkSeed(1.5)).toThrow('seed must be an integer in [0, 2^32), got 1.5');
  expect(() => checkSeed(NaN)).toThrow('seed must be an integer in [0, 2^32), got null');
  expect(() => checkSeed('3')).toThrow('seed must be an integer in [0, 2^32), got "3"');
  expect(() => checkSeed(Number('x'), '--seed', 'x')).toThrow("--seed must be an integer in [0, 2^32), got 'x'");
});

test('Session.generate refuses a seed outside [0, 2^32) before any compute, and takes the largest one', async () => {
  await useBackend();
  const s = await tinySession({ seed: 3 });
  try {
    for (const seed of [2 ** 32, -1, 0.5]) {
      expect(() => s.generate('a tiger', { seed, maxNewTokens: 2 })).toThrow(`seed must be an integer in [0, 2^32), got ${seed}`);
    }
    const steps = [];
    for await (const st of s.generate('a tiger', { seed: 2 ** 32 - 1, maxNewTokens: 2, temperature: 1 })) steps.push(st);
    expect(steps.length).toBeGreaterThan(0);
  } finally {
    s.dispose();
  }
});
